import FoundationEssentials

/// Who runs a command on the control interface, through which channel, from where (ARCHITECTURE.md
/// §5: the operator). The store audits it as `operator:<name>` with its channel, key and source.
public struct Operator: Sendable, Equatable {
    public var name: String
    public var role: Role
    /// The operator's channel label (`desk`, `mobile`, `cli`…), checked against a tier's `approve_from`.
    public var channel: String
    /// The SSH key that identified the operator (front door), if any.
    public var keyFingerprint: String?
    /// Where the command came from: `ssh 203.0.113.5:50122`, `socket uid 1000`.
    public var source: String?

    public init(name: String, role: Role, channel: String, keyFingerprint: String? = nil, source: String? = nil) {
        self.name = name
        self.role = role
        self.channel = channel
        self.keyFingerprint = keyFingerprint
        self.source = source
    }
}
