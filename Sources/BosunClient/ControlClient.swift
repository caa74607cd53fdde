public import BosunCore
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Why a control request got no complete answer; `status` is the exit status the CLI uses.
public struct ControlClientError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public var status: Int32

    public init(_ description: String, status: Int32) {
        self.description = description
        self.status = status
    }
}

/// The local side of the control API: connects to bosund's Unix socket, sends one request line and
/// streams the answer (see `ControlProtocol`). Never opens the database or SSHes.
public struct ControlClient: Sendable {
    public var path: String

    public init(path: String) {
        self.path = path
    }

    /// Sends `request` and copies the answer to stdout and stderr as it arrives; returns the exit
    /// status (bosund's, or 69 when it cannot be reached, 130 when `interrupt` saw Ctrl-C).
    ///
    /// With `interrupt` (a raw-mode terminal's descriptor), a Ctrl-C typed while the command runs
    /// closes the connection (stopping a streaming command) instead of waiting for the end.
    public func run(_ request: ControlRequest, interrupt: Int32? = nil) -> Int32 {
        do {
            return try exchange(request, interrupt: interrupt) { reply, raw in
                if let raw { FileDescriptor.writeAll(STDOUT_FILENO, raw) }
                if let text = reply?.stdout { FileDescriptor.writeAll(STDOUT_FILENO, Array(text.utf8)) }
                if let text = reply?.stderr { FileDescriptor.writeAll(STDERR_FILENO, Array(text.utf8)) }
                return true
            }
        } catch {
            if error.status == 130 {
                FileDescriptor.writeAll(STDOUT_FILENO, Array("^C\n".utf8))
                return 130
            }
            return fail(error.description, status: error.status)
        }
    }

    /// Sends `request` and returns its whole stdout and exit status (for completion candidates).
    public func collect(_ request: ControlRequest) throws(ControlClientError) -> (stdout: String, exit: Int32) {
        var bytes: [UInt8] = []
        let limit = 1 << 20
        let exit = try exchange(request, interrupt: nil) { reply, raw in
            if let raw { bytes.append(contentsOf: raw) }
            if let text = reply?.stdout { bytes += Array(text.utf8) }
            return bytes.count <= limit
        }
        return (String(decoding: bytes, as: UTF8.self), exit)
    }

    /// Sends `request` and hands each complete stdout line to `line` until it returns false, the
    /// answer ends, or `stop` shuts the connection down (for the prompt's feed).
    public func stream(
        _ request: ControlRequest, connection: ClientConnection, line: (Substring) -> Bool
    ) throws(ControlClientError) -> Int32 {
        var pending = ""
        return try exchange(request, interrupt: nil, connection: connection) { reply, raw in
            if let raw { pending += String(decoding: raw, as: UTF8.self) }
            if let text = reply?.stdout { pending += text }
            while let newline = pending.firstIndex(of: "\n") {
                let text = pending[..<newline]
                pending = String(pending[pending.index(after: newline)...])
                if !line(text) { return false }
            }
            return pending.utf8.count <= 64 * 1024
        }
    }

    /// The request/answer exchange. `deliver` gets each reply (or raw stdout bytes) and returns
    /// false to stop reading.
    private func exchange(
        _ request: ControlRequest, interrupt: Int32?, connection existing: ClientConnection? = nil,
        deliver: (ControlReply?, UnsafeRawBufferPointer?) -> Bool
    ) throws(ControlClientError) -> Int32 {
        let connection: ClientConnection
        if let given = existing {
            connection = given
        } else {
            connection = try ClientConnection(path: path)
        }
        defer { connection.close() }
        try connection.connect()
        guard var line = try? JSONEncoder().encode(request) else {
            throw ControlClientError("cannot encode the request", status: ExitStatus.failure)
        }
        line.append(0x0A)
        guard UnixSocket.sendAll(connection.descriptor, Array(line)) else {
            throw ControlClientError("bosund closed the connection: \(errnoText())", status: ExitStatus.unavailable)
        }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        let decoder = JSONDecoder()
        var rawRemaining = 0
        var finalExit: Int32?
        var watchInput = interrupt != nil
        while true {
            if let interrupt, watchInput {
                switch Self.waitForEither(connection.descriptor, interrupt) {
                case .second:
                    var typed = [UInt8](repeating: 0, count: 256)
                    let n = read(interrupt, &typed, typed.count)
                    if n <= 0 {
                        watchInput = false
                    } else if typed[0..<n].contains(0x03) {
                        throw ControlClientError("interrupted", status: 130)
                    }
                    continue
                case .first, .failed:
                    break
                }
            }
            let n = read(connection.descriptor, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                if connection.isShutDown { return finalExit ?? ExitStatus.ok }
                throw ControlClientError(
                    "bosund closed the connection before answering", status: ExitStatus.unavailable)
            }
            // Raw stdout (a large listing) goes on straight from the read buffer, not copied
            // through `pending`.
            var start = 0
            if rawRemaining > 0 && pending.isEmpty {
                let count = min(rawRemaining, n)
                let more = buffer.withUnsafeBytes { deliver(nil, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                guard more else { return finalExit ?? 0 }
                rawRemaining -= count
                start = count
            }
            pending.append(contentsOf: buffer[start..<n])
            var consumed = 0
            while true {
                if rawRemaining > 0 {
                    let count = min(rawRemaining, pending.count - consumed)
                    if count > 0 {
                        let more = pending.withUnsafeBytes {
                            deliver(nil, UnsafeRawBufferPointer(rebasing: $0[consumed..<consumed + count]))
                        }
                        guard more else { return finalExit ?? 0 }
                    }
                    rawRemaining -= count
                    consumed += count
                    if rawRemaining > 0 { break }
                }
                guard let newline = pending[consumed...].firstIndex(of: 0x0A) else { break }
                let line = pending[consumed..<newline]
                consumed = newline + 1
                guard let reply = try? decoder.decode(ControlReply.self, from: Data(line)) else {
                    throw ControlClientError("unreadable answer from bosund", status: ExitStatus.failure)
                }
                guard deliver(reply, nil) else { return reply.exit ?? finalExit ?? 0 }
                rawRemaining = max(0, reply.stdoutBytes ?? 0)
                if let exit = reply.exit, rawRemaining == 0 { return exit }
                if let exit = reply.exit { finalExit = exit }
            }
            pending.removeFirst(consumed)
            if let finalExit, rawRemaining == 0 { return finalExit }
        }
    }

    private enum Ready { case first, second, failed }

    /// Waits until one of two descriptors is readable (or hung up).
    private static func waitForEither(_ first: Int32, _ second: Int32) -> Ready {
        var fds = [
            pollfd(fd: first, events: Int16(POLLIN), revents: 0), pollfd(fd: second, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let n = poll(&fds, 2, -1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return .failed }
            if fds[0].revents != 0 { return .first }
            return .second
        }
    }
}

/// One connection to the control socket; `shutDown()` (from any thread) ends a streaming read.
public final class ClientConnection: @unchecked Sendable {
    let path: String
    private struct State {
        var fd: Int32 = -1
        var shutDownRequested = false
    }
    private let state = Mutex(State())

    public init(path: String) throws(ControlClientError) {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw ControlClientError("cannot create a socket: \(errnoText())", status: ExitStatus.unavailable)
        }
        state.withLock { $0.fd = fd }
    }

    var descriptor: Int32 { state.withLock { $0.fd } }
    var isShutDown: Bool { state.withLock { $0.shutDownRequested } }

    func connect() throws(ControlClientError) {
        guard var address = UnixSocket.address(path) else {
            throw ControlClientError("socket path too long: \(path)", status: ExitStatus.usage)
        }
        let descriptor = descriptor
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            throw ControlClientError(
                "bosund is not running (cannot connect to \(path): \(errnoText())). Start it (systemctl start bosund) or point --socket / BOSUN_SOCKET at it.",
                status: ExitStatus.unavailable)
        }
    }

    /// Ends the exchange: a blocked read returns end of file.
    public func shutDown() {
        state.withLock { state in
            state.shutDownRequested = true
            if state.fd >= 0 { shutdown(state.fd, Int32(SHUT_RDWR)) }
        }
    }

    func close() {
        state.withLock { state in
            if state.fd >= 0 { Glibc.close(state.fd) }
            state.fd = -1
        }
    }

    deinit { close() }
}

func errnoText() -> String { String(cString: strerror(errno)) }

/// Prints `bosun: message` on stderr and returns `status`.
public func fail(_ message: String, status: Int32) -> Int32 {
    FileDescriptor.writeAll(STDERR_FILENO, Array("bosun: \(message)\n".utf8))
    return status
}
