import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// One supervised host, from `hosts/NAME.toml`.
public struct HostConfig: Sendable, Equatable {
    /// Unique name; defaults to the file name. Letters, digits, `.`, `_`, `-`.
    public var name: String
    public var address: String
    public var port: Int
    public var user: String
    /// Private key for this host; the supervisor's `identity` when absent.
    public var identity: String?
    public var labels: [String: String]
    /// What the supervisor runs on the host's exec channel.
    public var command: String
    /// Optional pin (`SHA256:…`); when set it replaces the known_hosts check for this host.
    public var hostKey: String?
    /// The file this host came from, for messages.
    public var file: String

    public static let defaultCommand = "bosun-host serve"

    public init(
        name: String, address: String, port: Int = 22, user: String, identity: String? = nil,
        labels: [String: String] = [:], command: String = HostConfig.defaultCommand, hostKey: String? = nil,
        file: String = ""
    ) {
        self.name = name
        self.address = address
        self.port = port
        self.user = user
        self.identity = identity
        self.labels = labels
        self.command = command
        self.hostKey = hostKey
        self.file = file
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.utf8.allSatisfy { byte in
                // ASCII only, so Foundation's `CharacterSet.alphanumerics` is the ASCII letters and digits.
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }
}

extension HostConfig {
    /// Parses one host file. `directory` resolves a relative `identity`.
    public static func parse(
        _ text: String, file: String, directory: String, defaultUser: String
    ) throws(ConfigError) -> HostConfig {
        var reader = TableReader(file: file, table: try ConfigValue.parseTOML(text, file: file))
        let fileName = Paths.deletingExtension(Paths.lastComponent(file))
        let name = try reader.string("name") ?? fileName
        guard isValidName(name) else {
            throw reader.error("name", "expected letters, digits, '.', '_' or '-' (at most 64), found \"\(name)\"")
        }
        guard let address = try reader.string("address") else {
            throw reader.error("address", "missing; expected the host's address, e.g. address = \"10.0.0.5\"")
        }
        let port = try reader.integer("port", in: 1...65535) ?? 22
        let user = try reader.string("user") ?? defaultUser
        let identity = try reader.string("identity").map { Paths.resolve($0, relativeTo: directory) }
        let labels = try reader.stringTable("labels") ?? [:]
        let command = try reader.string("command") ?? defaultCommand
        let hostKey = try reader.string("host_key")
        if let hostKey, !hostKey.hasPrefix("SHA256:") || hostKey.count < 20 {
            throw reader.error("host_key", "expected a SHA256 fingerprint like \"SHA256:abc…\", found \"\(hostKey)\"")
        }
        try reader.rejectUnknownKeys()
        return HostConfig(
            name: name, address: address, port: port, user: user, identity: identity, labels: labels,
            command: command, hostKey: hostKey, file: file)
    }
}

/// Path helpers shared by the loaders.
public enum Paths {
    public static func resolve(_ path: String, relativeTo directory: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("~/") { return home() + String(path.dropFirst(1)) }
        return join(directory, path)
    }

    /// The home directory: `HOME`, else the password database's (as Foundation's `NSHomeDirectory`).
    static func home() -> String {
        if let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty { return home }
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir {
            let path = String(cString: directory)
            if !path.isEmpty { return path }
        }
        return "/"
    }

    /// `component` after `directory` and one `/` (NSString's `appendingPathComponent`: an empty side
    /// gives the other, a directory ending in `/` gets no second one).
    public static func join(_ directory: String, _ component: String) -> String {
        if component.isEmpty { return directory }
        if directory.isEmpty { return component }
        return directory.hasSuffix("/") ? directory + component : directory + "/" + component
    }

    /// `path` without trailing slashes (the root stays `/`).
    private static func trimmingTrailingSlashes(_ path: String) -> Substring {
        var trimmed = Substring(path)
        while trimmed.utf8.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return trimmed
    }

    /// NSString's `lastPathComponent`: `/a/b/` → `b`, `/` → `/`.
    public static func lastComponent(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard trimmed != "/" else { return "/" }
        guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// NSString's `deletingLastPathComponent`: `/a/b` → `/a`, `/a` → `/`, `a` → ``.
    public static func parent(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard trimmed != "/" else { return "/" }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        var parent = trimmed[..<slash]
        while parent.utf8.count > 1 && parent.hasSuffix("/") { parent = parent.dropLast() }
        return parent.isEmpty ? "/" : String(parent)
    }

    /// NSString's `deletingPathExtension` of a file name: `a.toml` → `a`, `a.b.c` → `a.b`; a name
    /// whose only dot leads it (`.toml`) keeps it.
    public static func deletingExtension(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }
}
