import BosunCore
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Who is on the other end of a control connection (from SO_PEERCRED).
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
}

/// A control-socket failure naming the path.
public struct ControlServerError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// Serves the control API on a Unix socket. Accepting and reading happen on dedicated threads
/// (blocking calls stay off the concurrency pool); each command runs as an async handler.
public final class ControlServer: @unchecked Sendable {
    /// Runs one request, emitting replies on the channel; the last one carries `exit`.
    public typealias Handler = @Sendable (ControlRequest, PeerCredentials, OutputChannel) async -> Void

    private let path: String
    /// Group given the socket (mode 0660); nil keeps bosund's own group.
    private let socketGroup: String?
    private let handler: Handler
    private let logger: Logger
    private var listener: Int32 = -1
    private let lock = NSLock()
    private var stopped = false
    private let acceptFinished = DispatchSemaphore(value: 0)

    /// Longest accepted request line.
    static let maxRequestBytes = 1 << 20

    public init(path: String, group: String? = nil, logger: Logger, handler: @escaping Handler) {
        self.path = path
        self.socketGroup = group
        self.logger = logger
        self.handler = handler
    }

    /// Binds the socket (replacing a stale one) and starts accepting.
    public func start() throws(ControlServerError) {
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: path) {
            guard !Self.isListening(path) else {
                throw ControlServerError(description: "\(path): another bosund is already listening there")
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlServerError(description: "\(path): socket: \(Self.errnoText())") }
        var address = Self.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let text = Self.errnoText()
            close(fd)
            throw ControlServerError(description: "\(path): cannot listen: \(text)")
        }
        chmod(path, 0o660)
        if let socketGroup { assignGroup(socketGroup) }
        listener = fd
        let thread = Thread { [self] in
            acceptLoop()
            acceptFinished.signal()
        }
        thread.name = "bosun-control"
        thread.start()
    }

    /// Stops accepting and removes the socket file.
    public func stop() {
        let fd: Int32 = lock.withLock {
            stopped = true
            return listener
        }
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        acceptFinished.wait()
        close(fd)
        unlink(path)
    }

    /// Gives the socket to `group`, so its members (and only they, besides bosund's account) can connect.
    /// A missing group is not created here (systemd's sysusers file does that): the socket then keeps
    /// bosund's own group, which fails closed.
    private func assignGroup(_ name: String) {
        var entry = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else {
            logger.warning(
                "control socket group \(name) does not exist; the socket keeps bosund's group (create it, e.g. with systemd-sysusers)",
                metadata: ["socket": "\(path)"])
            return
        }
        if chown(path, uid_t.max, entry.gr_gid) != 0 {
            logger.warning(
                "cannot give the control socket to group \(name): \(Self.errnoText())", metadata: ["socket": "\(path)"])
        }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if lock.withLock({ stopped }) {
                if client >= 0 { close(client) }
                return
            }
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                logger.error("control socket accept failed", metadata: ["error": "\(Self.errnoText())"])
                return
            }
            let thread = Thread { [self] in serve(client) }
            thread.name = "bosun-control-conn"
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // struct ucred {pid_t; uid_t; gid_t} (hidden behind _GNU_SOURCE in Glibc's module).
        var credentials: (Int32, UInt32, UInt32) = (0, UInt32.max, UInt32.max)
        var length = socklen_t(12)
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length)
        let peer = PeerCredentials(pid: credentials.0, uid: credentials.1, gid: credentials.2)

        guard let line = readLine(fd) else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let request = try? JSONDecoder().decode(ControlRequest.self, from: line),
            request.v == ControlProtocol.version
        else {
            let reply = ControlReply(
                stderr:
                    "bosund: unsupported control request (this daemon speaks control API v\(ControlProtocol.version))\n",
                exit: ExitStatus.usage)
            if var data = try? encoder.encode(reply) {
                data.append(0x0A)
                _ = Self.writeAll(fd, data)
            }
            return
        }
        let channel = OutputChannel()
        let handler = self.handler
        Task { await handler(request, peer, channel) }
        // Relay replies as they come (streaming commands such as `watch`), until the last one or
        // until the client goes away.
        while true {
            guard let reply = channel.next(timeoutMs: 1000) else {
                if Self.peerClosed(fd) {
                    channel.close()
                    return
                }
                continue
            }
            guard Self.write(reply, to: fd, encoder: encoder) else {
                channel.close()
                return
            }
            if reply.exit != nil { return }
        }
    }

    /// Writes one reply; large stdout goes raw after a `stdout_bytes` header.
    static func write(_ reply: ControlReply, to fd: Int32, encoder: JSONEncoder) -> Bool {
        var reply = reply
        var raw: String?
        if let text = reply.stdout, text.utf8.count > 4096 {
            raw = text
            reply.stdout = nil
            reply.stdoutBytes = text.utf8.count
        }
        guard var data = try? encoder.encode(reply) else { return true }
        data.append(0x0A)
        guard writeAll(fd, data) else { return false }
        // Sent from the string's own storage: a listing of megabytes is not copied twice more.
        guard var raw else { return true }
        return raw.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    /// True when the client has closed its end (readable with nothing to read).
    static func peerClosed(_ fd: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 0) > 0 else { return false }
        if pfd.revents & Int16(POLLHUP | POLLERR) != 0 { return true }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }

    private func readLine(_ fd: Int32) -> Data? {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while data.count <= Self.maxRequestBytes {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return data.isEmpty ? nil : data }
            if let newline = buffer[0..<n].firstIndex(of: 0x0A) {
                data.append(contentsOf: buffer[0..<newline])
                return data
            }
            data.append(contentsOf: buffer[0..<n])
        }
        return nil
    }

    static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { writeAll(fd, $0) }
    }

    static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Bool {
        guard let base = raw.baseAddress else { return true }
        var offset = 0
        while offset < raw.count {
            let n = send(fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    static func isListening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = address(path)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
