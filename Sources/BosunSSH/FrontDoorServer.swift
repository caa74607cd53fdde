import CLibSSH
import Foundation
public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The SSH front door: an embedded libssh server that lets operators reach Bosun's shell with the
/// ordinary `ssh` client. Public-key authentication only; one thread per connection.
public final class FrontDoorServer: @unchecked Sendable {
    public let settings: FrontDoorSettings
    /// The host key's public half; its fingerprint is what an operator checks on first connect.
    public let hostKey: FrontDoorKey
    private let delegate: any FrontDoorDelegate
    private let logger: Logger
    private let limiter: FrontDoorRateLimiter
    private let wake = WakePipe()
    private let acceptFinished = DispatchSemaphore(value: 0)
    private let connectionsFinished = DispatchGroup()

    private enum State { case idle, running, stopped }

    private let lock = NSLock()
    private var state = State.idle
    private var bind: ssh_bind?
    private var port = 0
    private var connections: [ObjectIdentifier: FrontDoorConnection] = [:]

    /// How long `stop()` lets sessions finish on their own before shutting their sockets.
    static let stopGrace = 3.0

    private static let initialized: Bool = { ssh_init() == 0 }()

    /// Prepares the host key (generating it on first use); does not listen yet.
    public init(settings: FrontDoorSettings, delegate: any FrontDoorDelegate, logger: Logger) throws(SSHError) {
        _ = Self.initialized
        guard (0...65535).contains(settings.port) else {
            throw SSHError(.connect, "front door port \(settings.port) is out of range")
        }
        guard settings.idleTimeout > 0, settings.loginGraceTime > 0, settings.maxAuthFailuresPerMinute > 0 else {
            throw SSHError(
                .connect, "front door idle timeout, login grace time and auth failure limit must be positive")
        }
        guard settings.maxConnections > 0, settings.maxUnauthenticated > 0, settings.maxConnectionsPerAddress > 0,
            settings.maxUnauthenticated <= settings.maxConnections
        else {
            throw SSHError(
                .connect,
                "front door connection limits must be positive, with max_unauthenticated at most max_connections")
        }
        self.settings = settings
        self.delegate = delegate
        self.logger = logger
        self.limiter = FrontDoorRateLimiter(limit: settings.maxAuthFailuresPerMinute)
        self.hostKey = try FrontDoorHostKey.prepare(at: settings.hostKeyPath, logger: logger)
    }

    /// The port actually listened on (the chosen one when `settings.port` was 0); 0 before `start()`.
    public var boundPort: Int { lock.withLock { port } }

    /// Connections being served right now, logged in or not.
    var connectionCount: Int { lock.withLock { connections.count } }

    /// Binds, listens and starts accepting on a dedicated thread.
    public func start() throws(SSHError) {
        let acquired = lock.withLock {
            guard state == .idle else { return false }
            state = .running
            return true
        }
        guard acquired else { throw SSHError(.connect, "the front door was already started") }
        guard let bind = ssh_bind_new() else {
            lock.withLock { state = .stopped }
            throw SSHError(.connect, "cannot allocate the front door listener")
        }
        var bindPort = Int32(settings.port)
        var verbosity: Int32 = 0
        var processConfig = false
        let configured =
            ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &processConfig) == SSH_OK
            && ssh_bind_options_set(bind, SSH_BIND_OPTIONS_LOG_VERBOSITY, &verbosity) == SSH_OK
            && ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDADDR, settings.listenAddress) == SSH_OK
            && ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDPORT, &bindPort) == SSH_OK
            && ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, settings.hostKeyPath) == SSH_OK
        guard configured, ssh_bind_listen(bind) == SSH_OK else {
            let text = ssh_get_error(UnsafeMutableRawPointer(bind)).map { String(cString: $0) } ?? "unknown error"
            ssh_bind_free(bind)
            lock.withLock { state = .stopped }
            throw SSHError(.connect, "front door cannot listen on \(settings.listenAddress):\(settings.port): \(text)")
        }
        let listener = ssh_bind_get_fd(bind)
        // ssh_bind_listen uses a backlog of 10: too small for a burst of clients.
        listen(listener, 1024)
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
        _ = fcntl(listener, F_SETFD, FD_CLOEXEC)
        let actualPort = Self.localPort(listener)
        let stillWanted = lock.withLock {
            guard state == .running else { return false }
            self.bind = bind
            port = actualPort
            return true
        }
        guard stillWanted else {
            ssh_bind_free(bind)
            throw SSHError(.connect, "the front door was stopped while starting")
        }
        let thread = Thread { [self] in
            acceptLoop(listener: listener)
            acceptFinished.signal()
        }
        thread.name = "bosun-frontdoor-accept"
        thread.start()
        logger.info(
            "front door listening on \(settings.listenAddress):\(actualPort)",
            metadata: ["frontdoor.host_key": "\(hostKey.fingerprint)"])
    }

    /// Stops accepting, ends every session (exit status sent where possible) and joins all threads.
    ///
    /// Blocks until then: sessions get `stopGrace` seconds to end on their own, then their sockets are shut
    /// down. Call it from a thread of its own, not from the Swift concurrency pool. A stopped server stays stopped.
    public func stop() {
        let bind: ssh_bind? = lock.withLock {
            guard state == .running else {
                state = .stopped
                return nil
            }
            state = .stopped
            return self.bind
        }
        guard let bind else { return }
        wake.wake()
        acceptFinished.wait()

        let open = lock.withLock { Array(connections.values) }
        for connection in open { connection.requestStop() }
        if connectionsFinished.wait(timeout: .now() + Self.stopGrace) == .timedOut {
            for connection in lock.withLock({ Array(connections.values) }) { connection.forceClose() }
            if connectionsFinished.wait(timeout: .now() + 10) == .timedOut {
                logger.warning(
                    "front door stopped while \(connectionCount) session(s) are still running their command")
            }
        }
        ssh_bind_free(bind)
        lock.withLock {
            self.bind = nil
            port = 0
        }
        logger.info("front door stopped")
    }

    // MARK: Accepting

    private var isStopping: Bool { lock.withLock { state != .running } }

    private func acceptLoop(listener: Int32) {
        while true {
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, -1)
            if isStopping { return }
            if ready < 0 && errno != EINTR {
                logger.error("front door poll failed: \(String(cString: strerror(errno)))")
                return
            }
            guard ready > 0, fds[0].revents != 0 else { continue }

            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listener, $0, &length)
                }
            }
            guard client >= 0 else {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR || code == ECONNABORTED { continue }
                logger.error("front door accept failed: \(String(cString: strerror(code)))")
                // Out of descriptors or memory: back off instead of spinning; stop() still wakes us.
                var wakeOnly = [pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0)]
                _ = poll(&wakeOnly, 1, 200)
                continue
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            // The bind is freed only after this thread is joined.
            guard let bind = lock.withLock({ self.bind }) else {
                close(client)
                return
            }
            admit(client, peer: storage, bind: bind)
        }
    }

    private func admit(_ client: Int32, peer storage: sockaddr_storage, bind: ssh_bind) {
        var noDelay: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        let (host, port) = Self.describe(storage)
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"

        let now = FrontDoorConnection.now()
        if limiter.isBlocked(host, now: now) {
            close(client)
            if limiter.shouldReportBlock(host, now: now) {
                logger.warning(
                    "front door refusing connections from \(host): too many failed authentications in the last minute",
                    metadata: ["frontdoor.peer": "\(address)"])
                delegate.authenticationFailed(user: "", key: nil, address: address, reason: "rate limited")
            }
            return
        }
        let room = makeRoom(for: host, now: now)
        for connection in room.evicted { connection.requestStop() }
        guard room.admit else {
            logger.warning(
                "front door refused a connection: all \(settings.maxConnections) connections are logged-in sessions",
                metadata: ["frontdoor.peer": "\(address)"])
            close(client)
            return
        }
        guard let session = ssh_new() else {
            close(client)
            return
        }
        // ssh_bind_accept_fd only copies settings and keys (no network I/O), and it mutates the bind,
        // so it runs here on the accept thread; the handshake runs on the connection's own thread.
        guard ssh_bind_accept_fd(bind, session, client) == SSH_OK else {
            logger.error(
                "front door cannot set up a session: \(ssh_get_error(UnsafeMutableRawPointer(bind)).map { String(cString: $0) } ?? "unknown error")"
            )
            if ssh_get_fd(session) != client { close(client) }
            ssh_free(session)
            return
        }
        let connection = FrontDoorConnection(
            session: session, descriptor: client, address: address, host: host, settings: settings,
            loginGraceTime: room.underPressure ? settings.loginGraceTimeUnderPressure : settings.loginGraceTime,
            delegate: delegate, limiter: limiter, logger: logger)
        let key = ObjectIdentifier(connection)
        lock.withLock { connections[key] = connection }
        connectionsFinished.enter()
        let thread = Thread { [self] in
            connection.run()
            lock.withLock { connections[key] = nil }
            connectionsFinished.leave()
        }
        thread.name = "bosun-frontdoor-session"
        thread.start()
    }

    // MARK: Admission

    /// What to do with a new connection from `host`, and which unauthenticated connections to drop for it.
    struct Room {
        var admit: Bool
        var evicted: [FrontDoorConnection]
        /// Unauthenticated connections use at least half their budget: the new one gets the short grace time.
        var underPressure: Bool
    }

    /// Makes room for a connection from `host`. Unauthenticated connections past their login grace
    /// time go first; then, per limit, the oldest unauthenticated connection of `host` (per-address
    /// cap), of the address holding the most (unauthenticated cap), of anyone (total cap). Logged-in
    /// sessions are never dropped: when they fill every slot the new connection is refused.
    private func makeRoom(for host: String, now: Double) -> Room {
        lock.withLock {
            var evicted: [FrontDoorConnection] = []
            var live = connections.values.filter { !$0.isEvicted }
            var waiting = live.filter { !$0.isAuthenticated }.sorted { $0.acceptedAt < $1.acceptedAt }

            func evict(_ connection: FrontDoorConnection) {
                guard connection.evictIfUnauthenticated() else { return }
                evicted.append(connection)
                live.removeAll { $0 === connection }
                waiting.removeAll { $0 === connection }
            }

            for connection in waiting where connection.loginDeadline < now { evict(connection) }
            while waiting.filter({ $0.host == host }).count >= settings.maxConnectionsPerAddress,
                let oldest = waiting.first(where: { $0.host == host })
            {
                evict(oldest)
            }
            while waiting.count >= settings.maxUnauthenticated {
                let counts = Dictionary(waiting.map { ($0.host, 1) }, uniquingKeysWith: +)
                guard let busiest = counts.max(by: { $0.value < $1.value })?.key,
                    let oldest = waiting.first(where: { $0.host == busiest })
                else { break }
                evict(oldest)
            }
            while live.count >= settings.maxConnections, let oldest = waiting.first {
                evict(oldest)
            }
            if !evicted.isEmpty { noteEvictions(evicted.count, now: now) }
            return Room(
                admit: live.count < settings.maxConnections, evicted: evicted,
                underPressure: (waiting.count + 1) * 2 >= settings.maxUnauthenticated)
        }
    }

    private var evictionsSinceReport = 0
    private var lastEvictionReport = -Double.infinity

    /// Logs dropped unauthenticated connections at most once a minute (a flood must not flood the log).
    /// Call with the lock held.
    private func noteEvictions(_ count: Int, now: Double) {
        evictionsSinceReport += count
        guard now - lastEvictionReport >= 60 else { return }
        logger.warning(
            "front door under pressure: dropped \(evictionsSinceReport) unauthenticated connection(s) to make room",
            metadata: [
                "frontdoor.max_unauthenticated": "\(settings.maxUnauthenticated)",
                "frontdoor.max_connections_per_address": "\(settings.maxConnectionsPerAddress)",
            ])
        evictionsSinceReport = 0
        lastEvictionReport = now
    }

    // MARK: Socket helpers

    private static func localPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        return ok ? describe(storage).port : 0
    }

    /// The numeric host and port of an IPv4 or IPv6 socket address.
    private static func describe(_ storage: sockaddr_storage) -> (host: String, port: Int) {
        var storage = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                    let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    return (host, Int(UInt16(bigEndian: address.pointee.sin_port)))
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                    let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    return (host, Int(UInt16(bigEndian: address.pointee.sin6_port)))
                }
            }
        default:
            return ("unknown", 0)
        }
    }
}
