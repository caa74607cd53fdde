import CLibSSH
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// One accepted TCP connection, served from start to end on its own thread: key exchange,
/// public-key authentication, one session channel, the delegate's `run`, exit status, teardown.
///
/// libssh invokes the callbacks only from inside libssh calls made on that thread, so the state they
/// touch is confined to it. Only the stop request and the descriptor used to force a shutdown are
/// shared with other threads, under `lock`.
final class FrontDoorConnection: @unchecked Sendable {
    /// `ip:port` of the client.
    let address: String
    /// The client's IP, the key of the failed-authentication rate limit and of the per-address cap.
    let host: String
    /// Monotonic time of the TCP accept.
    let acceptedAt: Double
    /// Seconds this connection has to log in and ask for a shell or command.
    let loginGraceTime: Double
    private let session: ssh_session
    private let settings: FrontDoorSettings
    private let delegate: any FrontDoorDelegate
    private let limiter: FrontDoorRateLimiter
    private let logger: Logger
    private let wake = WakePipe()
    private let serverCallbacks: UnsafeMutablePointer<ssh_server_callbacks_struct>
    private let channelCallbacks: UnsafeMutablePointer<ssh_channel_callbacks_struct>

    // Shared with `FrontDoorServer.stop()`.
    private let lock = NSLock()
    private var stopRequested = false
    private var running = false
    private var authenticated = false
    private var evicted = false
    /// Set by `wakeReader()`: the session thread's `read` returns `.timeout` once.
    private var readerWoken = false
    /// A duplicate of the session socket, so `forceClose` never hits a descriptor number reused elsewhere.
    private var controlDescriptor: Int32

    // Session thread only.
    private var event: ssh_event?
    private var channel: ssh_channel?
    private(set) var peer: FrontDoorPeer?
    private(set) var command: String?
    private(set) var pty: FrontDoorPTY?
    private var requested = false
    private var authenticationFailures = 0
    private var disconnectReason: String?
    private var input: [UInt8] = []
    private var inputEnded = false
    private var remoteClosed = false
    private var closeReason: String?
    private var lastActivity = 0.0
    /// Set once the libssh session is freed; a session object kept past `run` then reads as closed.
    private var freed = false

    /// Refused keys on one connection before it is dropped (OpenSSH's MaxAuthTries).
    static let maxAuthenticationAttempts = 6
    /// Unread client input kept before the session is closed.
    static let maxBufferedInput = 1 << 20
    /// How long teardown waits for the client to acknowledge the channel close.
    static let closeGrace = 2.0

    init(
        session: ssh_session, descriptor: Int32, address: String, host: String, settings: FrontDoorSettings,
        loginGraceTime: Double, delegate: any FrontDoorDelegate, limiter: FrontDoorRateLimiter, logger: Logger
    ) {
        self.session = session
        self.address = address
        self.host = host
        self.acceptedAt = Self.now()
        self.loginGraceTime = loginGraceTime
        self.settings = settings
        self.delegate = delegate
        self.limiter = limiter
        var logger = logger
        logger[metadataKey: "frontdoor.peer"] = "\(address)"
        self.logger = logger
        controlDescriptor = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        serverCallbacks = .allocate(capacity: 1)
        serverCallbacks.initialize(to: ssh_server_callbacks_struct())
        channelCallbacks = .allocate(capacity: 1)
        channelCallbacks.initialize(to: ssh_channel_callbacks_struct())
    }

    deinit {
        serverCallbacks.deallocate()
        channelCallbacks.deallocate()
        if controlDescriptor >= 0 { close(controlDescriptor) }
    }

    // MARK: Other threads

    /// Asks the session to end: at once before login, at the next read once running.
    func requestStop() {
        let force: Bool = lock.withLock {
            stopRequested = true
            return !running
        }
        wake.wake()
        if force { forceClose() }
    }

    /// Shuts the socket down under libssh, failing whatever blocking call the session thread is in.
    func forceClose() {
        lock.withLock {
            if controlDescriptor >= 0 { shutdown(controlDescriptor, Int32(SHUT_RDWR)) }
        }
    }

    private var isStopRequested: Bool { lock.withLock { stopRequested } }

    /// Makes the session thread's blocked `read` return `.timeout` (from any thread), so it can
    /// write what another thread queued for it (libssh is used from the session thread only).
    func wakeReader() {
        lock.withLock { readerWoken = true }
        wake.wake()
    }

    private func takeReaderWake() -> Bool {
        lock.withLock {
            defer { readerWoken = false }
            return readerWoken
        }
    }

    /// Whether a known key logged in on this connection.
    var isAuthenticated: Bool { lock.withLock { authenticated } }

    /// Whether the server dropped this connection to make room for others.
    var isEvicted: Bool { lock.withLock { evicted } }

    /// When the login grace time runs out.
    var loginDeadline: Double { acceptedAt + loginGraceTime }

    /// Marks the connection as dropped unless a key already logged in on it (then it keeps its slot).
    /// The caller then calls `requestStop()`.
    func evictIfUnauthenticated() -> Bool {
        lock.withLock {
            guard !authenticated else { return false }
            evicted = true
            return true
        }
    }

    // MARK: Session thread

    /// Serves the connection to its end and frees every libssh object it owns.
    func run() {
        var status: Int32?
        if handshake() {
            status = serve()
        }
        teardown(exitStatus: status)
    }

    /// Key exchange, authentication and the channel requests, up to an accepted shell or exec.
    private func handshake() -> Bool {
        installCallbacks()
        var grace = max(1, Int(loginGraceTime.rounded(.up)))
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &grace)
        ssh_set_auth_methods(session, Int32(SSH_AUTH_METHOD_PUBLICKEY))
        ssh_set_server_callbacks(session, serverCallbacks)
        guard ssh_handle_key_exchange(session) == SSH_OK else {
            logger.debug("front door key exchange failed", metadata: ["error": "\(lastError)"])
            return false
        }
        guard let event = ssh_event_new() else { return false }
        self.event = event
        guard ssh_event_add_session(event, session) == SSH_OK else { return false }
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        ssh_event_add_fd(
            event, wake.readEnd, Int16(POLLIN),
            { fd, _, _ in
                WakePipe.drain(fd)
                return 0
            }, userdata)

        let deadline = loginDeadline
        while !requested {
            if let reason = disconnectReason {
                logger.warning("front door disconnecting client: \(reason)")
                return false
            }
            if isStopRequested || isGone {
                if isEvicted { logger.debug("front door dropped an unauthenticated connection to make room") }
                return false
            }
            let remaining = deadline - Self.now()
            if remaining <= 0 {
                logger.notice(
                    "front door login grace time (\(loginGraceTime) s) ran out",
                    metadata: ["frontdoor.user": "\(peer?.user ?? "")"])
                return false
            }
            _ = ssh_event_dopoll(event, Int32(min(remaining, 1) * 1000) + 1)
        }
        return true
    }

    /// Hands the session to the delegate; returns its exit status.
    private func serve() -> Int32? {
        guard let peer else { return nil }
        lock.withLock { running = true }
        // Bounds blocking writes to a client that stopped reading.
        var writeTimeout = max(1, Int(settings.idleTimeout.rounded(.up)))
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &writeTimeout)
        lastActivity = Self.now()
        var metadata: Logger.Metadata = [
            "frontdoor.user": "\(peer.user)", "frontdoor.key": "\(peer.key.fingerprint)",
            "frontdoor.pty": "\(pty.map { "\($0.term) \($0.columns)x\($0.rows)" } ?? "none")",
        ]
        if let command { metadata["frontdoor.command"] = "\(command)" }
        logger.info("front door session started", metadata: metadata)
        let status = delegate.run(FrontDoorSession(connection: self, peer: peer, command: command))
        logger.info(
            "front door session ended",
            metadata: [
                "frontdoor.user": "\(peer.user)", "frontdoor.exit_status": "\(status)",
                "frontdoor.reason": "\(closeReason ?? "finished")",
            ])
        return status
    }

    /// Sends exit status, EOF and close when the channel is still up, then frees everything.
    private func teardown(exitStatus: Int32?) {
        if let channel, let exitStatus, let event, !remoteClosed, !isGone {
            ssh_channel_request_send_exit_status(channel, exitStatus)
            ssh_channel_send_eof(channel)
            ssh_channel_close(channel)
            let deadline = Self.now() + Self.closeGrace
            while !remoteClosed, !isGone, Self.now() < deadline {
                _ = ssh_event_dopoll(event, 100)
            }
        }
        lock.withLock {
            if controlDescriptor >= 0 {
                close(controlDescriptor)
                controlDescriptor = -1
            }
        }
        if let event {
            ssh_event_remove_fd(event, wake.readEnd)
            ssh_event_remove_session(event, session)
            ssh_event_free(event)
            self.event = nil
        }
        // ssh_disconnect frees the channel too.
        channel = nil
        freed = true
        ssh_disconnect(session)
        ssh_free(session)
    }

    // MARK: Session API (FrontDoorSession)

    var isClosed: Bool { closeReason != nil || remoteClosed || isGone }

    func read(timeoutMs: Int32, wakingOn wakeDescriptor: Int32? = nil) -> FrontDoorInput {
        let started = Self.now()
        var polled = false
        var errors = 0
        if let wakeDescriptor, let event {
            // Only wakes the poll below; the caller empties the descriptor.
            ssh_event_add_fd(event, wakeDescriptor, Int16(POLLIN), { _, _, _ in 0 }, nil)
        }
        defer {
            if let wakeDescriptor, let event { ssh_event_remove_fd(event, wakeDescriptor) }
        }
        while true {
            if !input.isEmpty {
                let data = input
                input = []
                return .data(data)
            }
            if let wakeDescriptor, Self.isReadable(wakeDescriptor) { return .timeout }
            // With a wake descriptor, the end of the client's input alone is no end: the caller
            // waits for the client to leave (or to type), not for it to stop sending.
            if (inputEnded && wakeDescriptor == nil) || isClosed { return .eof }
            if isStopRequested {
                end(reason: "server stopping", notice: "server stopping, closing")
                return .eof
            }
            if takeReaderWake() { return .timeout }
            let now = Self.now()
            let idleLeft = lastActivity + settings.idleTimeout - now
            if idleLeft <= 0 {
                logger.notice("front door session idle for \(settings.idleTimeout) s; closing")
                end(reason: "idle timeout", notice: "idle timeout, closing")
                return .eof
            }
            var wait = idleLeft
            if timeoutMs >= 0 {
                let left = Double(timeoutMs) / 1000 - (now - started)
                // A zero timeout still takes whatever already arrived.
                if left <= 0 && polled { return .timeout }
                wait = min(wait, max(left, 0))
            }
            guard let event else { return .eof }
            polled = true
            if ssh_event_dopoll(event, Int32((min(wait, 60) * 1000).rounded(.up))) == SSH_ERROR {
                // poll(2) failing without the session being gone (EINTR) is retried, but not forever.
                errors += 1
                if errors > 100 {
                    closeReason = "poll failed"
                    return .eof
                }
            }
        }
    }

    /// Tells the client why the session ends (stderr, or the terminal), then marks it closed.
    private func end(reason: String, notice: String) {
        writeBytes(Array((notice + (pty == nil ? "\n" : "\r\n")).utf8), stderr: pty == nil)
        closeReason = reason
    }

    /// Writes to stdout or stderr; marks the session closed when the client is gone.
    func writeBytes(_ bytes: [UInt8], stderr: Bool) {
        guard !bytes.isEmpty, let channel, !isClosed else { return }
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, 32 * 1024)
            let written: Int32 = bytes.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return SSH_ERROR }
                return stderr
                    ? ssh_channel_write_stderr(channel, base + offset, UInt32(count))
                    : ssh_channel_write(channel, base + offset, UInt32(count))
            }
            guard written > 0 else {
                closeReason = closeReason ?? "write failed: \(lastError)"
                return
            }
            offset += Int(written)
        }
        lastActivity = Self.now()
    }

    // MARK: Callbacks

    private func installCallbacks() {
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        let server = serverCallbacks
        server.pointee.size = MemoryLayout<ssh_server_callbacks_struct>.size
        server.pointee.userdata = userdata
        server.pointee.auth_pubkey_function = { _, user, key, state, userdata in
            guard let userdata else { return Int32(SSH_AUTH_DENIED.rawValue) }
            let connection = Unmanaged<FrontDoorConnection>.fromOpaque(userdata).takeUnretainedValue()
            return connection.authenticate(user: user.map { String(cString: $0) } ?? "", key: key, state: Int32(state))
        }
        server.pointee.channel_open_request_session_function = { _, userdata in
            guard let userdata else { return nil }
            return Unmanaged<FrontDoorConnection>.fromOpaque(userdata).takeUnretainedValue().openChannel()
        }

        let channel = channelCallbacks
        channel.pointee.size = MemoryLayout<ssh_channel_callbacks_struct>.size
        channel.pointee.userdata = userdata
        channel.pointee.channel_data_function = { _, _, data, length, isStderr, userdata in
            guard let userdata else { return 0 }
            let connection = Unmanaged<FrontDoorConnection>.fromOpaque(userdata).takeUnretainedValue()
            connection.received(UnsafeRawBufferPointer(start: data, count: Int(length)), stderr: isStderr != 0)
            return Int32(bitPattern: length)
        }
        channel.pointee.channel_eof_function = { _, _, userdata in
            guard let userdata else { return }
            Unmanaged<FrontDoorConnection>.fromOpaque(userdata).takeUnretainedValue().inputEnded = true
        }
        channel.pointee.channel_close_function = { _, _, userdata in
            guard let userdata else { return }
            let connection = Unmanaged<FrontDoorConnection>.fromOpaque(userdata).takeUnretainedValue()
            connection.remoteClosed = true
            connection.inputEnded = true
        }
        channel.pointee.channel_pty_request_function = { _, _, term, columns, rows, _, _, userdata in
            guard let userdata else { return -1 }
            let connection = Unmanaged<FrontDoorConnection>.fromOpaque(userdata).takeUnretainedValue()
            return connection.requestPTY(term: term.map { String(cString: $0) } ?? "", columns: columns, rows: rows)
        }
        channel.pointee.channel_pty_window_change_function = { _, _, columns, rows, _, _, userdata in
            guard let userdata else { return -1 }
            let connection = Unmanaged<FrontDoorConnection>.fromOpaque(userdata).takeUnretainedValue()
            return connection.resizePTY(columns: columns, rows: rows)
        }
        channel.pointee.channel_shell_request_function = { _, _, userdata in
            guard let userdata else { return -1 }
            return Unmanaged<FrontDoorConnection>.fromOpaque(userdata).takeUnretainedValue().start(command: nil)
        }
        channel.pointee.channel_exec_request_function = { _, _, command, userdata in
            guard let userdata, let command else { return -1 }
            let connection = Unmanaged<FrontDoorConnection>.fromOpaque(userdata).takeUnretainedValue()
            return connection.start(command: String(cString: command))
        }
        // Environment variables are ignored: refusing them is what sshd does without AcceptEnv.
        channel.pointee.channel_env_request_function = { _, _, _, _, _ in -1 }
        channel.pointee.channel_subsystem_request_function = { _, _, _, _ in -1 }
    }

    private func authenticate(user: String, key: ssh_key?, state: Int32) -> Int32 {
        let denied = Int32(SSH_AUTH_DENIED.rawValue)
        guard disconnectReason == nil, peer == nil else { return denied }
        if limiter.isBlocked(host, now: Self.now()) {
            disconnectReason = "too many failed authentications from \(host) in the last minute"
            delegate.authenticationFailed(user: user, key: nil, address: address, reason: "rate limited")
            return denied
        }
        guard let key, let publicKey = FrontDoorKey(libsshKey: key) else {
            refuse(user: user, key: nil, reason: "unreadable public key")
            return denied
        }
        switch state {
        case SSH_PUBLICKEY_STATE_NONE.rawValue:
            // A probe without a signature: let every key go on to prove possession, so the delegate only
            // ever judges signed keys and a prober cannot learn which public keys are authorized.
            return Int32(SSH_AUTH_SUCCESS.rawValue)
        case SSH_PUBLICKEY_STATE_VALID.rawValue:
            let candidate = FrontDoorPeer(user: user, key: publicKey, address: address)
            guard delegate.authorize(candidate) else {
                refuse(user: user, key: publicKey, reason: "key not authorized")
                return denied
            }
            // A connection the server already dropped to make room stays dropped.
            let admitted: Bool = lock.withLock {
                guard !evicted else { return false }
                authenticated = true
                return true
            }
            guard admitted else { return denied }
            peer = candidate
            logger.info(
                "front door login accepted",
                metadata: ["frontdoor.user": "\(user)", "frontdoor.key": "\(publicKey.fingerprint)"])
            return Int32(SSH_AUTH_SUCCESS.rawValue)
        default:
            refuse(user: user, key: publicKey, reason: "invalid signature")
            return denied
        }
    }

    private func refuse(user: String, key: FrontDoorKey?, reason: String) {
        authenticationFailures += 1
        let recent = limiter.recordFailure(host, now: Self.now())
        logger.notice(
            "front door login refused: \(reason)",
            metadata: ["frontdoor.user": "\(user)", "frontdoor.key": "\(key?.fingerprint ?? "none")"])
        delegate.authenticationFailed(user: user, key: key, address: address, reason: reason)
        if recent >= limiter.limit {
            disconnectReason = "too many failed authentications from \(host) (\(recent) in the last minute)"
            delegate.authenticationFailed(user: user, key: key, address: address, reason: "rate limited")
        } else if authenticationFailures >= Self.maxAuthenticationAttempts {
            disconnectReason = "too many authentication attempts (\(authenticationFailures)) on one connection"
        }
    }

    private func openChannel() -> ssh_channel? {
        guard peer != nil, channel == nil, disconnectReason == nil, let opened = ssh_channel_new(session) else {
            return nil
        }
        ssh_set_channel_callbacks(opened, channelCallbacks)
        channel = opened
        return opened
    }

    private func requestPTY(term: String, columns: Int32, rows: Int32) -> Int32 {
        guard !requested else { return -1 }
        pty = FrontDoorPTY(term: term, columns: Self.clamp(columns), rows: Self.clamp(rows))
        return 0
    }

    private func resizePTY(columns: Int32, rows: Int32) -> Int32 {
        guard pty != nil else { return -1 }
        pty?.columns = Self.clamp(columns)
        pty?.rows = Self.clamp(rows)
        return 0
    }

    private func start(command: String?) -> Int32 {
        guard !requested else { return -1 }
        self.command = command
        requested = true
        return 0
    }

    private func received(_ data: UnsafeRawBufferPointer, stderr: Bool) {
        guard !stderr, !data.isEmpty else { return }
        guard input.count + data.count <= Self.maxBufferedInput else {
            closeReason = closeReason ?? "more than \(Self.maxBufferedInput) bytes of unread input"
            return
        }
        input.append(contentsOf: data)
        lastActivity = Self.now()
    }

    // MARK: Helpers

    /// The session's socket failed or the client disconnected.
    private var isGone: Bool {
        freed || ssh_get_status(session) & (SSH_CLOSED | SSH_CLOSED_ERROR) != 0
    }

    private var lastError: String {
        guard !freed, let text = ssh_get_error(UnsafeMutableRawPointer(session)) else { return "unknown error" }
        return String(cString: text)
    }

    /// True when `descriptor` has something to read now (never waits).
    static func isReadable(_ descriptor: Int32) -> Bool {
        var check = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&check, 1, 0) > 0 && check.revents & Int16(POLLIN) != 0
    }

    private static func clamp(_ value: Int32) -> Int { Int(min(max(value, 0), 10_000)) }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000
    }
}
