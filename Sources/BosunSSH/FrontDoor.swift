import BosunCore
public import Foundation

/// How the SSH front door listens. Operators reach Bosun's shell with `ssh -p PORT name@supervisor`.
public struct FrontDoorSettings: Sendable {
    /// Address to bind; the default keeps the door on loopback.
    public var listenAddress: String
    /// TCP port; 0 picks a free one (read it back from `FrontDoorServer.boundPort`).
    public var port: Int
    /// The server's ed25519 private key (OpenSSH format). Generated with mode 0600 when missing and
    /// never regenerated, so known_hosts entries stay valid across restarts.
    public var hostKeyPath: String
    /// Seconds without input or output after which a session is closed.
    public var idleTimeout: Double
    /// Failed authentications per source address in a sliding minute before it is refused.
    public var maxAuthFailuresPerMinute: Int
    /// Seconds a client has from TCP connect to its shell or exec request.
    public var loginGraceTime: Double
    /// Connections served at once, logged in or not; a new one beyond it first evicts the oldest
    /// unauthenticated connection, and is refused only when every slot holds a logged-in session.
    public var maxConnections: Int
    /// Connections not (yet) logged in, across all addresses. The rest of `maxConnections` is kept for
    /// sessions that authenticated with a known key. Beyond it, the oldest unauthenticated connection of
    /// the address holding the most is dropped to make room.
    public var maxUnauthenticated: Int
    /// Unauthenticated connections from one source address; a new one beyond it drops that address's
    /// oldest, so a flood from one address only ever competes with itself.
    public var maxConnectionsPerAddress: Int

    public init(
        listenAddress: String = "127.0.0.1", port: Int, hostKeyPath: String, idleTimeout: Double = 900,
        maxAuthFailuresPerMinute: Int = 20, loginGraceTime: Double = 10, maxConnections: Int = 128,
        maxUnauthenticated: Int = 32, maxConnectionsPerAddress: Int = 10
    ) {
        self.listenAddress = listenAddress
        self.port = port
        self.hostKeyPath = hostKeyPath
        self.idleTimeout = idleTimeout
        self.maxAuthFailuresPerMinute = maxAuthFailuresPerMinute
        self.loginGraceTime = loginGraceTime
        self.maxConnections = maxConnections
        self.maxUnauthenticated = maxUnauthenticated
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
    }

    /// The login grace time for a connection accepted while unauthenticated connections use at least
    /// half their budget: a fifth of `loginGraceTime`, at least one second.
    public var loginGraceTimeUnderPressure: Double { min(loginGraceTime, max(1, loginGraceTime / 5)) }
}

/// A client's public key as it appears in an authorized_keys line, with its `ssh-keygen -l` fingerprint.
public struct FrontDoorKey: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Key type, for example `ssh-ed25519`.
    public var type: String
    /// The key blob in base64, as in authorized_keys.
    public var base64: String
    /// `SHA256:` followed by the unpadded base64 SHA-256 of the key blob.
    public var fingerprint: String

    public init(type: String, base64: String, fingerprint: String) {
        self.type = type
        self.base64 = base64
        self.fingerprint = fingerprint
    }

    /// Parses `type base64 [comment]` (an authorized_keys or `.pub` line); nil when it is not one.
    public init?(authorizedKey line: String) {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, let blob = Data(base64Encoded: String(fields[1])), blob.count >= 4 else {
            return nil
        }
        // The blob starts with the type as an SSH string; it must agree with the first field.
        let length = blob.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        guard length > 0, blob.count >= 4 + length,
            String(decoding: blob.dropFirst(4).prefix(length), as: UTF8.self) == String(fields[0])
        else { return nil }
        self.init(type: String(fields[0]), base64: String(fields[1]), fingerprint: Self.fingerprint(of: blob))
    }

    /// The `SHA256:…` fingerprint of a raw key blob.
    public static func fingerprint(of blob: Data) -> String {
        SHA256.sshFingerprint(blob)
    }

    /// The authorized_keys form: `type base64`.
    public var description: String { "\(type) \(base64)" }
}

/// Who is knocking: the user name the client asked for, its (signature-checked) key and its address.
public struct FrontDoorPeer: Sendable, Equatable {
    public var user: String
    public var key: FrontDoorKey
    /// `address:port` of the client, for example `127.0.0.1:54321`.
    public var address: String

    public init(user: String, key: FrontDoorKey, address: String) {
        self.user = user
        self.key = key
        self.address = address
    }
}

/// The terminal a client asked for with `pty-req`, kept current by `window-change`.
public struct FrontDoorPTY: Sendable, Equatable {
    public var term: String
    public var columns: Int
    public var rows: Int

    public init(term: String, columns: Int, rows: Int) {
        self.term = term
        self.columns = columns
        self.rows = rows
    }
}

/// What `FrontDoorSession.read(timeoutMs:)` found.
public enum FrontDoorInput: Sendable, Equatable {
    /// Bytes the client typed or piped.
    case data([UInt8])
    /// Nothing arrived within the timeout.
    case timeout
    /// The client closed its input or the channel, the session went idle too long, or the server is stopping.
    case eof
}

/// What the front door asks of Bosun: who may log in, and what a logged-in session runs.
///
/// Methods are called on the front door's own threads, never on the Swift concurrency pool.
public protocol FrontDoorDelegate: AnyObject, Sendable {
    /// Whether `peer` may log in. Called only for a key whose signature verified.
    func authorize(_ peer: FrontDoorPeer) -> Bool
    /// A refused login or a rate-limit hit, for the audit log. `key` is nil when none was presented.
    func authenticationFailed(user: String, key: FrontDoorKey?, address: String, reason: String)
    /// Serves one session on its own thread (blocking is fine); returns the exit status sent to the client.
    func run(_ session: FrontDoorSession) -> Int32
}
