public import BosunPolicy
import FoundationEssentials

/// Timing of the supervisor's host links.
public struct LinkSettings: Sendable, Equatable {
    /// libssh connect timeout, seconds.
    public var connectTimeout: Double = 10
    /// Interval between protocol pings on an idle link, seconds.
    public var keepaliveInterval: Double = 10
    /// A link with no traffic for this long is dropped and reconnected, seconds.
    public var keepaliveTimeout: Double = 30
    /// First reconnect delay, seconds; doubles per failure up to `backoffMax`.
    public var backoffInitial: Double = 0.5
    public var backoffMax: Double = 30
    /// Requests one host may have waiting for a person; more are denied at once.
    public var maxPendingRequests = 100
    /// Sustained messages per second one host may send (bursts up to 5×); more drop the link.
    public var maxMessagesPerSecond = 500
    /// SSH handshakes in flight at once (each costs CPU on both ends).
    public var maxConcurrentConnects = 16
    /// What one host may have stored: threads, requests, outcomes (events) and bytes. Beyond a
    /// bound the host's oldest finished state is forgotten (exited threads, decided requests, old
    /// outcomes); what cannot make room is dropped, counted and shown in `hosts`.
    public var maxThreadsPerHost = 2000
    public var maxRequestsPerHost = 20000
    public var maxOutcomesPerHost = 20000
    public var maxBytesPerHost = 256 << 20

    public init() {}
}

/// Where and how often the audit chain's head is written down outside the database.
public struct AuditSettings: Sendable, Equatable {
    /// Signed checkpoints are appended here; `audit verify` checks the chain against them.
    public var checkpointFile: String
    /// Seconds between checkpoints (written only when the chain grew).
    public var checkpointInterval: Double = 60

    public init(checkpointFile: String) {
        self.checkpointFile = checkpointFile
    }
}

/// Everything `bosund` reads at start: `bosund.toml` and `hosts/*.toml` under one directory.
public struct SupervisorConfig: Sendable, Equatable {
    public var directory: String
    public var stateDir: String
    public var socket: String
    /// Group owning the control socket (mode 0660): the local accounts that may reach bosund.
    public var socketGroup = "bosun"
    /// Local accounts that may act as any operator on the socket (`bosun shell --operator NAME`,
    /// the OpenSSH forced-command front door), besides root and bosund's own account.
    public var socketTrustedUsers: [String] = []
    public var identity: String
    public var knownHosts: String
    public var links: LinkSettings
    public var audit: AuditSettings
    public var hosts: [HostConfig]
    /// Every `policies/*.toml`, merged in name order.
    public var policy: Policy
    /// Every `operators/*.toml`.
    public var operators: [OperatorConfig] = []
    /// The SSH front door; nil when `[front_door]` is absent.
    public var frontDoor: FrontDoorConfig?
    /// Notification targets (`[[notify]]` tables), in file order.
    public var notify: [NotifyConfig] = []

    public static let defaultDirectory = "/etc/bosun"

    public init(
        directory: String, stateDir: String, socket: String, identity: String, knownHosts: String,
        links: LinkSettings = LinkSettings(), hosts: [HostConfig] = [], policy: Policy = .empty
    ) {
        self.directory = directory
        self.stateDir = stateDir
        self.socket = socket
        self.identity = identity
        self.knownHosts = knownHosts
        self.links = links
        self.audit = AuditSettings(checkpointFile: Paths.join(stateDir, "audit-checkpoints"))
        self.hosts = hosts
        self.policy = policy
    }

    public var databasePath: String { Paths.join(stateDir, "bosun.db") }
}

extension SupervisorConfig {
    /// Loads `DIR/bosund.toml` (optional: defaults apply) and every `DIR/hosts/*.toml`.
    public static func load(directory: String) throws(ConfigError) -> SupervisorConfig {
        let fm = FileManager.default
        var isDirectory = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory else {
            throw ConfigError(file: directory, key: nil, message: "configuration directory does not exist")
        }
        let mainFile = Paths.join(directory, "bosund.toml")
        var config: SupervisorConfig
        if fm.fileExists(atPath: mainFile) {
            config = try parseMain(try read(mainFile), file: mainFile, directory: directory)
        } else {
            config = try parseMain("", file: mainFile, directory: directory)
        }
        config.hosts = try loadHosts(directory: Paths.join(directory, "hosts"))
        config.policy = try Policy.load(directory: Paths.join(directory, "policies"))
        config.operators = try OperatorConfig.loadAll(
            directory: Paths.join(directory, "operators"))
        return config
    }

    /// Parses the text of `bosund.toml`; relative paths resolve against `directory`.
    public static func parseMain(_ text: String, file: String, directory: String) throws(ConfigError)
        -> SupervisorConfig
    {
        var reader = TableReader(file: file, table: try ConfigValue.parseTOML(text, file: file))
        let stateDir = Paths.resolve(try reader.string("state_dir") ?? "/var/lib/bosun", relativeTo: directory)
        let socket = Paths.resolve(try reader.string("socket") ?? "/run/bosun/bosund.sock", relativeTo: directory)
        guard socket.utf8.count < 108 else {
            throw reader.error(
                "socket", "expected a path shorter than 108 bytes (a Unix socket limit), found \(socket.utf8.count)")
        }
        let socketGroup = try reader.string("socket_group") ?? "bosun"
        let socketTrustedUsers = try reader.stringArray("socket_trusted_users") ?? []
        let identity = Paths.resolve(
            try reader.string("identity") ?? Paths.join(stateDir, "id_ed25519"),
            relativeTo: directory)
        let knownHosts = Paths.resolve(
            try reader.string("known_hosts") ?? Paths.join(stateDir, "known_hosts"),
            relativeTo: directory)
        var links = LinkSettings()
        if var table = try reader.table("links") {
            links.connectTimeout = try table.seconds("connect_timeout", in: 0.1...300) ?? links.connectTimeout
            links.keepaliveInterval = try table.seconds("keepalive_interval", in: 0.1...3600) ?? links.keepaliveInterval
            links.keepaliveTimeout = try table.seconds("keepalive_timeout", in: 0.2...7200) ?? links.keepaliveTimeout
            links.backoffInitial = try table.seconds("backoff_initial", in: 0.01...600) ?? links.backoffInitial
            links.backoffMax = try table.seconds("backoff_max", in: 0.01...86400) ?? links.backoffMax
            links.maxPendingRequests =
                try table.integer("max_pending_requests", in: 1...100_000) ?? links.maxPendingRequests
            links.maxMessagesPerSecond =
                try table.integer("max_messages_per_second", in: 1...1_000_000) ?? links.maxMessagesPerSecond
            links.maxConcurrentConnects =
                try table.integer("max_concurrent_connects", in: 1...10_000) ?? links.maxConcurrentConnects
            links.maxThreadsPerHost =
                try table.integer("max_threads_per_host", in: 1...10_000_000) ?? links.maxThreadsPerHost
            links.maxRequestsPerHost =
                try table.integer("max_requests_per_host", in: 1...100_000_000) ?? links.maxRequestsPerHost
            links.maxOutcomesPerHost =
                try table.integer("max_outcomes_per_host", in: 1...100_000_000) ?? links.maxOutcomesPerHost
            links.maxBytesPerHost =
                try table.integer("max_bytes_per_host", in: (1 << 20)...(1 << 42)) ?? links.maxBytesPerHost
            try table.rejectUnknownKeys()
            guard links.keepaliveTimeout > links.keepaliveInterval else {
                throw table.error("keepalive_timeout", "expected a value greater than keepalive_interval")
            }
            guard links.maxRequestsPerHost > links.maxPendingRequests else {
                throw table.error("max_requests_per_host", "expected a value greater than max_pending_requests")
            }
            guard links.backoffMax >= links.backoffInitial else {
                throw table.error("backoff_max", "expected a value at least backoff_initial")
            }
        }
        var frontDoor: FrontDoorConfig?
        if var table = try reader.table("front_door") {
            let listen = try table.string("listen") ?? "127.0.0.1:2222"
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
                (0...65535).contains(port), colon != listen.startIndex
            else {
                throw table.error("listen", "expected \"ADDRESS:PORT\" such as \"127.0.0.1:2222\", found \"\(listen)\"")
            }
            var door = FrontDoorConfig(
                address: Self.trimmingBrackets(listen[..<colon]), port: port,
                hostKey: Paths.resolve(
                    try table.string("host_key") ?? Paths.join(stateDir, "front_door_ed25519"),
                    relativeTo: directory),
                idleTimeout: try table.seconds("idle_timeout", in: 1...86400) ?? 900,
                maxAuthFailuresPerMinute: try table.integer("max_auth_failures_per_minute", in: 1...10000) ?? 20)
            door.loginGraceTime = try table.seconds("login_grace_time", in: 1...600) ?? door.loginGraceTime
            door.maxConnections = try table.integer("max_connections", in: 1...100_000) ?? door.maxConnections
            door.maxUnauthenticated =
                try table.integer("max_unauthenticated", in: 1...100_000)
                ?? min(door.maxUnauthenticated, door.maxConnections)
            door.maxConnectionsPerAddress =
                try table.integer("max_connections_per_address", in: 1...100_000) ?? door.maxConnectionsPerAddress
            guard door.maxUnauthenticated <= door.maxConnections else {
                throw table.error(
                    "max_unauthenticated",
                    "expected at most max_connections (\(door.maxConnections)), found \(door.maxUnauthenticated)")
            }
            frontDoor = door
            try table.rejectUnknownKeys()
        }
        var audit = AuditSettings(checkpointFile: Paths.join(stateDir, "audit-checkpoints"))
        if var table = try reader.table("audit") {
            audit.checkpointFile = Paths.resolve(
                try table.string("checkpoint_file") ?? audit.checkpointFile, relativeTo: directory)
            audit.checkpointInterval =
                try table.seconds("checkpoint_interval", in: 1...86400) ?? audit.checkpointInterval
            try table.rejectUnknownKeys()
        }
        let notify = try NotifyConfig.parseAll(&reader)
        try reader.rejectUnknownKeys()
        var config = SupervisorConfig(
            directory: directory, stateDir: stateDir, socket: socket, identity: identity, knownHosts: knownHosts,
            links: links)
        config.audit = audit
        config.frontDoor = frontDoor
        config.notify = notify
        config.socketGroup = socketGroup
        config.socketTrustedUsers = socketTrustedUsers
        return config
    }

    /// Loads every `*.toml` in `hosts/`, in name order; a missing directory means no hosts.
    public static func loadHosts(directory: String) throws(ConfigError) -> [HostConfig] {
        var problems: [ConfigError] = []
        let hosts = loadHosts(directory: directory, problems: &problems)
        if let first = problems.first { throw first }
        return hosts
    }

    /// Loads every host file it can; each file's problem is appended to `problems` (all of them, not
    /// only the first), and that file is left out.
    public static func loadHosts(directory: String, problems: inout [ConfigError]) -> [HostConfig] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else { return [] }
        var hosts: [HostConfig] = []
        var seen: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".toml") {
            let file = Paths.join(directory, name)
            do throws(ConfigError) {
                let host = try HostConfig.parse(
                    try read(file), file: file, directory: Paths.parent(directory),
                    defaultUser: currentUserName())
                if let other = seen[host.name] {
                    throw ConfigError(
                        file: file, key: "name", message: "duplicate host name \"\(host.name)\" (also in \(other))")
                }
                seen[host.name] = file
                hosts.append(host)
            } catch {
                problems.append(error)
            }
        }
        return hosts
    }

    static func read(_ file: String) throws(ConfigError) -> String {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError(file: file, key: nil, message: "cannot read file")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ConfigError(file: file, key: nil, message: "expected UTF-8 text")
        }
        return text
    }

    /// Without leading and trailing `[` and `]` (an IPv6 address as `[::1]`).
    static func trimmingBrackets(_ text: Substring) -> String {
        var address = text.unicodeScalars[...]
        while let first = address.first, first == "[" || first == "]" { address = address.dropFirst() }
        while let last = address.last, last == "[" || last == "]" { address = address.dropLast() }
        return String(String.UnicodeScalarView(address))
    }

    static func currentUserName() -> String {
        ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName
    }
}
