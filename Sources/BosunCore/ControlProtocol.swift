/// The local control API between `bosun` and `bosund` over a Unix socket: the client sends one
/// request line, the daemon answers with reply lines, the last one carrying `exit`. A reply with
/// `stdout_bytes: N` is followed by exactly N raw bytes of stdout (large listings skip JSON escaping).
public enum ControlProtocol {
    public static let version = 1
    public static let defaultSocket = "/run/bosun/bosund.sock"
}

/// One command line to run in the daemon's shell.
public struct ControlRequest: Codable, Sendable, Equatable {
    public var v: Int
    public var argv: [String]
    /// The client's terminal width, for tables; nil when not a terminal.
    public var width: Int?
    /// An operator identity asserted by a trusted caller (OpenSSH forced command running
    /// `bosun shell --operator NAME --channel C`); honoured only for root, bosund's own account and
    /// `socket_trusted_users`.
    public var `operator`: String?
    public var channel: String?

    public init(argv: [String], width: Int? = nil, operator: String? = nil, channel: String? = nil) {
        self.v = ControlProtocol.version
        self.argv = argv
        self.width = width
        self.operator = `operator`
        self.channel = channel
    }

    /// Widths a terminal can report (`ws_col` is 16 bits); anything else is refused at decode, so
    /// no table or help renderer ever computes with a client's out-of-range number.
    public static let widths = 0...65_535

    enum CodingKeys: String, CodingKey { case v, argv, width, `operator`, channel }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        v = try container.decode(Int.self, forKey: .v)
        argv = try container.decode([String].self, forKey: .argv)
        width = try container.decodeIfPresent(Int.self, forKey: .width)
        `operator` = try container.decodeIfPresent(String.self, forKey: .operator)
        channel = try container.decodeIfPresent(String.self, forKey: .channel)
        if let width, !Self.widths.contains(width) {
            throw DecodingError.dataCorruptedError(
                forKey: .width, in: container, debugDescription: "width \(width) is outside \(Self.widths)")
        }
    }
}

/// A piece of the answer: text for stdout or stderr, and, last, the exit status.
public struct ControlReply: Codable, Sendable, Equatable {
    public var v: Int
    public var stdout: String?
    public var stderr: String?
    public var exit: Int32?
    /// When set, this many raw stdout bytes follow the line.
    public var stdoutBytes: Int?

    public init(stdout: String? = nil, stderr: String? = nil, exit: Int32? = nil, stdoutBytes: Int? = nil) {
        self.v = ControlProtocol.version
        self.stdout = stdout
        self.stderr = stderr
        self.exit = exit
        self.stdoutBytes = stdoutBytes
    }

    enum CodingKeys: String, CodingKey {
        case v, stdout, stderr, exit
        case stdoutBytes = "stdout_bytes"
    }
}

/// Exit statuses shared by `bosun`, one-shot SSH commands and the shell.
public enum ExitStatus {
    public static let ok: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 2
    /// The answer is complete as far as known, but some hosts are unreachable (listing marked stale).
    public static let partial: Int32 = 3
    /// The caller's role or channel may not run this command.
    public static let forbidden: Int32 = 77
    /// The daemon could not be reached.
    public static let unavailable: Int32 = 69
    /// Configuration error (bosund at start, `bosun check`): EX_CONFIG.
    public static let configuration: Int32 = 78
}
