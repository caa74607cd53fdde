/// An SSH failure. Compared by code; `message` carries libssh's text.
public struct SSHError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// TCP connect, key exchange or timeout: worth retrying.
        public static let connect = Code("connect")
        /// The host's key is not in known_hosts: refused until someone verifies it.
        public static let hostKeyUnknown = Code("host key unknown")
        /// The host's key differs from known_hosts or the pin: refused.
        public static let hostKeyChanged = Code("host key changed")
        /// The supervisor's key was not accepted.
        public static let authentication = Code("authentication")
        /// Opening the channel or running the command failed.
        public static let channel = Code("channel")
        /// Reading or writing an open channel failed.
        public static let io = Code("io")
        /// The remote side closed the channel.
        public static let closed = Code("closed")

        public var description: String { name }
    }

    public let code: Code
    public let message: String
    /// What the failing libssh call returned (`SSH_ERROR` -1, `SSH_AGAIN` -2, `SSH_EOF` -127, an
    /// `ssh_auth_e` or `ssh_known_hosts_e` value…), when a libssh call failed; nil otherwise.
    public let libsshCode: Int32?

    public init(_ code: Code, _ message: String, libsshCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.libsshCode = libsshCode
    }

    /// Whether retrying later may succeed without someone changing configuration.
    public var isTransient: Bool {
        code != .hostKeyUnknown && code != .hostKeyChanged
    }

    public var description: String { message }

    public static func == (lhs: SSHError, rhs: SSHError) -> Bool { lhs.code == rhs.code }
}
