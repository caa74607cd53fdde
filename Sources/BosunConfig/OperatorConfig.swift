public import BosunCore
import FoundationEssentials

/// One of an operator's SSH keys, with the channel it stands for (`desk`, `mobile`, …).
public struct OperatorKey: Sendable, Equatable {
    public var type: String
    public var base64: String
    public var comment: String?
    public var channel: String
    /// `SHA256:…` as `ssh-keygen -l` prints it.
    public var fingerprint: String

    /// Why a public key line was rejected.
    public struct FormatError: Error, Sendable, Equatable {
        public let message: String
    }

    /// Parses `"ssh-ed25519 AAAA… comment"`.
    public static func parse(_ line: String, channel: String) -> Result<OperatorKey, FormatError> {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 2 else {
            return .failure(FormatError(message: "expected \"<type> <base64> [comment]\""))
        }
        let known = [
            "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
            "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
        ]
        guard known.contains(parts[0]) else {
            return .failure(
                FormatError(
                    message: "unsupported key type \"\(parts[0])\" (expected one of \(known.joined(separator: ", ")))"))
        }
        guard let blob = Data(base64Encoded: parts[1]), blob.count >= 4 else {
            return .failure(FormatError(message: "the key's base64 does not decode"))
        }
        // The blob starts with its own type name; it must agree with the declared one.
        let length = blob.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        guard blob.count >= 4 + length, String(decoding: blob.dropFirst(4).prefix(length), as: UTF8.self) == parts[0]
        else { return .failure(FormatError(message: "the key's data is not a \(parts[0]) key")) }
        return .success(
            OperatorKey(
                type: parts[0], base64: parts[1], comment: parts.count > 2 ? parts[2...].joined(separator: " ") : nil,
                channel: channel, fingerprint: SHA256.sshFingerprint(blob)))
    }
}

/// A local account that acts as an operator on bosund's control socket (`[[socket]]` in
/// `operators/NAME.toml`), with the channel its commands count as.
public struct OperatorUnixUser: Sendable, Equatable {
    /// The account name, as `getpwuid` reports it for the socket peer's uid.
    public var user: String
    public var channel: String

    public init(user: String, channel: String) {
        self.user = user
        self.channel = channel
    }
}

/// One operator, from `operators/NAME.toml`. Identity comes from the key alone on the front door,
/// and from an explicit `[[socket]]` mapping of a local account on the control socket.
public struct OperatorConfig: Sendable, Equatable {
    public var name: String
    public var role: Role
    public var keys: [OperatorKey]
    public var unixUsers: [OperatorUnixUser]
    public var file: String

    public init(name: String, role: Role, keys: [OperatorKey], unixUsers: [OperatorUnixUser] = [], file: String = "") {
        self.name = name
        self.role = role
        self.keys = keys
        self.unixUsers = unixUsers
        self.file = file
    }
}

extension OperatorConfig {
    public static func parse(_ text: String, file: String) throws(ConfigError) -> OperatorConfig {
        var reader = TableReader(file: file, table: try ConfigValue.parseTOML(text, file: file))
        let fileName = Paths.deletingExtension(Paths.lastComponent(file))
        let name = try reader.string("name") ?? fileName
        guard HostConfig.isValidName(name) else {
            throw reader.error("name", "expected letters, digits, '.', '_' or '-' (at most 64), found \"\(name)\"")
        }
        guard let roleText = try reader.string("role") else {
            throw reader.error("role", "missing; expected one of viewer, operator, admin")
        }
        guard let role = Role(rawValue: roleText) else {
            throw reader.error("role", "expected one of viewer, operator, admin, found \"\(roleText)\"")
        }
        var keys: [OperatorKey] = []
        for var table in try reader.tableArray("key") ?? [] {
            guard let line = try table.string("public_key") else {
                throw table.error("public_key", "missing; expected \"ssh-ed25519 AAAA… comment\"")
            }
            guard let channel = try table.string("channel") else {
                throw table.error("channel", "missing; expected a channel label such as \"desk\" or \"mobile\"")
            }
            guard isValidChannel(channel) else {
                throw table.error("channel", "expected letters, digits, '-' or '_', found \"\(channel)\"")
            }
            switch OperatorKey.parse(line, channel: channel) {
            case .success(let key): keys.append(key)
            case .failure(let problem): throw table.error("public_key", problem.message)
            }
            try table.rejectUnknownKeys()
        }
        var unixUsers: [OperatorUnixUser] = []
        for var table in try reader.tableArray("socket") ?? [] {
            guard let user = try table.string("unix_user") else {
                throw table.error("unix_user", "missing; expected a local account name such as \"alice\"")
            }
            guard user.utf8.count <= 64, !user.contains(":"), !user.contains("/"), user.allSatisfy({ !$0.isWhitespace })
            else {
                throw table.error("unix_user", "expected a local account name, found \"\(user)\"")
            }
            let channel = try table.string("channel") ?? "cli"
            guard isValidChannel(channel) else {
                throw table.error("channel", "expected letters, digits, '-' or '_', found \"\(channel)\"")
            }
            unixUsers.append(OperatorUnixUser(user: user, channel: channel))
            try table.rejectUnknownKeys()
        }
        guard !keys.isEmpty || !unixUsers.isEmpty else {
            throw reader.error(
                "key", "missing; expected at least one [[key]] table (or a [[socket]] table mapping a local account)")
        }
        try reader.rejectUnknownKeys()
        return OperatorConfig(name: name, role: role, keys: keys, unixUsers: unixUsers, file: file)
    }

    static func isValidChannel(_ channel: String) -> Bool {
        channel.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    }

    /// Loads every `operators/*.toml`; a key, or a local account, may belong to one operator only.
    public static func loadAll(directory: String) throws(ConfigError) -> [OperatorConfig] {
        var problems: [ConfigError] = []
        let operators = loadAll(directory: directory, problems: &problems)
        if let first = problems.first { throw first }
        return operators
    }

    /// Loads every operator file it can; each file's problem is appended to `problems`, and that file
    /// is left out.
    public static func loadAll(directory: String, problems: inout [ConfigError]) -> [OperatorConfig] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var operators: [OperatorConfig] = []
        var keyOwners: [String: String] = [:]
        var userOwners: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".toml") {
            let file = Paths.join(directory, name)
            do throws(ConfigError) {
                let config = try parse(try SupervisorConfig.read(file), file: file)
                if operators.contains(where: { $0.name == config.name }) {
                    throw ConfigError(file: file, key: "name", message: "duplicate operator name \"\(config.name)\"")
                }
                var fingerprints: Set<String> = []
                for key in config.keys {
                    if let owner = keyOwners[key.fingerprint]
                        ?? (fingerprints.contains(key.fingerprint) ? config.name : nil)
                    {
                        throw ConfigError(
                            file: file, key: "key.public_key",
                            message: "key \(key.fingerprint) already belongs to operator \(owner)")
                    }
                    fingerprints.insert(key.fingerprint)
                }
                var mapped: Set<String> = []
                for mapping in config.unixUsers {
                    if let owner = userOwners[mapping.user] ?? (mapped.contains(mapping.user) ? config.name : nil) {
                        throw ConfigError(
                            file: file, key: "socket.unix_user",
                            message: "local account \"\(mapping.user)\" already belongs to operator \(owner)")
                    }
                    mapped.insert(mapping.user)
                }
                for key in config.keys { keyOwners[key.fingerprint] = config.name }
                for user in mapped { userOwners[user] = config.name }
                operators.append(config)
            } catch {
                problems.append(error)
            }
        }
        return operators
    }
}

/// The SSH front door (`[front_door]` in bosund.toml); off when absent.
public struct FrontDoorConfig: Sendable, Equatable {
    public var address: String
    public var port: Int
    public var hostKey: String
    public var idleTimeout: Double
    public var maxAuthFailuresPerMinute: Int
    /// Seconds from TCP connect to login (`login_grace_time`); shorter under a flood.
    public var loginGraceTime: Double = 10
    /// Connections at once, logged in or not (`max_connections`).
    public var maxConnections = 128
    /// Connections not yet logged in (`max_unauthenticated`); the rest is kept for known keys.
    public var maxUnauthenticated = 32
    /// Unauthenticated connections per source address (`max_connections_per_address`).
    public var maxConnectionsPerAddress = 10
}
