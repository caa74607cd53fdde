public import BosunConfig
public import BosunCore
public import BosunPolicy
public import BosunStore
public import Foundation
public import Logging

/// The link state words every surface uses (`hosts`, JSON, docs).
public enum LinkStateName: String, Sendable, Codable {
    case connecting, up, backoff, refused, idle, stopped
}

/// One host as the operator sees it: configuration, live link state and what it last reported.
public struct HostSummary: Sendable, Equatable {
    public var name: HostName
    public var address: String
    public var port: Int
    public var labels: [String: String]
    public var state: LinkStateName
    /// Why the link is not up (the last error), nil when up.
    public var reason: String?
    public var lastSeen: Date?
    public var rttMs: Double?
    /// Threads known on this host that have not exited.
    public var threads: Int
    public var hostKey: String?
    public var hostname: String?
    public var hostVersion: String?
    public var protocolErrors: Int
    /// The host's hook coverage summary (`claude,codex`, `none`, `broken: …`): untrusted text.
    public var hooks: String? = nil
    /// The bosun-host release the host last said hello with (untrusted text); nil from older hosts.
    public var helperVersion: String? = nil
    /// Messages whose content was not stored because the host is over a `[links] max_*_per_host`
    /// bound (since bosund started), and the last reason.
    public var dropped: Int = 0
    public var dropReason: String?
}

/// Every host link and what they report: keeps the store current and answers the control API.
public actor Fleet {
    let config: SupervisorConfig
    let store: Store
    let logger: Logger
    /// Each configured host's labels, by name (the configuration does not change while bosund runs).
    let hostLabels: [HostName: [String: String]]
    /// Tells people what waits for them (`[[notify]]`); every call returns at once.
    let notifier: Notifier?
    var links: [HostName: HostLink] = [:]
    var timeoutTask: Task<Void, Never>?
    /// True once `stopLinks` ran: links are not opened again.
    var linksStopped = false
    /// The audit row the newest checkpoint recorded.
    var checkpointedSeq: Int64 = 0
    /// The policy in force: the configuration's, until an admin reloads it.
    public internal(set) var policy: Policy
    /// `watch` subscribers.
    var subscribers: [UUID: AsyncStream<FleetEvent>.Continuation] = [:]
    /// Last reported state per `host/thread`, to publish changes only.
    var threadStates: [String: ThreadState] = [:]
    /// Callers waiting for a host to acknowledge an outbox entry.
    var ackWaiters = AckWaiters()
    var live: [HostName: LiveHost] = [:]
    /// Why the store refuses writes (e.g. the disk is full), since when, and how often; nil while it works.
    var storeProblem: (message: String, since: Date, failures: Int)?
    /// Requests whose agents were told deny because the store failed ("host\u{0}id" → that answer):
    /// a copy that arrives once the store works again is stored with this answer, never queued for
    /// a person (its agent has its answer). Bounded; the host's own report settles the rest.
    var unstoredAnswers: [String: Decision] = [:]
    /// The most requests stored in one transaction so far (group commit at work).
    var largestRequestBatch = 0
    private var consumer: Task<Void, Never>?
    /// What the links report; acknowledgements come out in batches (see `LinkEventQueue`).
    nonisolated let linkEvents = LinkEventQueue()

    /// A live host's last_seen and round trip are stored at most this often (seconds) while its
    /// link stays up; listings read them from memory, and state changes and stop store them at
    /// once. Every 30 s was 33 transactions a second at 1,000 idle hosts: most of bosund's idle CPU.
    static let roundTripPersistInterval: TimeInterval = 300

    /// Link facts held in memory; persisted to the store on change.
    struct LiveHost {
        private(set) var state: LinkStateMachine.State = .idle
        var record: HostRecord
        var protocolErrors = 0
        var lastPersisted = Date.distantPast
        var dropped = 0
        var dropReason: String?
        /// When the host last said it could not record a pause (`pause_not_recorded`).
        var pauseNotRecordedAt: Date?
        /// Why the link last failed (backoff, refused), kept while it retries: `hosts` shows it
        /// beside `connecting`, so an operator looking mid-retry still sees why (a changed host key).
        private(set) var lastFailure: String?

        init(record: HostRecord) { self.record = record }

        mutating func enter(_ state: LinkStateMachine.State) {
            self.state = state
            switch state {
            case .backoff(_, _, let reason), .refused(_, let reason): lastFailure = reason
            case .up, .stopped, .idle: lastFailure = nil
            case .connecting: break
            }
        }

        /// The state's name and reason as `hosts` shows them.
        var described: (LinkStateName, String?) {
            let (name, reason) = Fleet.describe(state)
            if reason == nil, case .connecting = state, let lastFailure {
                return (name, "retrying after: \(lastFailure)")
            }
            return (name, reason)
        }
    }

    var limits: HostLimits {
        HostLimits(
            threads: config.links.maxThreadsPerHost, requests: config.links.maxRequestsPerHost,
            outcomes: config.links.maxOutcomesPerHost, bytes: config.links.maxBytesPerHost)
    }

    /// Counts and logs a message not stored because its host is over a bound (the first, then
    /// every hundredth, so a flood cannot flood the log).
    func recordDrop(_ host: inout LiveHost, name: HostName, reason: String, what: String) {
        host.dropped += 1
        host.dropReason = reason
        if host.dropped == 1 || host.dropped % 100 == 0 {
            logger.warning(
                "host over its storage bound; not stored",
                metadata: [
                    "host.name": "\(name)", "what": "\(what)", "reason": "\(reason)", "dropped": "\(host.dropped)",
                ])
        }
    }

    public init(config: SupervisorConfig, store: Store, logger: Logger, notifier: Notifier? = nil) {
        self.config = config
        self.notifier = notifier
        self.policy = config.policy
        self.store = store
        self.logger = logger
        hostLabels = Dictionary(
            config.hosts.map { (HostName($0.name), $0.labels) }, uniquingKeysWith: { first, _ in first })
    }

    /// Loads the last known state (marked stale) and starts processing link events.
    public func start() async throws(StoreError) {
        try await store.syncHosts(configured: config.hosts.map { HostName($0.name) })
        try await store.markThreadsStale()
        let records = Dictionary(uniqueKeysWithValues: try await store.hosts().map { ($0.name, $0) })
        for host in config.hosts {
            live[HostName(host.name)] = LiveHost(
                record: records[HostName(host.name)] ?? HostRecord(name: HostName(host.name)))
        }
        let queue = linkEvents
        consumer = Task { [weak self] in
            while let item = await queue.next() {
                switch item {
                case .acks(let acks): await self?.acknowledge(acks)
                case .event(let host, let event): await self?.handle(host: host, event: event)
                case .requests(let requests): await self?.receive(requests)
                case .bringUp(let events): await self?.bringUp(events)
                case .threads(let events): await self?.storeThreads(events)
                }
            }
        }
        scheduleTimeouts()
    }

    /// Opens one link per configured host (after `start`, once the control socket answers, so
    /// operators can watch a large fleet come up).
    public func startLinks() {
        let queue = linkEvents
        let slots = DispatchSemaphore(value: config.links.maxConcurrentConnects)
        guard !linksStopped else { return }
        for host in config.hosts where links[HostName(host.name)] == nil {
            let link = HostLink(host: host, supervisor: config, logger: logger, connectSlots: slots) { name, event in
                queue.push(HostName(name), event)
            }
            links[HostName(host.name)] = link
            link.start()
        }
    }

    /// Closes every link and waits for their threads to end; what they reported before is still
    /// processed (see `stop`). Links are not opened again afterwards.
    public func stopLinks() async {
        linksStopped = true
        let closing = Array(links.values)
        links.removeAll()
        await withTaskGroup(of: Void.self) { group in
            for link in closing {
                group.addTask { await link.stop() }
            }
        }
    }

    /// Closes every link (if `stopLinks` did not already), then finishes processing what they
    /// reported and saves each host's state. The audit checkpoint is the caller's (`checkpointAudit`),
    /// written after this so that it covers everything stored here.
    public func stop() async {
        await stopLinks()
        linkEvents.finish()
        await consumer?.value
        timeoutTask?.cancel()
        for host in live.values {
            try? await store.saveHost(host.record)
        }
    }

    // MARK: Events

    private func handle(host name: HostName, event: LinkEvent) async {
        guard var host = live[name] else { return }
        defer { live[name] = host }
        do {
            switch event {
            case .state(let state):
                let wasUp = if case .up = host.state { true } else { false }
                host.enter(state)
                if case .up = state { host.record.lastSeen = Date() }
                if !wasUp, Self.isUp(state) { publish(name, "host", "up") }
                if wasUp, !Self.isUp(state) {
                    let (stateName, reason) = Self.describe(state)
                    publish(name, "host", "\(stateName.rawValue): \(reason ?? "link closed")")
                    if stateName != .stopped { notifier?.hostDown(name, reason: reason ?? "link closed") }
                    try await store.markThreadsStale(host: name)
                    try await store.saveHost(host.record)
                }
                if case .refused(_, let reason) = state { publish(name, "host", "refused: \(reason)") }
            case .measured(let rtt, let seen):
                // The link keeps its live values (`hosts` reads them); these are for the store.
                if let rtt { host.record.rttMs = rtt }
                host.record.lastSeen = max(host.record.lastSeen ?? seen, seen)
                if Date().timeIntervalSince(host.lastPersisted) > Self.roundTripPersistInterval {
                    host.lastPersisted = Date()
                    try await store.saveHost(host.record)
                }
            case .protocolError:
                host.protocolErrors += 1
            case .message(let envelope, let hostKey):
                let seq = envelope.seq
                switch envelope.message {
                case .hello(let hello):
                    // (Hellos come through `bringUp(_:)` in batches; a single one is handled alike.)
                    live[name] = host
                    await bringUp([(name, .message(Envelope(seq: seq, .hello(hello)), hostKey: hostKey))])
                    host = live[name] ?? host
                    return
                case .thread(let thread):
                    // (Threads come through `storeThreads(_:)` in batches; one alone is handled so.)
                    host.record.lastSeen = Date()
                    // Stored within the host's bounds (checked in the same transaction), or dropped.
                    if let reason = try await store.saveThread(host: name, thread, limits: limits) {
                        recordDrop(&host, name: name, reason: reason, what: "thread")
                        if seq > 0 { links[name]?.send(.ack(seq)) }
                        return
                    }
                    if seq > 0 { links[name]?.send(.ack(seq)) }
                    let key = "\(name)/\(thread.id)"
                    if threadStates.updateValue(thread.state, forKey: key) != thread.state {
                        publish(name, "thread", "\(key) \(thread.state.rawValue) (\(thread.agent.rawValue))")
                    }
                case .request(let request):
                    // (Requests come through `receive(_:)` in batches; a single one is handled alike.)
                    live[name] = host
                    await receive([LinkRequest(host: name, seq: seq, request: request)])
                    host = live[name] ?? host
                    return
                case .outcome(let outcome):
                    let size = outcome.tool.utf8.count + (outcome.command?.utf8.count ?? 0)
                    if let reason = try await store.admit(host: name, .outcome(bytes: size), limits: limits) {
                        recordDrop(&host, name: name, reason: reason, what: "outcome")
                    } else {
                        try await store.recordOutcome(host: name, outcome)
                    }
                    if seq > 0 { links[name]?.send(.ack(seq)) }
                case .localDecision(let local):
                    if let reason = try await store.admit(
                        host: name, .request(id: local.request.id, bytes: Self.size(local.request)), limits: limits)
                    {
                        recordDrop(&host, name: name, reason: reason, what: "local_decision")
                        if seq > 0 { links[name]?.send(.ack(seq)) }
                        return
                    }
                    // Recorded as the host's own answer (author host:<name>), whatever author it claims.
                    if let record = try await store.recordLocalDecision(
                        host: name, local, policy: evaluate(local.request, host: name).result)
                    {
                        publish(
                            name, "decision",
                            "#\(record.number) \(record.status.rawValue) on the host by \(record.decision?.decidedBy.encoded ?? "host:\(name)"): \(record.request.evidence.command ?? record.request.evidence.tool)"
                        )
                    }
                    if seq > 0 { links[name]?.send(.ack(seq)) }
                case .changedFiles(let files):
                    // Only adds evidence to this host's own request (the store checks host, id and thread).
                    if try await store.attachChangedFiles(host: name, files) {
                        publish(name, "request", "\(files.requestID): \(files.files.count) changed file(s) attached")
                    }
                    if seq > 0 { links[name]?.send(.ack(seq)) }
                case .event(let event):
                    if event.kind == "steer_delivered" {
                        try await store.markSteerDelivered(host: name, messageID: event.text)
                        publish(name, "steer", "\(event.text) delivered to \(name)/\(event.threadID)")
                    } else if event.kind == "pause_not_recorded" {
                        // The host could not write a pause (its disk full): it signalled the agents
                        // anyway and acknowledges the pause only once it has written it (it retries);
                        // the waiting `pause` says so. Shown in bosund's words only (the host's text
                        // is not trusted onto a terminal).
                        host.pauseNotRecordedAt = Date()
                        publish(
                            name, "pause",
                            "\(name) could not record a pause (agents signalled; it retries, and acknowledges once recorded)"
                        )
                    }
                    if seq > 0 { links[name]?.send(.ack(seq)) }
                case .ack(let acknowledged):
                    // (Acks come through `acknowledge(_:)` in batches; a single one is handled alike.)
                    await acknowledge([(name, acknowledged)])
                case .pong:
                    break  // answered by the link (its round-trip time)
                }
            }
            if event.writesStore { storeSucceeded() }
        } catch {
            storeFailed(error, host: name)
        }
    }

    /// Links coming up: their state changes are handled in order, and the records of their
    /// hellos are stored together in one transaction; only then is each host welcomed and sent
    /// its outbox (one read for all of them), as before from one hello at a time.
    func bringUp(_ events: [(host: HostName, event: LinkEvent)]) async {
        var greeted: [HostName] = []
        for (name, event) in events {
            guard case .message(let envelope, let hostKey) = event, case .hello(let hello) = envelope.message else {
                await handle(host: name, event: event)
                continue
            }
            guard var host = live[name] else { continue }
            host.record.hostKey = hostKey
            host.record.hostname = String(hello.hostname.prefix(255))
            host.record.hostVersion = String(hello.hostVersion.prefix(64))
            host.record.bootID = String(hello.bootID.prefix(64))
            host.record.hooks = hello.hooks
            host.record.helperVersion = hello.helperVersion
            host.record.lastSeen = Date()
            live[name] = host
            greeted.append(name)
        }
        guard !greeted.isEmpty else { return }
        let outbox: [HostName: [(id: Int64, message: SupervisorMessage)]]
        do {
            try await store.saveHosts(greeted.compactMap { live[$0]?.record })
            // Just stored: the first pong's round trip waits for the next save (the link shows
            // it meanwhile), one transaction per batch of hosts at bring-up.
            let now = Date()
            for name in greeted { live[name]?.lastPersisted = now }
            outbox = try await store.undelivered(hosts: greeted)
            storeSucceeded()
        } catch {
            for name in greeted { storeFailed(error, host: name) }
            return
        }
        let labels = labels()
        for name in greeted {
            links[name]?.send(
                .welcome(
                    Welcome(
                        supervisorVersion: Supervisor.version, policySnapshot: policySnapshot,
                        labels: labels[name] ?? [:], keepaliveInterval: config.links.keepaliveInterval)))
            for (id, message) in outbox[name] ?? [] {
                links[name]?.send(message, seq: UInt64(clamping: id))
            }
        }
    }

    /// Hosts' thread records: stored in one transaction (each within its host's bounds, in each
    /// host's order), then each acknowledged and its state change published, as `handle` does for
    /// one. If the batch cannot be stored, each is tried on its own (a record the store refuses
    /// fails alone, unacknowledged: its host sends it again).
    func storeThreads(_ events: [(host: HostName, event: LinkEvent)]) async {
        let batch = events.compactMap { host, event -> (HostName, UInt64, AgentThread)? in
            guard live[host] != nil, case .message(let envelope, _) = event, case .thread(let thread) = envelope.message
            else { return nil }
            return (host, envelope.seq, thread)
        }
        guard batch.count > 1 else {
            for (host, event) in events { await handle(host: host, event: event) }
            return
        }
        let refused: [String?]
        do {
            refused = try await store.saveThreads(batch.map { ($0.0, $0.2) }, limits: limits)
            storeSucceeded()
        } catch {
            for (host, event) in events { await handle(host: host, event: event) }
            return
        }
        let now = Date()
        for ((name, seq, thread), reason) in zip(batch, refused) {
            guard var host = live[name] else { continue }
            host.record.lastSeen = now
            if let reason {
                recordDrop(&host, name: name, reason: reason, what: "thread")
            } else {
                let key = "\(name)/\(thread.id)"
                if threadStates.updateValue(thread.state, forKey: key) != thread.state {
                    publish(name, "thread", "\(key) \(thread.state.rawValue) (\(thread.agent.rawValue))")
                }
            }
            live[name] = host
            if seq > 0 { links[name]?.send(.ack(seq)) }
        }
    }

    /// Roughly what storing this costs (the store counts exact bytes).
    static func size(_ request: ApprovalRequest) -> Int {
        let e = request.evidence
        return 512 + (e.command?.utf8.count ?? 0) + (e.purpose?.utf8.count ?? 0) + e.cwd.utf8.count
            + e.paths.reduce(0) { $0 + $1.utf8.count + 3 } + e.changedFiles.reduce(0) { $0 + $1.utf8.count + 3 }
            + e.testsRun.reduce(0) { $0 + $1.command.utf8.count + 64 }
    }

    static func isUp(_ state: LinkStateMachine.State) -> Bool {
        if case .up = state { return true }
        return false
    }

    // MARK: Control API

    /// Every configured host with its live link state, by name.
    public func hosts() async throws(FleetError) -> [HostSummary] {
        try await controlCall { () async throws(StoreError) in
            let running = try await store.liveThreadCounts()
            return config.hosts.map { host in
                let name = HostName(host.name)
                var info = live[name] ?? LiveHost(record: HostRecord(name: name))
                // The link's own round trip and last-heard time are newer than the record's.
                if let link = links[name] {
                    let (rtt, seen) = link.measurements
                    if let rtt { info.record.rttMs = rtt }
                    if let seen { info.record.lastSeen = max(info.record.lastSeen ?? seen, seen) }
                }
                var (state, reason) = info.described
                if reason == nil, info.dropped > 0, let why = info.dropReason {
                    reason = "dropped \(info.dropped): \(why)"
                }
                if reason == nil, let problem = storeProblem {
                    reason = "supervisor cannot store: \(problem.message) (since \(Timestamp.format(problem.since)))"
                }
                return HostSummary(
                    name: HostName(host.name), address: host.address, port: host.port, labels: host.labels,
                    state: state,
                    reason: reason, lastSeen: info.record.lastSeen, rttMs: state == .up ? info.record.rttMs : nil,
                    threads: running[HostName(host.name)] ?? 0, hostKey: info.record.hostKey,
                    hostname: info.record.hostname,
                    hostVersion: info.record.hostVersion, protocolErrors: info.protocolErrors, hooks: info.record.hooks,
                    helperVersion: info.record.helperVersion, dropped: info.dropped, dropReason: info.dropReason)
            }
        }
    }

    /// Known threads (every host's, or only those of `hosts`, read by index); `stale` is set for
    /// hosts whose link is not up.
    public func threads(hosts: [HostName]? = nil) async throws(FleetError) -> [ThreadRecord] {
        try await controlCall { () async throws(StoreError) in
            try await store.threads(hosts: hosts)
        }
    }

    /// Renders known threads straight from the store (see `Store.renderThreads`).
    public func renderThreads<Output: Sendable>(
        hosts: [HostName]?, into output: Output, _ render: @escaping @Sendable (inout Output, ThreadRowView) -> Void
    ) async throws(FleetError) -> Output {
        try await controlCall { () async throws(StoreError) in
            try await store.renderThreads(hosts: hosts, into: output, render)
        }
    }

    /// Host labels by host name, for filters.
    public func labels() -> [HostName: [String: String]] { hostLabels }

    static func describe(_ state: LinkStateMachine.State) -> (LinkStateName, String?) {
        switch state {
        case .idle: (.idle, nil)
        case .connecting: (.connecting, nil)
        case .up: (.up, nil)
        case .backoff(_, _, let reason): (.backoff, reason)
        case .refused(_, let reason): (.refused, reason)
        case .stopped: (.stopped, nil)
        }
    }
}
