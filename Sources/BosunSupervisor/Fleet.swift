import BosunConfig
import BosunCore
import BosunPolicy
import BosunStore
import Foundation
import Logging

/// The link state words every surface uses (`hosts`, JSON, docs).
public enum LinkStateName: String, Sendable, Codable {
    case connecting, up, backoff, refused, idle, stopped
}

/// One host as the operator sees it: configuration, live link state and what it last reported.
public struct HostSummary: Sendable, Equatable {
    public var name: String
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
}

/// Every host link and what they report: keeps the store current and answers the control API.
public actor Fleet {
    let config: SupervisorConfig
    let store: Store
    let logger: Logger
    var links: [String: HostLink] = [:]
    var expiryTask: Task<Void, Never>?
    var checkpointTask: Task<Void, Never>?
    /// The audit row the newest checkpoint recorded.
    var checkpointedSeq: Int64 = 0
    /// The policy in force: the configuration's, until an admin reloads it.
    public internal(set) var policy: Policy
    /// `watch` subscribers.
    var subscribers: [UUID: AsyncStream<FleetEvent>.Continuation] = [:]
    /// Last reported state per `host/thread`, to publish changes only.
    var threadStates: [String: ThreadState] = [:]
    /// Callers waiting for a host to acknowledge an outbox entry.
    var ackWaiters: [Int64: [CheckedContinuation<Void, Never>]] = [:]
    var live: [String: LiveHost] = [:]
    private var consumer: Task<Void, Never>?
    private let events: AsyncStream<(String, LinkEvent)>
    private let eventSink: AsyncStream<(String, LinkEvent)>.Continuation

    /// Link facts held in memory; persisted to the store on change.
    struct LiveHost {
        var state: LinkStateMachine.State = .idle
        var record: HostRecord
        var protocolErrors = 0
        var lastPersisted = Date.distantPast
    }

    public init(config: SupervisorConfig, store: Store, logger: Logger) {
        self.config = config
        self.policy = config.policy
        self.store = store
        self.logger = logger
        (events, eventSink) = AsyncStream.makeStream(of: (String, LinkEvent).self)
    }

    /// Loads the last known state (marked stale) and starts processing link events.
    public func start() async throws(StoreError) {
        try await store.syncHosts(configured: config.hosts.map(\.name))
        try await store.markThreadsStale()
        let records = Dictionary(uniqueKeysWithValues: try await store.hosts().map { ($0.name, $0) })
        for host in config.hosts {
            live[host.name] = LiveHost(record: records[host.name] ?? HostRecord(name: host.name))
        }
        let stream = events
        consumer = Task { [weak self] in
            for await (host, event) in stream {
                await self?.handle(host: host, event: event)
            }
        }
        scheduleExpiry()
        scheduleCheckpoints()
    }

    /// Opens one link per configured host (after `start`, once the control socket answers, so
    /// operators can watch a large fleet come up).
    public func startLinks() {
        let sink = eventSink
        let slots = DispatchSemaphore(value: config.links.maxConcurrentConnects)
        for host in config.hosts where links[host.name] == nil {
            let link = HostLink(host: host, supervisor: config, logger: logger, connectSlots: slots) { name, event in
                sink.yield((name, event))
            }
            links[host.name] = link
            link.start()
        }
    }

    /// Closes every link, then finishes processing what they reported.
    public func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for link in links.values {
                group.addTask { await link.stop() }
            }
        }
        eventSink.finish()
        await consumer?.value
        expiryTask?.cancel()
        checkpointTask?.cancel()
        for host in live.values {
            try? await store.saveHost(host.record)
        }
        await writeCheckpoint()
    }

    // MARK: Events

    private func handle(host name: String, event: LinkEvent) async {
        guard var host = live[name] else { return }
        defer { live[name] = host }
        do {
            switch event {
            case .state(let state):
                let wasUp = if case .up = host.state { true } else { false }
                host.state = state
                if case .up = state { host.record.lastSeen = Date() }
                if !wasUp, Self.isUp(state) { publish(name, "host", "up") }
                if wasUp, !Self.isUp(state) {
                    let (stateName, reason) = Self.describe(state)
                    publish(name, "host", "\(stateName.rawValue): \(reason ?? "link closed")")
                    try await store.markThreadsStale(host: name)
                    try await store.saveHost(host.record)
                }
                if case .refused(_, let reason) = state { publish(name, "host", "refused: \(reason)") }
            case .hello(let hello, let hostKey):
                host.record.hostKey = hostKey
                host.record.hostname = String(hello.hostname.prefix(255))
                host.record.hostVersion = String(hello.hostVersion.prefix(64))
                host.record.bootID = String(hello.bootID.prefix(64))
                host.record.hooks = hello.hooks
                host.record.lastSeen = Date()
                try await store.saveHost(host.record)
                links[name]?.send(
                    .welcome(
                        Welcome(
                            supervisorVersion: Supervisor.version, policySnapshot: policySnapshot,
                            labels: labels()[name] ?? [:])))
                for (id, message) in try await store.undelivered(host: name) {
                    links[name]?.send(message, seq: UInt64(id))
                }
            case .thread(let thread, let seq):
                host.record.lastSeen = Date()
                try await store.saveThread(host: name, thread)
                if seq > 0 { links[name]?.send(.ack(seq)) }
                let key = "\(name)/\(thread.id)"
                if threadStates.updateValue(thread.state, forKey: key) != thread.state {
                    publish(name, "thread", "\(key) \(thread.state.rawValue) (\(thread.agent.rawValue))")
                }
            case .pong(let rtt):
                host.record.rttMs = rtt
                host.record.lastSeen = Date()
                if Date().timeIntervalSince(host.lastPersisted) > 30 {
                    host.lastPersisted = Date()
                    try await store.saveHost(host.record)
                }
            case .protocolError:
                host.protocolErrors += 1
            case .request(let request, let seq):
                host.record.lastSeen = Date()
                try await receive(request, from: name)
                if seq > 0 { links[name]?.send(.ack(seq)) }
            case .outcome(let outcome, let seq):
                try await store.recordOutcome(host: name, outcome)
                if seq > 0 { links[name]?.send(.ack(seq)) }
            case .localDecision(let local, let seq):
                try await store.recordLocalDecision(
                    host: name, local, policy: evaluate(local.request, host: name).result)
                if seq > 0 { links[name]?.send(.ack(seq)) }
            case .event(let event, let seq):
                if event.kind == "steer_delivered" {
                    try await store.markSteerDelivered(host: name, messageID: event.text)
                    publish(name, "steer", "\(event.text) delivered to \(name)/\(event.threadID)")
                }
                if seq > 0 { links[name]?.send(.ack(seq)) }
            case .ack(let seq):
                try await store.markDelivered(host: name, id: Int64(seq))
                resumeAckWaiters(Int64(seq))
            }
        } catch {
            logger.error("store update failed", metadata: ["host.name": "\(name)", "error": "\(error)"])
        }
    }

    static func isUp(_ state: LinkStateMachine.State) -> Bool {
        if case .up = state { return true }
        return false
    }

    // MARK: Control API

    /// Every configured host with its live link state, by name.
    public func hosts() async throws(StoreError) -> [HostSummary] {
        let running = try await store.liveThreadCounts()
        return config.hosts.map { host in
            let info = live[host.name] ?? LiveHost(record: HostRecord(name: host.name))
            let (state, reason) = Self.describe(info.state)
            return HostSummary(
                name: host.name, address: host.address, port: host.port, labels: host.labels, state: state,
                reason: reason, lastSeen: info.record.lastSeen, rttMs: state == .up ? info.record.rttMs : nil,
                threads: running[host.name] ?? 0, hostKey: info.record.hostKey, hostname: info.record.hostname,
                hostVersion: info.record.hostVersion, protocolErrors: info.protocolErrors, hooks: info.record.hooks)
        }
    }

    /// Every known thread; `stale` is set for hosts whose link is not up.
    public func threads() async throws(StoreError) -> [ThreadRecord] {
        try await store.threads()
    }

    /// Host labels by host name, for filters.
    public func labels() -> [String: [String: String]] {
        Dictionary(uniqueKeysWithValues: config.hosts.map { ($0.name, $0.labels) })
    }

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
