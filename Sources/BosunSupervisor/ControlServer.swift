public import BosunCore
import Foundation
public import Logging

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

/// Serves the control API on a Unix socket. Accepting, reading and writing happen on dedicated
/// threads (blocking calls stay off the concurrency pool); each command runs as a child task of
/// `run()`, which cancels the ones still running once `finishRequests()` is called (shutdown).
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
    /// Requests read from clients, on their way to `run()`.
    private let requests: AsyncStream<Job>
    private let submit: AsyncStream<Job>.Continuation
    /// Connections relaying a handler's replies (`stop()` waits for them to write the last one).
    private let relays = DispatchGroup()
    /// Their channels, closed by `stop()` (what is queued on them is still written).
    private var relaying: [ObjectIdentifier: OutputChannel] = [:]

    /// One request read from a client, with the channel its replies go back on.
    struct Job: Sendable {
        var request: ControlRequest
        var peer: PeerCredentials
        var channel: OutputChannel
    }

    /// Longest accepted request line.
    static let maxRequestBytes = 1 << 20

    public init(path: String, group: String? = nil, logger: Logger, handler: @escaping Handler) {
        self.path = path
        self.socketGroup = group
        self.logger = logger
        self.handler = handler
        (requests, submit) = AsyncStream.makeStream(of: Job.self)
    }

    /// Runs each request's handler as a child task until `finishRequests()` (or until the calling
    /// task is cancelled); then cancels the handlers still running (a `watch` ends, giving its
    /// client an exit status) and returns once every one has ended.
    public func run() async {
        let handler = self.handler
        await withDiscardingTaskGroup { group in
            for await job in requests {
                group.addTask { await handler(job.request, job.peer, job.channel) }
            }
            group.cancelAll()
        }
    }

    /// Takes no more requests (a client connecting now is told bosund is stopping); `run()` then
    /// cancels the handlers still running and returns.
    public func finishRequests() {
        submit.finish()
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
        guard var address = UnixSocket.address(path) else {
            close(fd)
            throw ControlServerError(description: "\(path): socket path too long (at most 107 bytes)")
        }
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

    /// Takes no more requests, stops accepting, removes the socket file, and waits until the
    /// replies already queued (a cancelled handler's last one) have been written or their client
    /// has gone. Call it after `run()` has returned.
    public func stop() {
        finishRequests()
        let fd: Int32 = lock.withLock {
            stopped = true
            return listener
        }
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        acceptFinished.wait()
        close(fd)
        unlink(path)
        for channel in lock.withLock({ Array(relaying.values) }) { channel.close() }
        relays.wait()
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
        guard let wake = channel.wakeDescriptor else {
            Self.refuse(fd, "bosund: out of file descriptors; try again\n", encoder: encoder)
            return
        }
        relays.enter()
        lock.withLock { relaying[ObjectIdentifier(channel)] = channel }
        defer {
            lock.withLock { relaying[ObjectIdentifier(channel)] = nil }
            relays.leave()
        }
        if case .terminated = submit.yield(Job(request: request, peer: peer, channel: channel)) {
            Self.refuse(fd, "bosund: stopping\n", encoder: encoder)
            return
        }
        // A client that does not read its replies cannot hold a stopping bosund for ever.
        var sendTimeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        // Relay replies as they come (streaming commands such as `watch`), until the last one or
        // until the client goes away: woken by a reply or by the client's socket, never by a timer.
        while true {
            while let reply = channel.nextReady() {
                guard Self.write(reply, to: fd, encoder: encoder) else {
                    channel.close()
                    return
                }
                if reply.exit != nil { return }
            }
            // Closed with nothing left to write: the handler will not answer (bosund is stopping).
            if channel.isClosed { return }
            var events = [
                pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
            ]
            if poll(&events, 2, -1) < 0 {
                if errno == EINTR { continue }
                channel.close()
                return
            }
            if events[1].revents != 0, Self.peerClosed(fd) {
                channel.close()
                return
            }
        }
    }

    /// Answers a request that will not run, with exit status 69 (bosund unavailable).
    static func refuse(_ fd: Int32, _ text: String, encoder: JSONEncoder) {
        _ = write(ControlReply(stderr: text, exit: ExitStatus.unavailable), to: fd, encoder: encoder)
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

    /// True when the client has closed its end (hung up, or readable with nothing to read). Bytes
    /// it sends after its request line mean nothing (one request per connection) and are dropped,
    /// so they cannot keep the socket readable.
    static func peerClosed(_ fd: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 0) > 0 else { return false }
        if pfd.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return true }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
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
        UnixSocket.sendAll(fd, raw)
    }

    static func isListening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard var address = UnixSocket.address(path) else { return false }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
