public import BosunConfig
public import BosunCore
public import BosunStore
public import Foundation
public import Logging

/// One thing worth telling a person, already redacted, escaped and bounded.
public struct Notice: Sendable, Equatable {
    public var event: NotifyConfig.Event
    /// The host it concerns; `*` for the whole fleet (a breaker).
    public var host: HostName
    public var number: Int64?
    public var thread: ThreadID?
    public var tier: Tier?
    public var command: String?
    /// One line a person reads before deciding.
    public var summary: String
    /// The shell line that acts on it (`ssh -p 2222 sup show 42`).
    public var act: String
    public var expiresAt: Date?
    /// Requests waiting (host_down).
    public var waiting: Int?
    public var at: Date
}

/// Tells people, through the `[[notify]]` targets, that something waits for them. Every call from the
/// fleet returns at once: each target has its own bounded queue and worker (retries with exponential
/// backoff), so a slow or unreachable receiver never delays a decision. Deliveries are audited
/// (`notify`, with the target's name, never its URL).
public final class Notifier: Sendable {
    let targets: [NotifyTarget]
    let store: Store
    let logger: Logger
    let labels: [HostName: [String: String]]
    /// When each host's last host_down notice went out.
    let hostDowns = LockedValue<[HostName: Date]>([:])
    static let hostDownQuiet: Double = 300

    public init(config: SupervisorConfig, store: Store, logger: Logger) {
        self.store = store
        self.logger = logger
        self.labels = Dictionary(uniqueKeysWithValues: config.hosts.map { (HostName($0.name), $0.labels) })
        let prefix = Self.defaultActPrefix(config.frontDoor)
        self.targets = config.notify.map {
            NotifyTarget(config: $0, actPrefix: $0.act ?? prefix, store: store, logger: logger)
        }
    }

    /// Starts each target's worker.
    public func start() {
        // A `command` target that exits without reading its stdin must cost an EPIPE, not bosund.
        if targets.contains(where: { $0.config.kind == .command }) { signal(SIGPIPE, SIG_IGN) }
        for target in targets { target.start() }
        // Requests still pending from before a restart get their warnings too.
        let warned = targets.filter { $0.config.events.contains(.expiring) }
        guard !warned.isEmpty else { return }
        let store = store
        let labels = labels
        let logger = logger
        Task {
            do {
                for record in try await store.requests(status: [.pending]) {
                    for target in warned {
                        target.scheduleWarning(record, labels: labels[record.host] ?? [:])
                    }
                }
            } catch {
                logger.error("notify: cannot list pending requests", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Stops the workers, cancelling deliveries in flight; what is still queued is not sent.
    public func stop() async {
        for target in targets { await target.stop() }
    }

    /// Messages dropped per target because its queue was full (since start).
    public var dropped: [String: Int] {
        Dictionary(uniqueKeysWithValues: targets.map { ($0.config.name, $0.droppedCount) })
    }

    /// `ssh -p PORT HOSTNAME` when the front door listens, else `bosun` (run on this machine).
    static func defaultActPrefix(_ door: FrontDoorConfig?) -> String {
        guard let door else { return "bosun" }
        let local = ["", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost"]
        let address = local.contains(door.address) ? Self.hostName() : door.address
        return door.port == 22 ? "ssh \(address)" : "ssh -p \(door.port) \(address)"
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let safe = name.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "." || $0 == "-")
        }
        return safe && !name.isEmpty ? name : "localhost"
    }

    // MARK: Events (called from the fleet; never wait)

    /// A new request waits for a person; also schedules each target's expiry warning.
    public func ask(_ record: RequestRecord) {
        for target in targets {
            let notice = NoticeText.ask(record, event: .ask, actPrefix: target.actPrefix)
            let hostLabels = labels[record.host] ?? [:]
            if target.matches(notice, labels: hostLabels) { target.offer(notice) }
            target.scheduleWarning(record, labels: hostLabels)
        }
    }

    /// A host's link went down: if requests from it wait, say so (looked up off the fleet actor).
    /// A host that flaps is reported once per `hostDownQuiet` seconds.
    public func hostDown(_ host: HostName, reason: String, now: Date = Date()) {
        guard targets.contains(where: { $0.config.events.contains(.hostDown) }) else { return }
        let quiet = hostDowns.withLock { last in
            if let previous = last[host], now.timeIntervalSince(previous) < Self.hostDownQuiet { return true }
            last[host] = now
            return false
        }
        guard !quiet else { return }
        let store = store
        let labels = labels[host] ?? [:]
        let targets = targets
        let logger = logger
        Task {
            let waiting: [RequestRecord]
            do {
                waiting = try await store.requests(status: [.pending]).filter { $0.host == host }
            } catch {
                logger.error("notify: cannot list waiting requests", metadata: ["error": "\(error)"])
                return
            }
            guard !waiting.isEmpty else { return }
            for target in targets {
                let notice = NoticeText.hostDown(
                    host, reason: reason, waiting: waiting, actPrefix: target.actPrefix)
                if target.matches(notice, labels: labels) { target.offer(notice) }
            }
        }
    }

    /// Someone pulled the fleet-wide breaker.
    public func breaker(by name: String, reason: String, hard: Bool) {
        for target in targets {
            let notice = NoticeText.breaker(by: name, reason: reason, hard: hard, actPrefix: target.actPrefix)
            if target.matches(notice, labels: [:]) { target.offer(notice) }
        }
    }
}

/// A value behind a lock, for state shared with non-isolated callers.
final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.withLock { body(&value) }
    }
}

/// One `[[notify]]` target: its filters, bounded queue, digest batching, and delivery worker.
final class NotifyTarget: @unchecked Sendable {
    let config: NotifyConfig
    let actPrefix: String
    let store: Store
    let logger: Logger
    let session: URLSessionBox
    private let lock = NSLock()
    /// Notices offered and not yet taken by the worker (the queue's bound).
    private var queued = 0
    private var dropped = 0
    private var warnings: [Int64: Task<Void, Never>] = [:]
    private var worker: Task<Void, Never>?
    private let stream: AsyncStream<Input>
    private let continuation: AsyncStream<Input>.Continuation

    enum Input: Sendable {
        case notice(Notice)
        /// The digest window of batch `generation` closed.
        case flush(Int)
    }

    /// Pending expiry warnings at most (beyond, a warning is skipped and logged).
    static let maxWarnings = 10_000

    init(config: NotifyConfig, actPrefix: String, store: Store, logger: Logger) {
        self.config = config
        self.actPrefix = actPrefix
        self.store = store
        self.logger = logger
        self.session = URLSessionBox(timeout: config.timeout)
        (stream, continuation) = AsyncStream.makeStream(of: Input.self)
    }

    var droppedCount: Int { lock.withLock { dropped } }

    /// Whether `notice` passes this target's `events`, `tiers`, `hosts` and `labels` filters. A
    /// fleet-wide notice (host `*`) passes host and label filters; one without a tier passes `tiers`.
    func matches(_ notice: Notice, labels hostLabels: [String: String]) -> Bool {
        guard config.events.contains(notice.event) else { return false }
        if let tier = notice.tier, !config.tiers.isEmpty, !config.tiers.contains(tier) { return false }
        if notice.host != "*" {
            if !config.hosts.isEmpty && !config.hosts.contains(notice.host.rawValue) { return false }
            for (key, value) in config.labels where hostLabels[key] != value { return false }
        }
        return true
    }

    /// Queues `notice` unless the queue is full (then it is dropped, counted and logged).
    func offer(_ notice: Notice) {
        let accepted: Bool = lock.withLock {
            guard queued < config.queue else {
                dropped += 1
                return false
            }
            queued += 1
            return true
        }
        guard accepted else {
            let count = droppedCount
            if count == 1 || count % 100 == 0 {
                logger.warning(
                    "notify: queue full; message dropped",
                    metadata: ["notify.target": "\(config.name)", "dropped": "\(count)", "event": "\(notice.event)"])
            }
            return
        }
        continuation.yield(.notice(notice))
    }

    /// Sleeps until the warning time of `record`, then offers an `expiring` notice if it still waits.
    func scheduleWarning(_ record: RequestRecord, labels: [String: String]) {
        let warning = NoticeText.ask(record, event: .expiring, actPrefix: actPrefix)
        guard matches(warning, labels: labels) else { return }
        let window = record.expiresAt.timeIntervalSince(record.receivedAt)
        let warnAt =
            config.warnBefore.map { record.expiresAt.addingTimeInterval(-$0) }
            ?? record.receivedAt.addingTimeInterval(window * 0.8)
        guard warnAt > record.receivedAt, warnAt < record.expiresAt else { return }
        let number = record.number
        let actPrefix = actPrefix
        // Checked and inserted under one lock: a task that fires at once removes its own entry after.
        let scheduled: Bool? = lock.withLock {
            guard warnings[number] == nil else { return nil }
            guard warnings.count < Self.maxWarnings else { return false }
            warnings[number] = Task { [weak self] in
                let wait = warnAt.timeIntervalSinceNow
                if wait > 0 {
                    do {
                        try await Task.sleep(for: .milliseconds(Int64(min(wait, 86400 * 7) * 1000)))
                    } catch {
                        return
                    }
                }
                guard let self else { return }
                self.lock.withLock { _ = self.warnings.removeValue(forKey: number) }
                guard let current = try? await self.store.request(number: number), current.status == .pending else {
                    return
                }
                let notice = NoticeText.ask(current, event: .expiring, actPrefix: actPrefix)
                if self.matches(notice, labels: labels) { self.offer(notice) }
            }
            return true
        }
        if scheduled == false {
            logger.warning(
                "notify: too many pending expiry warnings; one skipped", metadata: ["request.number": "\(number)"])
        }
    }

    func start() {
        let stream = stream
        let task = Task { [weak self] in
            var batch: [Notice] = []
            var generation = 0
            for await input in stream {
                guard let self else { return }
                switch input {
                case .notice(let notice):
                    self.lock.withLock { self.queued -= 1 }
                    if notice.event == .ask && self.config.digest > 0 {
                        batch.append(notice)
                        if batch.count == 1 {
                            generation += 1
                            self.scheduleFlush(generation)
                        } else if batch.count >= NoticeText.maxItems {
                            await self.deliver(batch)
                            batch = []
                        }
                    } else {
                        await self.deliver([notice])
                    }
                case .flush(let closed):
                    if closed == generation && !batch.isEmpty {
                        await self.deliver(batch)
                        batch = []
                    }
                }
            }
        }
        lock.withLock { worker = task }
    }

    private func scheduleFlush(_ generation: Int) {
        let digest = config.digest
        let continuation = continuation
        Task {
            try? await Task.sleep(for: .milliseconds(Int64(digest * 1000)))
            continuation.yield(.flush(generation))
        }
    }

    func stop() async {
        continuation.finish()
        let (worker, pending) = lock.withLock { (self.worker, Array(warnings.values)) }
        for task in pending { task.cancel() }
        worker?.cancel()
        await worker?.value
    }

    /// Sends one message (retrying with exponential backoff) and audits how it went.
    func deliver(_ items: [Notice]) async {
        guard let first = items.first else { return }
        let message = NoticeText.message(items, target: config.name)
        var attempt = 0
        var problem = ""
        while attempt < config.attempts && !Task.isCancelled {
            attempt += 1
            if let failure = await send(message) {
                problem = failure
                logger.warning(
                    "notify: delivery failed",
                    metadata: [
                        "notify.target": "\(config.name)", "attempt": "\(attempt)", "error": "\(failure)",
                    ])
                guard attempt < config.attempts else { break }
                let delay = min(300, config.backoff * Double(1 << min(attempt - 1, 20)))
                do {
                    try await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
                } catch {
                    break
                }
            } else {
                problem = ""
                break
            }
        }
        if Task.isCancelled && !problem.isEmpty { problem = "bosund stopped before delivery" }
        let sent = problem.isEmpty && attempt > 0
        if sent {
            logger.info(
                "notify: sent",
                metadata: [
                    "notify.target": "\(config.name)", "event": "\(first.event.rawValue)", "items": "\(items.count)",
                ])
        } else {
            logger.error(
                "notify: gave up", metadata: ["notify.target": "\(config.name)", "attempts": "\(attempt)"])
        }
        let hosts = Set(items.map(\.host))
        do {
            try await store.audit(
                actor: "bosund", channel: "notify", host: hosts.count == 1 ? first.host : "*", kind: "notify",
                details: [
                    "target": .string(config.name), "via": .string(config.kind.rawValue),
                    "event": .string(first.event.rawValue), "result": .string(sent ? "sent" : "failed"),
                    "attempts": .int(Int64(attempt)),
                    "requests": .strings(items.compactMap { $0.number.map(String.init) }),
                    "error": sent ? .null : .string(String(problem.prefix(200))),
                ])
        } catch {
            logger.error("notify: audit failed", metadata: ["error": "\(error)"])
        }
    }
}
