import BosunConfig
import BosunCore
import BosunSSH
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// What a link tells the fleet, delivered in order per host: the host's messages as decoded (the
/// message table's `HostMessage`), and what the link itself observed.
enum LinkEvent: Sendable {
    /// A message from the host, every field in range; `hostKey` is the fingerprint of the key of
    /// the link it came over (what `hello` records).
    case message(Envelope<HostMessage>, hostKey: String)
    case state(LinkStateMachine.State)
    /// The link's latest measurements, for the store: the round trip of its last answered ping (ms;
    /// nil before the first) and when it last read anything from the host. Sent on the first pong,
    /// then at most every `Fleet.roundTripPersistInterval`, and when the session ends: listings
    /// read the live values from the link (`HostLink.measurements`), not from an event per pong.
    case measured(rttMs: Double?, lastSeen: Date)
    case protocolError(String)

    /// The host acknowledged a numbered supervisor message (an outbox entry).
    static func ack(_ seq: UInt64) -> LinkEvent { .message(Envelope(seq: 0, .ack(seq)), hostKey: "") }

    /// The seq an `ack` acknowledges; nil for any other event.
    var acknowledgedSeq: UInt64? {
        if case .message(let envelope, _) = self, case .ack(let seq) = envelope.message { return seq }
        return nil
    }
}

/// One host's SSH link, run on its own thread: libssh calls block, so they never touch the
/// concurrency pool. Outgoing messages are queued from any thread and wake the link via an eventfd.
final class HostLink: @unchecked Sendable {
    let host: HostConfig
    private let options: SSHClientOptions
    private let settings: LinkSettings
    private let logger: Logger
    private let emit: @Sendable (String, LinkEvent) -> Void
    private let codec = ProtocolCodec()

    private let lock = NSLock()
    /// Queued messages, encoded on the link's own thread: a fleet-wide action queues to every link
    /// without encoding each copy on the caller's (the fleet actor's) time.
    private var outgoing: [Envelope<SupervisorMessage>] = []
    private var stopping = false
    private let wakePipe = WakePipe()
    private var wakeDescriptor: Int32 { wakePipe.readEnd }
    private let finished = DispatchSemaphore(value: 0)
    /// The key fingerprint of the current connection (link thread only).
    private var currentHostKey = ""
    /// The round trip of the last answered ping and when the host was last heard from (under `lock`).
    private var measuredRttMs: Double?
    private var measuredLastSeen: Date?

    /// Three protocol errors drop the link (ARCHITECTURE.md §3).
    static let maxProtocolErrors = 3

    /// Shared by every link of a fleet: bounds the SSH handshakes in flight.
    private let connectSlots: DispatchSemaphore

    init(
        host: HostConfig, supervisor: SupervisorConfig, logger: Logger, connectSlots: DispatchSemaphore,
        emit: @escaping @Sendable (String, LinkEvent) -> Void
    ) {
        self.connectSlots = connectSlots
        self.host = host
        self.settings = supervisor.links
        self.options = SSHClientOptions(
            address: host.address, port: host.port, user: host.user, identityFile: host.identity ?? supervisor.identity,
            knownHostsFile: supervisor.knownHosts, pinnedHostKey: host.hostKey,
            connectTimeout: supervisor.links.connectTimeout, command: host.command)
        var logger = logger
        logger[metadataKey: "host.name"] = "\(host.name)"
        self.logger = logger
        self.emit = emit
    }

    func start() {
        let thread = Thread { [self] in
            Self.nameThread("link-\(host.name)")
            run()
            finished.signal()
        }
        thread.name = "bosun-link-\(host.name)"
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// Gives the calling thread a kernel name (top -H, /proc/PID/task/TID/comm; at most 15 bytes),
    /// so a link thread can be told apart and watched. Best effort: nothing happens without /proc.
    static func nameThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Asks the link to end and waits (off the pool) until its thread has finished.
    func stop() async {
        lock.withLock { stopping = true }
        wake()
        await offThePool { [finished] in finished.wait() }
    }

    /// Queues a message for the host; dropped if the link is down (the protocol resends on reconnect).
    func send(_ message: SupervisorMessage, seq: UInt64 = 0) {
        lock.withLock { outgoing.append(Envelope(seq: seq, message)) }
        wake()
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    /// The round trip of the last answered ping (ms) and when anything last came from the host,
    /// on the current or the last connection; what `hosts` shows while the link is up.
    var measurements: (rttMs: Double?, lastSeen: Date?) { lock.withLock { (measuredRttMs, measuredLastSeen) } }

    private func wake() { wakePipe.wake() }

    private func drainWake() { wakePipe.drain() }

    // MARK: The link's thread

    private func run() {
        var machine = LinkStateMachine(
            settings: .init(initialDelay: settings.backoffInitial, maxDelay: settings.backoffMax))
        var action = machine.start()
        while !isStopping {
            switch action {
            case .connect:
                emit(host.name, .state(machine.state))
                lock.withLock { outgoing.removeAll() }
                do {
                    connectSlots.wait()
                    let opened = Result { () throws(SSHError) in try SSHExecChannel(options: options) }
                    connectSlots.signal()
                    let channel = try opened.get()
                    currentHostKey = channel.hostKeyFingerprint
                    _ = machine.connected(now: Date())
                    emit(host.name, .state(machine.state))
                    logger.info("link up", metadata: ["host.key": "\(channel.hostKeyFingerprint)"])
                    let reason = session(channel)
                    reportMeasurements()
                    if isStopping { break }
                    logger.warning("link lost", metadata: ["reason": "\(reason)"])
                    action = machine.linkLost(reason: reason, now: Date(), unit: Double.random(in: 0..<1))
                } catch {
                    logger.warning("link failed", metadata: ["reason": "\(error.message)"])
                    action = machine.connectFailed(
                        reason: error.message, transient: error.isTransient, now: Date(), unit: Double.random(in: 0..<1)
                    )
                }
                emit(host.name, .state(machine.state))
            case .waitUntil(let date):
                waitUntil(date)
                action = machine.retryDue(now: Date())
            case .close, .none:
                lock.withLock { stopping = true }
            }
        }
        _ = machine.stop()
        emit(host.name, .state(machine.state))
    }

    private func waitUntil(_ date: Date) {
        while !isStopping {
            let remaining = date.timeIntervalSinceNow
            if remaining <= 0 { return }
            var fd = pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)
            if poll(&fd, 1, Int32(min(remaining * 1000, 60_000).rounded(.up))) > 0 { drainWake() }
        }
    }

    /// Runs one established link until it ends; returns why it ended.
    private func session(_ channel: SSHExecChannel) -> String {
        var framer = LineFramer()
        var stderrTail = StderrTail()
        var loggedStderrLines = 0
        /// Logs completed stderr lines (bounded per link) and says why the link ended, with the
        /// first line the host command wrote to stderr.
        func ended(_ reason: String) -> String {
            logStderr(stderrTail.flush(), logged: &loggedStderrLines)
            guard let line = stderrTail.firstLine else { return reason }
            return "\(reason): \(line)"
        }
        var helloSeen = false
        var errors = 0
        var keepalive = Keepalive(
            interval: settings.keepaliveInterval, timeout: settings.keepaliveTimeout,
            now: DispatchTime.now().uptimeNanoseconds)
        // The ping that lets the host hold its answer for an interval (the same hold on every one).
        let hold = keepalive.holdMilliseconds(forNonce: .max)
        let heldPing = ProbeLine {
            ProtocolCodec().encode(Envelope(seq: 0, SupervisorMessage.ping(Probe(nonce: $0, holdMs: hold))))
        }
        /// When the measurements last went to the fleet (for the store); nil: not yet on this link.
        var reportedAt: UInt64?
        // Token bucket: a host may send maxMessagesPerSecond sustained, bursts of five seconds' worth.
        let rate = Double(settings.maxMessagesPerSecond)
        var tokens = rate * 5
        var lastRefill = DispatchTime.now().uptimeNanoseconds

        while !isStopping {
            let received: (stdout: Data, stderr: Data)
            do {
                received = try channel.readAvailable()
            } catch {
                return ended(error.message)
            }
            let now = DispatchTime.now().uptimeNanoseconds
            if !received.stdout.isEmpty {
                keepalive.heard(now: now)
                let seen = Date()
                lock.withLock { measuredLastSeen = seen }
                channel.acknowledgeQuickly()
            }
            tokens = min(rate * 5, tokens + Double(now - lastRefill) / 1e9 * rate)
            lastRefill = now
            for item in framer.append(received.stdout) {
                tokens -= 1
                if tokens < 0 {
                    let reason = "message rate over \(Int(rate))/s"
                    emit(host.name, .protocolError(reason))
                    return "dropped: \(reason)"
                }
                let problem: String?
                switch item {
                case .oversized(let size):
                    problem = ProtocolError(.lineTooLong, "\(size) bytes").description
                case .line(let line):
                    if helloSeen, let ping = keepalive.pending, let heldMs = Self.pongHeld(line, nonce: ping.nonce) {
                        // The answer to our ping, recognised by its bytes (no decoding): its round
                        // trip stays in the link; the fleet hears of it only now and then.
                        if let rtt = keepalive.answered(nonce: ping.nonce, now: now, heldMs: heldMs) {
                            measured(rtt, now, &reportedAt)
                        }
                        problem = nil
                    } else {
                        problem = handle(line, helloSeen: &helloSeen, keepalive: &keepalive, now: now) {
                            measured($0, now, &reportedAt)
                        }
                    }
                }
                if let problem {
                    errors += 1
                    logger.error("protocol error", metadata: ["error": "\(problem)", "errors": "\(errors)"])
                    emit(host.name, .protocolError(problem))
                    if errors >= Self.maxProtocolErrors {
                        return "dropped after \(errors) protocol errors (last: \(problem))"
                    }
                }
            }
            if !received.stderr.isEmpty {
                logStderr(stderrTail.append(received.stderr), logged: &loggedStderrLines)
            }

            let pending = lock.withLock {
                defer { outgoing.removeAll() }
                return outgoing
            }
            do {
                for envelope in pending { try channel.write(codec.encode(envelope)) }
            } catch {
                return ended(error.message)
            }
            // A blocking write can read packets while it waits (window, rekey): what it read sits in
            // libssh's buffers, not the socket, so the next pass reads before it blocks.
            var wrote = !pending.isEmpty
            if wrote { keepalive.wrote(now: now) }

            if keepalive.timedOut(now: now) {
                return "no traffic for \(Int(settings.keepaliveTimeout)) s (keepalive timeout)"
            }
            // After a held pong (the host waited an interval to answer) the next ping is already
            // due: it goes out in this wake-up, the one that read the pong.
            if let nonce = keepalive.ping(now: now, helloSeen: helloSeen) {
                do {
                    let ping = keepalive.holdMilliseconds(forNonce: nonce) == nil ? ProbeLine.ping : heldPing
                    try channel.write(ping.line(nonce: nonce))
                } catch {
                    return ended(error.message)
                }
                wrote = true
            }
            // Sleep until something arrives (the host, a queued message, stop) or the next deadline:
            // no periodic tick, so an idle link costs a ping and a pong per keepalive interval.
            let waitMs = wrote ? 0 : keepalive.waitMilliseconds(now: now, helloSeen: helloSeen)
            if channel.wait(wakeDescriptor: wakeDescriptor, timeoutMs: waitMs) { drainWake() }
        }
        return "stopped"
    }

    /// How long the host held the pong in `line` (0: answered at once) when `line` is, byte for
    /// byte, our codec's pong for `nonce`, plain or held; nil for anything else (decode it).
    static func pongHeld(_ line: Data, nonce: UInt64) -> UInt64? {
        if let held = HeldPongLine.pong.heldMs(line, nonce: nonce) { return held }
        return ProbeLine.pong.matches(line, nonce: nonce) ? 0 : nil
    }

    /// Keeps a ping's round trip for listings, and hands the measurements to the fleet (for the
    /// store) on the link's first pong and then at most every `Fleet.roundTripPersistInterval`.
    private func measured(_ rttMs: Double, _ now: UInt64, _ reportedAt: inout UInt64?) {
        let seen: Date? = lock.withLock {
            measuredRttMs = rttMs
            return measuredLastSeen
        }
        let every = Keepalive.nanoseconds(Fleet.roundTripPersistInterval)
        if let last = reportedAt, now - min(now, last) < every { return }
        reportedAt = now
        emit(host.name, .measured(rttMs: rttMs, lastSeen: seen ?? Date()))
    }

    /// Hands the link's last measurements to the fleet when a session ends (stored with the state).
    private func reportMeasurements() {
        let (rttMs, lastSeen) = measurements
        if let lastSeen { emit(host.name, .measured(rttMs: rttMs, lastSeen: lastSeen)) }
    }

    /// How long a link may sleep (poll timeout, ms): until the keepalive timeout (the last inbound
    /// traffic plus `timeout`) or the next ping, whichever is first; rounded up so it does not wake
    /// just before a deadline, and at most a minute (a bounded Int32). Before hello and while a
    /// ping is unanswered there is no next ping: only the timeout is due.
    static func waitMilliseconds(now: UInt64, lastInbound: UInt64, timeout: UInt64, nextPing: UInt64?) -> Int32 {
        var deadline = lastInbound.addingReportingOverflow(timeout)
        if deadline.overflow { deadline.partialValue = .max }
        let due = min(deadline.partialValue, nextPing ?? .max)
        guard due > now else { return 0 }
        let milliseconds = (due - now) / 1_000_000 + ((due - now) % 1_000_000 == 0 ? 0 : 1)
        return Int32(min(milliseconds, 60_000))
    }

    /// At most this many stderr lines per link reach the log; the tail keeps the last ones anyway.
    static let maxLoggedStderrLines = 200

    private func logStderr(_ lines: [String], logged: inout Int) {
        for line in lines {
            logged += 1
            if logged <= Self.maxLoggedStderrLines {
                logger.notice("host stderr", metadata: ["text": "\(line)"])
            } else if logged == Self.maxLoggedStderrLines + 1 {
                logger.notice("host stderr: further lines on this link are not logged")
            }
        }
    }

    /// Decodes and forwards one line; returns a description of the problem if it was bad. A pong
    /// that answers the pending ping (in a spelling other than our codec's) goes to `answered`.
    private func handle(
        _ line: Data, helloSeen: inout Bool, keepalive: inout Keepalive, now: UInt64, answered: (Double) -> Void
    ) -> String? {
        let envelope: Envelope<HostMessage>
        do {
            envelope = try codec.decodeHostMessage(line)
        } catch {
            return error.description
        }
        switch envelope.message {
        case .hello:
            helloSeen = true
        case _ where !helloSeen:
            return "message before hello"
        case .pong(let probe):
            if let rtt = keepalive.answered(nonce: probe.nonce, now: now, heldMs: probe.heldMs) { answered(rtt) }
            return nil
        default:
            break
        }
        // The codec has bounded every field, number and timestamp (MessageBody.validationProblem).
        emit(host.name, .message(envelope, hostKey: currentHostKey))
        return nil
    }
}
