import Foundation

/// Host protocol v1 (ARCHITECTURE.md §3): one JSON object per line,
/// `{"v":1,"type":"…","seq":N,…}` over the exec channel between `bosund` and `bosun-host serve`.
///
/// Numbered messages (`seq > 0`) are acknowledged by an `ack` carrying the same `seq`; acks, pings and
/// pongs travel unnumbered (`seq` 0 on ping/pong, the acknowledged number on an ack).
public enum HostProtocol {
    public static let version = 1
    /// Longest accepted line, newline excluded.
    public static let maxLineBytes = 1 << 20
}

/// Sent by the host right after `serve` starts.
public struct Hello: Codable, Sendable, Equatable {
    public var hostVersion: String
    public var hostname: String
    public var bootID: String
    public var capabilities: [String]

    public init(hostVersion: String, hostname: String, bootID: String, capabilities: [String]) {
        self.hostVersion = hostVersion
        self.hostname = hostname
        self.bootID = bootID
        self.capabilities = capabilities
    }

    enum CodingKeys: String, CodingKey {
        case hostname, capabilities
        case hostVersion = "host_version"
        case bootID = "boot_id"
    }
}

/// Sent by the supervisor in answer to `hello`.
public struct Welcome: Codable, Sendable, Equatable {
    public var supervisorVersion: String

    public init(supervisorVersion: String) {
        self.supervisorVersion = supervisorVersion
    }

    enum CodingKeys: String, CodingKey {
        case supervisorVersion = "supervisor_version"
    }
}

/// A liveness probe; the answer carries the same nonce.
public struct Probe: Codable, Sendable, Equatable {
    public var nonce: UInt64

    public init(nonce: UInt64) {
        self.nonce = nonce
    }
}

/// Everything a host may say to the supervisor.
public enum HostMessage: Sendable, Equatable {
    case hello(Hello)
    case thread(AgentThread)
    case ack(UInt64)
    case pong(Probe)
}

/// Everything the supervisor may say to a host.
public enum SupervisorMessage: Sendable, Equatable {
    case welcome(Welcome)
    case ack(UInt64)
    case ping(Probe)
}

/// A message with its sequence number.
public struct Envelope<Message: Sendable & Equatable>: Sendable, Equatable {
    public var seq: UInt64
    public var message: Message

    public init(seq: UInt64, _ message: Message) {
        self.seq = seq
        self.message = message
    }
}
