/// One logged-in SSH session as the delegate sees it: who, what they asked to run, and their terminal.
///
/// Use it only from the thread `FrontDoorDelegate.run` was called on; every call may block on the network.
public final class FrontDoorSession {
    private let connection: FrontDoorConnection
    public let peer: FrontDoorPeer
    /// The exec request's command line; nil for an interactive shell.
    public let command: String?

    init(connection: FrontDoorConnection, peer: FrontDoorPeer, command: String?) {
        self.connection = connection
        self.peer = peer
        self.command = command
    }

    /// The client's terminal when it asked for one (`ssh -t`), with its current size.
    public var pty: FrontDoorPTY? { connection.pty }

    /// Whether the client went away, the session idled out or the server is stopping; writes are dropped then.
    public var isClosed: Bool { connection.isClosed }

    /// Writes to the client's stdout; with a PTY, a bare "\n" becomes "\r\n".
    public func write(_ text: String) {
        connection.writeBytes(encode(text), stderr: false)
    }

    /// Writes to the client's stderr; with a PTY (one stream) it goes to stdout.
    public func writeError(_ text: String) {
        connection.writeBytes(encode(text), stderr: pty == nil)
    }

    /// Waits up to `timeoutMs` milliseconds (negative: until the idle timeout) for client input.
    ///
    /// Returns `.eof` once the client closed its input or the channel, after the idle timeout (having
    /// told the client "idle timeout, closing"), or when the server is stopping.
    public func read(timeoutMs: Int32) -> FrontDoorInput {
        connection.read(timeoutMs: timeoutMs)
    }

    /// A closure that makes a `read` blocked on the session's thread return `.timeout` now (or the
    /// next one, if none is blocked). Safe to call from any thread, unlike the rest of the session.
    public var waker: @Sendable () -> Void {
        let connection = self.connection
        return { connection.wakeReader() }
    }

    /// Waits like `read(timeoutMs:)`, and also returns `.timeout` as soon as `wakeDescriptor` is
    /// readable (another thread has something for this session); the caller empties it. The end of
    /// the client's input is not `.eof` here: only the client leaving, the idle timeout or the
    /// server stopping are (a command runs to its end when `ssh -t` had nothing on its stdin).
    public func read(timeoutMs: Int32, wakingOn wakeDescriptor: Int32) -> FrontDoorInput {
        connection.read(timeoutMs: timeoutMs, wakingOn: wakeDescriptor)
    }

    private func encode(_ text: String) -> [UInt8] {
        guard pty != nil else { return Array(text.utf8) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 16)
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte == 0x0A && previous != 0x0D { bytes.append(0x0D) }
            bytes.append(byte)
            previous = byte
        }
        return bytes
    }
}
