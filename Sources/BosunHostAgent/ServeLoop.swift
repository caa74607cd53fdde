import BosunCore
import FoundationEssentials

#if canImport(Glibc)
    public import Glibc
#endif

/// `bosun-host serve`: speaks host protocol v1 on stdin/stdout for one supervisor link.
///
/// On start it says `hello` and reports every thread in the spool (the resend after a reconnect:
/// each link gets a fresh `serve`); then it reports each thread file as it changes (inotify), answers
/// pings, and marks threads whose process vanished as exited. It ends when stdin closes, or when
/// nothing has come from the supervisor for `silenceTimeout` seconds (a frozen or partitioned
/// supervisor pings no more): it then releases the link so hooks fall back to the snapshot.
public final class ServeLoop {
    /// Default `silenceTimeout`: a few of the supervisor's keepalive intervals (10 s by default).
    public static let defaultSilenceTimeout: Double = 45

    public static let version = "0.1.0"

    private let spool: Spool
    private let input: Int32
    private let output: Int32
    private let codec = ProtocolCodec()
    private var framer = LineFramer()
    private var nextSeq: UInt64 = 1
    /// Numbered messages not yet acknowledged, by seq.
    private(set) var unacked: [UInt64: Envelope<HostMessage>] = [:]
    /// When each unacknowledged message was last written and how often: one the supervisor could
    /// not store (its disk full) is written again after `resendDelay`, doubling, not only on the
    /// next link.
    private var written: [UInt64: (at: UInt64, attempts: Int)] = [:]
    static let resendDelay: Double = 10
    /// Outbox files by the seq they were sent with; deleted when acknowledged.
    private var outboxBySeq: [UInt64: String] = [:]
    private var outboxSent: Set<String> = []
    private var lastPrune = Date.distantPast
    /// The shared lock on `link.lock` while the supervisor link is welcomed (released at exit).
    private var linkLock: Int32 = -1
    private var protocolErrors = 0
    /// How often live-looking threads are checked for a vanished process, in milliseconds.
    private let livenessIntervalMs: Int32
    /// Seconds without a byte from the supervisor before the link is given up: set by the caller,
    /// or else a few of the supervisor's ping intervals (from `welcome`), or else the default.
    private var silenceTimeout: Double
    private let silenceTimeoutIsSet: Bool
    /// A ping the supervisor let us hold (`Probe.holdMs`): answered when its hold is over (monotonic
    /// ns), or at once when another ping comes. The supervisor then pings again in the wake-up that
    /// reads the pong (issue 10: one wake-up of its link per idle interval).
    private var heldPing: (nonce: UInt64, receivedAt: UInt64, dueAt: UInt64)?
    /// Pauses whose file could not be written (the spool's disk full), by seq, in arrival order:
    /// their agents are signalled, the supervisor was told once (`pause_not_recorded`) and has no
    /// ack. Each is written again at every liveness tick and before any later pause or resume
    /// (order kept), and acknowledged once it is recorded; a resume for the same pause drops it
    /// (acknowledged as superseded, so the supervisor never sends a pause it took back again).
    private var unrecordedPauses: [(seq: UInt64, pause: Pause)] = []
    static let maxUnrecordedPauses = 64

    public init(
        spool: Spool, input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO, livenessIntervalMs: Int32 = 2000,
        silenceTimeout: Double? = nil
    ) {
        self.spool = spool
        self.input = input
        self.output = output
        self.livenessIntervalMs = livenessIntervalMs
        self.silenceTimeout = silenceTimeout ?? Self.defaultSilenceTimeout
        self.silenceTimeoutIsSet = silenceTimeout != nil
    }

    /// Three of the supervisor's ping intervals and two seconds: a silent supervisor is given up
    /// well before a hook's deadline, a slow ping is not.
    static func silenceTimeout(keepaliveInterval: Double) -> Double { 3 * keepaliveInterval + 2 }

    /// `BOSUN_SERVE_SILENCE_TIMEOUT` (seconds, > 0), else nil (follow the supervisor's pings).
    public static func silenceTimeout(environment: [String: String]) -> Double? {
        if let value = environment["BOSUN_SERVE_SILENCE_TIMEOUT"].flatMap(Double.init), value > 0, value.isFinite {
            return value
        }
        return nil
    }

    /// Runs until the supervisor closes the channel. Returns the process exit status.
    public func run() throws(SpoolError) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        try spool.prepare()
        let watch = DirectoryWatch()
        for directory in [spool.threadsDirectory, spool.requestsDirectory, spool.outboxDirectory] {
            try watch.add(directory)
        }
        // The lock goes first, then link.json: a hook woken by either sees the link gone.
        defer { releaseLink() }

        // Everything the spool holds is (re)sent on each new link: the resend after a reconnect.
        // The hook coverage summary (`bosun hosts`): doctor's checks, without running hooks.
        let hooks = Doctor(spool: spool, runProbe: false, checkLink: false).run().hooksSummary
        guard send(.hello(Self.hello(hooks: hooks))) else { return 0 }
        reapVanished()
        for thread in spool.readThreads() {
            guard send(.thread(thread)) else { return 0 }
        }
        for request in spool.pendingRequests() {
            guard send(.request(request)) else { return 0 }
        }
        guard sendOutbox() else { return 0 }

        var fds = [
            pollfd(fd: input, events: Int16(POLLIN), revents: 0),
            pollfd(fd: watch.descriptor, events: Int16(POLLIN), revents: 0),
        ]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var lastHeard = MonotonicClock.nanoseconds()
        var lastReap = lastHeard
        while true {
            let silenceNs = UInt64(min(silenceTimeout, 86400 * 365) * 1e9)
            fds[0].revents = 0
            fds[1].revents = 0
            let now = MonotonicClock.nanoseconds()
            if now - lastHeard >= silenceNs {
                // A frozen or cut-off supervisor: give the link up so hooks decide from the snapshot.
                log("nothing from the supervisor for \(silenceTimeout) s; releasing the link")
                return 3
            }
            let untilSilence = Int32(min(Double(silenceNs - (now - lastHeard)) / 1e6 + 1, 60_000))
            let untilReap = Int32(max(0, min(Double(livenessIntervalMs) - Double(now - lastReap) / 1e6, 60_000)))
            if let held = heldPing, now >= held.dueAt {
                guard answerHeldPing(now: now) else { return 0 }
                continue
            }
            let untilPong = heldPing.map { Int32(min(($0.dueAt - now) / 1_000_000 + 1, 60_000)) } ?? 60_000
            let ready = poll(&fds, 2, watch.boundedTimeout(max(0, min(untilSilence, untilReap, untilPong))))
            if ready < 0 {
                if errno == EINTR { continue }
                throw .errno("poll", "poll failed")
            }
            if MonotonicClock.nanoseconds() - lastReap >= UInt64(max(0, livenessIntervalMs)) * 1_000_000 {
                lastReap = MonotonicClock.nanoseconds()
                guard recordUnrecordedPauses() else { return 0 }
                reapVanished()
                guard resendUnacknowledged(now: lastReap) else { return 0 }
                if Date().timeIntervalSince(lastPrune) > 600 {
                    lastPrune = Date()
                    spool.prune()
                    spool.pruneTemporaries()
                }
            }
            if fds[1].revents & Int16(POLLIN) != 0 || watch.isPolling {
                var outboxChanged = false
                for (directory, name) in watch.drain() where name.hasSuffix(".json") {
                    let id = String(name.dropLast(5))
                    switch directory {
                    case spool.threadsDirectory:
                        if let thread = spool.readThread(id: ThreadID(id)), !send(.thread(thread)) { return 0 }
                    case spool.requestsDirectory:
                        if spool.readDecision(id: RequestID(id)) == nil,
                            let request = spool.readRequest(id: RequestID(id)),
                            !send(.request(request))
                        {
                            return 0
                        }
                    default:
                        outboxChanged = true
                    }
                }
                if outboxChanged && !sendOutbox() { return 0 }
            }
            if fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = read(input, &buffer, buffer.count)
                if n == 0 { return 0 }
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return 0
                }
                lastHeard = MonotonicClock.nanoseconds()
                for item in framer.append(Data(buffer[0..<n])) {
                    guard handle(item) else { return 2 }
                }
            }
        }
    }

    // MARK: Messages

    /// Handles one framed item from the supervisor; false when the link should end.
    private func handle(_ item: LineFramer.Item) -> Bool {
        switch item {
        case .oversized(let size):
            return protocolError(ProtocolError(.lineTooLong, "\(size) bytes"))
        case .line(let line):
            do {
                let envelope = try codec.decodeSupervisorMessage(line)
                switch envelope.message {
                case .welcome(let welcome):
                    if !silenceTimeoutIsSet, let interval = welcome.keepaliveInterval {
                        silenceTimeout = Self.silenceTimeout(keepaliveInterval: interval)
                    }
                    if let policy = welcome.policySnapshot {
                        try? spool.writePolicy(
                            PolicySnapshot(policy: policy, labels: welcome.labels, receivedAt: Date()))
                    }
                    if linkLock < 0 { linkLock = (try? spool.holdLink(pid: getpid())) ?? -1 }
                case .decision(let decision):
                    // Applied at most once (the spool refuses a second decision); always acknowledged.
                    let applied: Bool
                    do {
                        applied = try spool.applyDecision(decision)
                    } catch {
                        log("cannot store decision for \(decision.requestID): \(error)")
                        return true
                    }
                    // The hook already answered on its own: say what the agent got (before the ack),
                    // so the supervisor never records this decision as delivered to the agent.
                    if !applied, let local = spool.answeredLocally(decision), !send(.localDecision(local)) {
                        return false
                    }
                    // A decision without a seq is one the supervisor could not store (its disk full,
                    // or this host over its bounds): report what the agent was told, through the
                    // outbox, until the supervisor stores it.
                    if applied, envelope.seq == 0, let request = spool.readRequest(id: decision.requestID) {
                        try? spool.enqueue(
                            .localDecision(LocalDecision(request: request, decision: decision)),
                            name: "unstored-\(decision.requestID)")
                    }
                    if envelope.seq > 0 { return send(.ack(envelope.seq)) }
                case .steer(let steer):
                    do {
                        try spool.queueSteer(steer)
                    } catch {
                        log("cannot store steering message \(steer.messageID): \(error)")
                        return true
                    }
                    if envelope.seq > 0 { return send(.ack(envelope.seq)) }
                case .pause(let pause):
                    // Acknowledged once the pause file is durable and the agents are signalled (the
                    // pause holds from there); the thread files are rewritten after the ack, so the
                    // supervisor's wait does not include them.
                    guard recordUnrecordedPauses() else { return false }
                    let changes: [Spool.ThreadStateChange]
                    do {
                        changes = try spool.holdForPause(pause)
                    } catch {
                        // The agents are signalled all the same (fail closed); the supervisor is
                        // told the pause is not recorded here, and gets no ack until it is: it is
                        // written again at each tick (`recordUnrecordedPauses`).
                        log("cannot record pause: \(error)")
                        unrecordedPauses.removeAll { $0.seq == envelope.seq && envelope.seq > 0 }
                        unrecordedPauses.append((envelope.seq, pause))
                        // Bounded: the oldest beyond it stays unacknowledged, sent again on the next link.
                        if unrecordedPauses.count > Self.maxUnrecordedPauses { unrecordedPauses.removeFirst() }
                        return send(.event(Self.pauseNotRecorded(pause, error)))
                    }
                    let sent = envelope.seq == 0 || send(.ack(envelope.seq))
                    spool.recordThreadStates(changes)
                    return sent
                case .resume(let resume):
                    guard recordUnrecordedPauses(), dropUnrecordedPauses(resumedBy: resume) else { return false }
                    let changes = spool.releaseForResume(resume)
                    let sent = envelope.seq == 0 || send(.ack(envelope.seq))
                    spool.recordThreadStates(changes)
                    return sent
                case .ack(let seq):
                    unacked[seq] = nil
                    written[seq] = nil
                    if let name = outboxBySeq.removeValue(forKey: seq) {
                        spool.removeFromOutbox(name)
                        outboxSent.remove(name)
                    }
                case .ping(let probe):
                    let now = MonotonicClock.nanoseconds()
                    if heldPing != nil, !answerHeldPing(now: now) { return false }
                    guard let hold = probe.holdMs, hold > 0 else { return send(.pong(Probe(nonce: probe.nonce))) }
                    let due = now.addingReportingOverflow(min(hold, Probe.maxHoldMs) * 1_000_000)
                    heldPing = (probe.nonce, now, due.overflow ? .max : due.partialValue)
                }
                return true
            } catch {
                return protocolError(error)
            }
        }
    }

    /// Writes the pauses not recorded yet again, in order; each recorded one is acknowledged.
    /// Stops at the first that still fails (its agents are signalled again). False when the link
    /// should end.
    private func recordUnrecordedPauses() -> Bool {
        while let (seq, pause) = unrecordedPauses.first {
            guard let changes = try? spool.holdForPause(pause) else { return true }
            unrecordedPauses.removeFirst()
            log("pause recorded after all (seq \(seq))")
            guard seq == 0 || send(.ack(seq)) else { return false }
            spool.recordThreadStates(changes)
        }
        return true
    }

    /// A resume takes back the pause it names: one still not recorded is dropped and acknowledged
    /// (superseded), so it is neither written later nor sent again by the supervisor. False when
    /// the link should end.
    private func dropUnrecordedPauses(resumedBy resume: Resume) -> Bool {
        let named = { (pause: Pause) in
            pause.scope == resume.scope && pause.threadID == resume.threadID && pause.breakerID == resume.breakerID
        }
        let dropped = unrecordedPauses.filter { named($0.pause) }
        unrecordedPauses.removeAll { named($0.pause) }
        for (seq, _) in dropped where seq > 0 {
            guard send(.ack(seq)) else { return false }
        }
        return true
    }

    /// Answers the held ping, saying how long it was held; false when the link should end.
    private func answerHeldPing(now: UInt64) -> Bool {
        guard let held = heldPing else { return true }
        heldPing = nil
        let heldMs = (now - min(now, held.receivedAt)) / 1_000_000
        return send(.pong(Probe(nonce: held.nonce, heldMs: min(heldMs, Probe.maxHoldMs))))
    }

    /// Drops the link lock (hooks blocked on it wake at once), then the marker.
    private func releaseLink() {
        if linkLock >= 0 {
            flock(linkLock, LOCK_UN)
            close(linkLock)
            linkLock = -1
        }
        spool.clearLinkMarker(pid: getpid())
    }

    private func protocolError(_ error: ProtocolError) -> Bool {
        protocolErrors += 1
        log("protocol error from supervisor: \(error)")
        return protocolErrors < 3
    }

    /// Sends outbox entries not yet sent on this link. One the supervisor would refuse is dropped
    /// (logged), never resent for ever.
    private func sendOutbox() -> Bool {
        for (name, message) in spool.outbox() where !outboxSent.contains(name) {
            if let problem = Self.undeliverable(message) {
                log("dropping outbox entry \(name): \(problem)")
                spool.removeFromOutbox(name)
                continue
            }
            outboxSent.insert(name)
            outboxBySeq[nextSeq] = name
            guard send(message) else { return false }
        }
        return true
    }

    /// Writes again what the supervisor has not acknowledged for a while (10 s, then 20 s, … up to
    /// 160 s): its effects are idempotent by id, so a second copy is harmless. A request answered
    /// meanwhile, or an outbox entry gone, is not resent. False when the supervisor is gone.
    private func resendUnacknowledged(now: UInt64) -> Bool {
        for (seq, last) in written {
            let delay = Self.resendDelay * Double(1 << min(last.attempts, 4))
            guard Double(now &- last.at) >= delay * 1e9, let envelope = unacked[seq] else { continue }
            var stale = false
            if case .request(let request) = envelope.message { stale = spool.readDecision(id: request.id) != nil }
            if let name = outboxBySeq[seq] {
                stale = stale || !FileManager.default.fileExists(atPath: spool.outboxDirectory + "/" + name)
            }
            if stale {
                unacked[seq] = nil
                written[seq] = nil
                continue
            }
            written[seq] = (now, last.attempts + 1)
            guard codec.encode(envelope).withUnsafeBytes({ FileDescriptor.writeAll(output, $0) }) else { return false }
        }
        return true
    }

    /// Writes one message; false when the supervisor is gone. A message the supervisor would
    /// refuse (a protocol error, resent on every link, so the link would never recover) is not
    /// sent: a request is answered here with a denial its hook reads, anything else is logged.
    @discardableResult
    private func send(_ message: HostMessage) -> Bool {
        if let problem = Self.undeliverable(message) {
            if case .request(let request) = message { refuseUndeliverable(request, problem) }
            log("not sending an undeliverable message: \(problem)")
            return true
        }
        var envelope = Envelope(seq: 0, message)
        if message.kind?.isAcknowledged == true {
            envelope.seq = nextSeq
            nextSeq += 1
            if case .thread(let thread) = message {
                // A newer report of a thread supersedes an older one still unacknowledged.
                for (seq, old) in unacked {
                    if case .thread(let earlier) = old.message, earlier.id == thread.id {
                        unacked[seq] = nil
                        written[seq] = nil
                    }
                }
            }
            unacked[envelope.seq] = envelope
            written[envelope.seq] = (MonotonicClock.nanoseconds(), 0)
        }
        return codec.encode(envelope).withUnsafeBytes { FileDescriptor.writeAll(output, $0) }
    }

    /// What `serve` reports when a pause cannot be recorded (kind `pause_not_recorded`): the
    /// thread (a thread pause) or the breaker id (a pause of all), and the error.
    static func pauseNotRecorded(_ pause: Pause, _ error: SpoolError) -> ThreadEvent {
        ThreadEvent(
            threadID: pause.threadID ?? ThreadID(""), kind: "pause_not_recorded",
            text: "\(pause.breakerID.map { "breaker \($0)" } ?? "thread pause"): \(error.message)")
    }

    /// Why the supervisor would refuse `message` (the codec's range checks, and the line limit), or nil.
    static func undeliverable(_ message: HostMessage) -> String? {
        if let problem = message.validationProblem { return problem }
        let size = ProtocolCodec().encode(Envelope(seq: 1, message)).count
        return size > HostProtocol.maxLineBytes ? "\(size) bytes, over the link's \(HostProtocol.maxLineBytes)" : nil
    }

    /// Answers a request that cannot reach the supervisor: deny, so its hook stops waiting.
    private func refuseUndeliverable(_ request: ApprovalRequest, _ problem: String) {
        let decision = Decision.hostClaim(
            .undeliverable, request: request.id,
            reason: "Bosun: the request cannot be sent to the supervisor (\(problem)); denied (fail closed).",
            at: Date())
        do {
            try spool.applyDecision(decision)
        } catch {
            log("cannot answer undeliverable request \(request.id): \(error)")
        }
    }

    // MARK: Host facts

    static func hello(hooks: String? = nil) -> Hello {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        let bootID =
            (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingSpacesAndNewlines() ?? ""
        return Hello(
            hostVersion: version,
            hostname: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
            bootID: bootID, capabilities: ["threads"], hooks: hooks.map(Hello.boundedHooks), helperVersion: version)
    }

    /// Marks threads whose process no longer exists as exited (their `run` was killed before it could).
    private func reapVanished() {
        for thread in spool.readThreads() where thread.state != .exited {
            guard thread.pid != nil, !spool.threadProcessAlive(thread) else { continue }
            _ = try? spool.updateThread(id: thread.id) {
                guard $0.state != .exited else { return }
                $0.state = .exited
                $0.lastActivity = Date()
            }
        }
    }

    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // Field 3, after the parenthesised command name, is the state; Z is a zombie, X dead.
        guard let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].trimmingSpaces().first
        return state != "Z" && state != "X"
    }

    private func log(_ message: String) {
        StandardStream.writeError("bosun-host: \(message)\n")
    }
}
