import Foundation

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
            && name.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)
            }
            && name.unicodeScalars.allSatisfy(\.isASCII)
    }
}

extension HostConfig {
    /// Parses one host file. `directory` resolves a relative `identity`.
    public static func parse(
        _ text: String, file: String, directory: String, defaultUser: String
    ) throws(ConfigError) -> HostConfig {
        var reader = TableReader(file: file, table: try ConfigValue.parseTOML(text, file: file))
        let fileName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
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
        if path.hasPrefix("~/") { return NSHomeDirectory() + String(path.dropFirst(1)) }
        return (directory as NSString).appendingPathComponent(path)
    }
}
