import BosunConfig
public import BosunCore
import BosunPolicy
import BosunStore
public import Foundation
import Logging

/// How a pause or resume went on one host.
public struct ControlOutcome: Sendable, Equatable {
    public var host: HostName
    /// True when the host acknowledged it; false when it waits in the outbox (host offline or slow).
    public var done: Bool
    /// Not done because the host said it could not record the pause (its spool cannot be written):
    /// its agents are signalled, and it acknowledges once the pause is written (it retries).
    public var notRecorded: Bool

    public init(host: HostName, done: Bool, notRecorded: Bool = false) {
        self.host = host
        self.done = done
        self.notRecorded = notRecorded
    }
}

extension Fleet {
    // MARK: Threads by short reference

    /// Finds a thread by `host/id-prefix` or an `id-prefix` unique across the whole fleet. A bare
    /// prefix (even a complete id) that matches threads on several hosts, or several threads, is
    /// refused with the candidates: a host that registers look-alike ids (a decoy) cannot capture
    /// an operator's reference to another host's thread. Within a host, `host/id` names the thread
    /// with exactly that id; a shorter `host/prefix` must match one thread of that host.
    public func resolveThread(_ reference: String) async throws(FleetError) -> Result<ThreadRecord, VoteRefusal> {
        try await controlCall { () async throws(StoreError) in try await findThread(reference) }
    }

    func findThread(_ reference: String) async throws(StoreError) -> Result<ThreadRecord, VoteRefusal> {
        let parts = reference.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy({ !$0.isEmpty }) else {
            return .failure(VoteRefusal("expected a thread as host/id or an id prefix, got '\(reference)'"))
        }
        // An indexed prefix query: the count of matches and the first few, never every thread.
        let shown = 5
        let matches =
            parts.count == 2
            ? try await store.threadMatches(idPrefix: parts[1], host: HostName(parts[0]), limit: shown)
            : try await store.threadMatches(idPrefix: reference, limit: shown)
        if let exact = matches.exact { return .success(exact) }
        switch matches.count {
        case 1 where matches.first.count == 1: return .success(matches.first[0])
        case 0: return .failure(VoteRefusal("no thread matches '\(reference)' (see 'threads')"))
        default:
            let names = matches.first.map { "\($0.host)/\($0.thread.id)" }.joined(separator: ", ")
            let more = matches.count > shown ? ", and \(matches.count - shown) more" : ""
            return .failure(
                VoteRefusal(
                    "'\(reference)' is ambiguous: it matches \(matches.count) threads (\(names)\(more)); "
                        + "name one as host/id"))
        }
    }

    // MARK: Listings

    /// The `queue` table's requests (see `Store.requestSummaries`): filtered by status and host in
    /// SQL, without decoding every request's evidence.
    public func requestSummaries(status: [RequestStatus], host: HostName?) async throws(FleetError)
        -> [RequestSummary]
    {
        try await controlCall { () async throws(StoreError) in
            try await store.requestSummaries(status: status, host: host)
        }
    }

    // MARK: Steering

    /// Queues operator guidance for a thread; delivered at its next hook (waits in the outbox while
    /// the host is offline).
    public func steer(_ reference: String, text: String, by actor: Operator) async throws(FleetError)
        -> Result<(ThreadRecord, Steer), VoteRefusal>
    {
        try await controlCall { () async throws(StoreError) in
            let thread: ThreadRecord
            switch try await findThread(reference) {
            case .success(let found): thread = found
            case .failure(let refusal): return .failure(refusal)
            }
            if let refusal = Self.unreachable(thread, verb: "steer") { return .failure(refusal) }
            let steer = Steer(
                messageID: ShortID.make(bytes: 6), threadID: thread.thread.id, text: text, from: actor.name)
            let id = try await store.queueSteer(host: thread.host, steer, by: actor)
            links[thread.host]?.send(.steer(steer), seq: UInt64(clamping: id))
            return .success((thread, steer))
        }
    }

    /// Why a thread cannot be steered or paused: it has exited, or nothing can reach it — no hook
    /// of it has run and `bosun-host run` did not launch it (a run-launched thread's hooks carry its
    /// id, so guidance and a soft pause apply at its first hook; a hard pause stops its process).
    static func unreachable(_ record: ThreadRecord, verb: String) -> VoteRefusal? {
        let name = "\(record.host)/\(record.thread.id)"
        if record.thread.state == .exited {
            return VoteRefusal("cannot \(verb) \(name): the thread has exited")
        }
        if record.thread.hookedAt == nil && record.thread.pid == nil {
            return VoteRefusal(
                "cannot \(verb) \(name): no hook of it has run and bosun-host did not launch it, so nothing would reach it (install its agent's hooks with 'bosun-host install-hooks')"
            )
        }
        return nil
    }

    /// Waits up to `timeout` seconds for the thread to receive steering message `messageID` (its
    /// host reports it at the thread's next hook); true when it did.
    public func awaitSteerDelivery(
        _ messageID: String, events: AsyncStream<FleetEvent>, subscription: UUID, timeout: Double
    )
        async -> Bool
    {
        // The deadline ends the subscription, which ends the loop below.
        await waitForEvent(orDeadline: timeout, expire: { [weak self] in await self?.unsubscribe(subscription) }) {
            if case .delivered = (try? await store.steerState(messageID: messageID)) ?? .unknown { return true }
            for await event in events where event.kind == "steer" && event.text.hasPrefix("\(messageID) delivered") {
                return true
            }
            return false
        }
    }

    /// Takes back a steering message its host does not have yet (the host is offline); refused
    /// with the reason otherwise.
    public func cancelSteer(_ messageID: String, by actor: Operator) async throws(FleetError) -> Result<
        HostName, VoteRefusal
    > {
        try await controlCall { () async throws(StoreError) in
            switch try await store.steerState(messageID: messageID) {
            case .unknown: return .failure(VoteRefusal("no steering message \(messageID)"))
            case .cancelled: return .failure(VoteRefusal("steering message \(messageID) is already cancelled"))
            case .delivered: return .failure(VoteRefusal("steering message \(messageID) was already delivered"))
            case .onHost(let host):
                return .failure(
                    VoteRefusal(
                        "steering message \(messageID) is already on host \(host); it reaches the thread at its next hook"
                    ))
            case .queued(let host, _):
                guard !linkIsUp(host) else {
                    return .failure(
                        VoteRefusal(
                            "steering message \(messageID) is on its way to \(host) (connected); it reaches the thread at its next hook"
                        ))
                }
                guard try await store.cancelSteer(messageID: messageID, by: actor) else {
                    return .failure(VoteRefusal("steering message \(messageID) is no longer queued"))
                }
                publish(host, "steer", "\(messageID) cancelled by \(actor.name)")
                return .success(host)
            }
        }
    }

    public func steerMessages(host: HostName, thread: ThreadID) async throws(FleetError) -> [SteerRecord] {
        try await controlCall { () async throws(StoreError) in
            try await store.steerMessages(host: host, thread: thread)
        }
    }

    // MARK: Pause and resume

    /// What a pause or resume applies to.
    public enum ControlTarget: Sendable {
        /// A thread reference as typed (`host/id`, a unique id prefix); resolved fleet-wide.
        case thread(String)
        case host(HostName)
        case all
    }

    /// Pauses a thread, a host, or every host (recording a breaker). Waits up to `wait` seconds for
    /// acknowledgements and reports which hosts are done and which are queued.
    public func pause(_ target: ControlTarget, hard: Bool, reason: String, by actor: Operator, wait: Double = 3)
        async throws(FleetError) -> Result<[ControlOutcome], VoteRefusal>
    {
        try await controlCall { () async throws(StoreError) in
            let message: Pause
            let hosts: [HostName]
            switch target {
            case .thread(let reference):
                switch try await findThread(reference) {
                case .success(let thread):
                    if let refusal = Self.unreachable(thread, verb: "pause") { return .failure(refusal) }
                    message = Pause(
                        scope: .thread, threadID: thread.thread.id, breakerID: nil, hard: hard, reason: reason)
                    hosts = [thread.host]
                case .failure(let refusal):
                    return .failure(refusal)
                }
            case .host(let host):
                let name = host
                guard config.hosts.contains(where: { $0.name == name.rawValue }) else {
                    return .failure(VoteRefusal("no host named \(name)"))
                }
                message = Pause(
                    scope: .all, threadID: nil, breakerID: Self.hostBreakerID(name), hard: hard, reason: reason)
                hosts = [name]
            case .all:
                if let active = try await store.activeBreakers().first {
                    return .failure(
                        VoteRefusal(
                            "a fleet-wide pause is already active (\(active.id), \(active.hard ? "hard" : "soft"), by \(active.createdBy) at \(Timestamp.format(active.createdAt)): \(active.reason)); 'resume all' releases it"
                        ))
                }
                let breaker = BreakerRecord(
                    id: "b-" + ShortID.make(), reason: reason, hard: hard, createdBy: actor.name, createdAt: Date(),
                    releasedAt: nil)
                try await store.createBreaker(breaker)
                message = Pause(scope: .all, threadID: nil, breakerID: breaker.id, hard: hard, reason: reason)
                hosts = config.hosts.map { HostName($0.name) }
                notifier?.breaker(by: actor.name, reason: reason, hard: hard)
            }
            let ids = try await store.queueControl(
                .pause(message), hosts: hosts, by: actor,
                details: [
                    "scope": .string(message.scope.rawValue), "thread": .optional(message.threadID?.rawValue),
                    "breaker": .optional(message.breakerID), "hard": .string(hard ? "yes" : "no"),
                    "reason": .string(reason),
                ])
            publish(hosts.count == 1 ? hosts[0] : "*", "pause", "\(message.scope.rawValue) by \(actor.name): \(reason)")
            return .success(await send(.pause(message), ids: ids, wait: wait))
        }
    }

    /// Resumes a thread, a host, or (for `all`) exactly what the active fleet breakers paused.
    public func resume(_ target: ControlTarget, by actor: Operator, wait: Double = 3) async throws(FleetError)
        -> Result<[ControlOutcome], VoteRefusal>
    {
        try await controlCall { () async throws(StoreError) in
            var messages: [(Resume, [HostName])] = []
            switch target {
            case .thread(let reference):
                switch try await findThread(reference) {
                case .success(let thread):
                    messages = [(Resume(scope: .thread, threadID: thread.thread.id, breakerID: nil), [thread.host])]
                case .failure(let refusal):
                    return .failure(refusal)
                }
            case .host(let host):
                let name = host
                guard config.hosts.contains(where: { $0.name == name.rawValue }) else {
                    return .failure(VoteRefusal("no host named \(name)"))
                }
                messages = [(Resume(scope: .all, threadID: nil, breakerID: Self.hostBreakerID(name)), [name])]
            case .all:
                let released = try await store.releaseBreakers(by: actor.name)
                guard !released.isEmpty else { return .failure(VoteRefusal("no fleet-wide pause is active")) }
                messages = released.map {
                    (Resume(scope: .all, threadID: nil, breakerID: $0.id), config.hosts.map { HostName($0.name) })
                }
            }
            var outcomes: [HostName: ControlOutcome] = [:]
            for (message, hosts) in messages {
                publish(hosts.count == 1 ? hosts[0] : "*", "resume", "\(message.scope.rawValue) by \(actor.name)")
                let ids = try await store.queueControl(
                    .resume(message), hosts: hosts, by: actor,
                    details: [
                        "scope": .string(message.scope.rawValue), "thread": .optional(message.threadID?.rawValue),
                        "breaker": .optional(message.breakerID),
                    ])
                for outcome in await send(.resume(message), ids: ids, wait: wait) {
                    outcomes[outcome.host] = ControlOutcome(
                        host: outcome.host, done: outcome.done && (outcomes[outcome.host]?.done ?? true))
                }
            }
            return .success(outcomes.values.sorted { $0.host < $1.host })
        }
    }

    /// The breaker id of `pause host NAME` (host names may hold dots; ids may not).
    static func hostBreakerID(_ name: HostName) -> String {
        "host-" + String(name.rawValue.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }

    /// Sends a queued message to each host that is up and waits for the acknowledgements. The wait
    /// is registered before anything is sent, so no acknowledgement can arrive unseen.
    func send(_ message: SupervisorMessage, ids: [HostName: Int64], wait: Double) async -> [ControlOutcome] {
        let token = ackWaiters.register(Set(ids.values))
        let sent = Date()
        for (host, id) in ids { links[host]?.send(message, seq: UInt64(clamping: id)) }
        let acknowledged = await awaitAcks(token, timeout: wait)
        return ids.map { host, id in
            let done = acknowledged.contains(id)
            let notRecorded = !done && (live[host]?.pauseNotRecordedAt.map { $0 >= sent } ?? false)
            return ControlOutcome(host: host, done: done, notRecorded: notRecorded)
        }
        .sorted { $0.host < $1.host }
    }

    // MARK: Acknowledgements

    /// A host acknowledged outbox entry `seq` (see `acknowledge(_:)`).
    func acknowledge(host name: HostName, seq: UInt64) async throws(StoreError) {
        guard let ack = Acknowledgement(host: name, seq: seq) else { return }
        ackWaiters.acknowledged(try await store.markDelivered([ack]))
    }

    /// Hosts acknowledged outbox entries: all of them stored in one transaction first, then every
    /// registered wait for them is told (on this actor, so a wait registered before the send
    /// cannot miss it). Only an entry queued for the host that acknowledges it counts: a host
    /// cannot complete another host's pause. A seq that does not fit Int64 is ignored, never
    /// trapped on.
    func acknowledge(_ acks: [(host: HostName, seq: UInt64)]) async {
        let valid = acks.compactMap { Acknowledgement(host: $0.host, seq: $0.seq) }
        guard !valid.isEmpty else { return }
        do {
            ackWaiters.acknowledged(try await store.markDelivered(valid))
            storeSucceeded()
        } catch {
            storeFailed(error, host: valid[0].host)
        }
    }

    /// Waits until the hosts acknowledge every id of the registered wait `token` or `timeout`
    /// passes; returns the acknowledged ones.
    func awaitAcks(_ token: AckWaiters.Token, timeout: Double) async -> Set<Int64> {
        let ids = ackWaiters.ids(token)
        // Acknowledgements stored before the wait was registered (an outbox flush on reconnect).
        ackWaiters.acknowledged((try? await store.delivered(Array(ids))) ?? [])
        // The deadline marks the wait timed out, which resumes it.
        await waitForEvent(orDeadline: timeout, expire: { [weak self] in await self?.ackWaitTimedOut(token) }) {
            await withCheckedContinuation { ackWaiters.attach(token, $0) }
        }
        let acknowledged = ackWaiters.remove(token)
        let late = ids.subtracting(acknowledged)
        return acknowledged.union(late.isEmpty ? [] : (try? await store.delivered(Array(late))) ?? [])
    }

    private func ackWaitTimedOut(_ token: AckWaiters.Token) {
        ackWaiters.timeOut(token)
    }
}

/// Callers waiting for hosts to acknowledge outbox entries. Owned by the `Fleet` actor, so
/// registering, acknowledging and resuming never interleave: a wait is registered before its
/// messages go out, and an acknowledgement that arrives before the caller suspends is kept in the
/// wait and resumes it at once (no lost wake-up).
struct AckWaiters {
    typealias Token = Int

    private struct Wait {
        var pending: Set<Int64>
        var acknowledged: Set<Int64> = []
        var timedOut = false
        var continuation: CheckedContinuation<Void, Never>?

        var isOver: Bool { pending.isEmpty || timedOut }
    }

    private var waits: [Token: Wait] = [:]
    /// Which waits hold each pending id, so an acknowledgement costs O(its waits), not O(all waits).
    private var waitsByID: [Int64: Set<Token>] = [:]
    private var nextToken: Token = 0
    /// Waits that ended by their timeout rather than by their acknowledgements.
    private(set) var timeouts = 0

    /// Starts a wait for `ids`.
    mutating func register(_ ids: Set<Int64>) -> Token {
        nextToken &+= 1
        waits[nextToken] = Wait(pending: ids)
        for id in ids { waitsByID[id, default: []].insert(nextToken) }
        return nextToken
    }

    func ids(_ token: Token) -> Set<Int64> {
        guard let wait = waits[token] else { return [] }
        return wait.pending.union(wait.acknowledged)
    }

    /// `id` is acknowledged: every wait holding it moves it over; a wait that has them all resumes.
    mutating func acknowledged(_ id: Int64) {
        acknowledged(CollectionOfOne(id))
    }

    /// Each of `ids` is acknowledged (a batch): every wait is resumed at most once, after all of
    /// its ids in the batch are moved over.
    mutating func acknowledged(_ ids: some Sequence<Int64>) {
        var touched: Set<Token> = []
        for id in ids {
            guard let tokens = waitsByID.removeValue(forKey: id) else { continue }
            for token in tokens where waits[token]?.pending.remove(id) != nil {
                waits[token]?.acknowledged.insert(id)
                touched.insert(token)
            }
        }
        for token in touched { resumeIfOver(token) }
    }

    /// The wait's time is up (some host did not acknowledge in time).
    mutating func timeOut(_ token: Token) {
        guard let wait = waits[token], !wait.isOver else { return }
        timeouts += 1
        waits[token]?.timedOut = true
        resumeIfOver(token)
    }

    /// The caller suspends: resumed now if the wait is already over, else when it is.
    mutating func attach(_ token: Token, _ continuation: CheckedContinuation<Void, Never>) {
        guard let wait = waits[token], !wait.isOver else {
            continuation.resume()
            return
        }
        waits[token]?.continuation = continuation
    }

    /// Ends a wait; returns the ids acknowledged during it.
    mutating func remove(_ token: Token) -> Set<Int64> {
        let wait = waits.removeValue(forKey: token)
        for id in wait?.pending ?? [] {
            waitsByID[id]?.remove(token)
            if waitsByID[id]?.isEmpty == true { waitsByID[id] = nil }
        }
        wait?.continuation?.resume()
        return wait?.acknowledged ?? []
    }

    var count: Int { waits.count }

    /// Ids some wait still expects (for tests: nothing is left behind once the waits end).
    var indexedIDs: Int { waitsByID.count }

    private mutating func resumeIfOver(_ token: Token) {
        guard let wait = waits[token], wait.isOver, let continuation = wait.continuation else { return }
        waits[token]?.continuation = nil
        continuation.resume()
    }
}

extension Fleet {
    /// Audits a front-door access event (a refused key, a rate limit).
    public func auditAccess(kind: String, actor: String, channel: String, details: [String: AuditValue]) async {
        do {
            try await store.audit(actor: actor, channel: channel, host: "-", kind: kind, details: details)
        } catch {
            logger.error("audit failed", metadata: ["error": "\(error)"])
        }
    }
}

extension Fleet {
    /// Re-reads `policies/` (checking every example); on success the new policy decides from now
    /// on and connected hosts get it as their snapshot. A broken file leaves the old policy in force.
    public func reloadPolicy(by actor: Operator) async throws(FleetError) -> Result<Int, VoteRefusal> {
        try await controlCall { () async throws(StoreError) in
            let directory = (config.directory as NSString).appendingPathComponent("policies")
            let result = await offThePool { () -> Result<Policy, ConfigError> in
                do throws(ConfigError) { return .success(try Policy.load(directory: directory)) } catch {
                    return .failure(error)
                }
            }
            let loaded: Policy
            switch result {
            case .success(let policy): loaded = policy
            case .failure(let error):
                return .failure(VoteRefusal("policy not reloaded, the old one stays in force: \(error)"))
            }
            policy = loaded
            try await store.audit(
                actor: "operator:\(actor.name)", channel: actor.channel, host: "-", kind: "policy_reload",
                details: actor.detailsForAudit.merging(["rules": .int(Int64(loaded.rules.count))]) { $1 })
            for (name, link) in links where Self.isUp(live[name]?.state ?? .idle) {
                link.send(
                    .welcome(
                        Welcome(
                            supervisorVersion: Supervisor.version, policySnapshot: policySnapshot,
                            labels: labels()[name] ?? [:])))
            }
            publish("*", "policy", "reloaded by \(actor.name): \(loaded.rules.count) rules")
            return .success(loaded.rules.count)
        }
    }
}

/// One active pause (`pauses`): a fleet-wide breaker, a host's pause or a thread's.
public struct PauseSummary: Sendable, Equatable {
    public enum Scope: String, Sendable { case all, host, thread }
    public var scope: Scope
    /// `every host`, the host name, or `host/thread`.
    public var target: String
    public var hard: Bool
    public var by: String
    public var at: Date?
    public var reason: String
    /// What it holds now: paused threads, or the thread's state.
    public var holds: String
    /// The breaker id (fleet-wide and host pauses).
    public var breaker: String?
}

extension Fleet {
    /// Active pauses: the fleet-wide breakers, then host and thread pauses not resumed since (from
    /// the audit log's latest pause or resume of each), oldest first.
    public func activePauses() async throws(FleetError) -> [PauseSummary] {
        try await controlCall { () async throws(StoreError) in
            let threads = try await store.threads()
            let held = threads.filter { $0.thread.state == .paused || $0.thread.state == .stopped }
            var result: [PauseSummary] = try await store.activeBreakers().map { breaker in
                PauseSummary(
                    scope: .all, target: "every host", hard: breaker.hard, by: breaker.createdBy, at: breaker.createdAt,
                    reason: breaker.reason, holds: "\(held.count) paused thread\(held.count == 1 ? "" : "s")",
                    breaker: breaker.id)
            }
            let records =
                (try await store.auditEntries(AuditFilter(limit: 5000, kind: "pause"))
                + (try await store.auditEntries(AuditFilter(limit: 5000, kind: "resume")))).sorted { $0.seq < $1.seq }
            var latest: [String: (AuditEntry, [String: Any])] = [:]
            for entry in records {
                guard let details = try? JSONSerialization.jsonObject(with: Data(entry.details.utf8)) as? [String: Any]
                else { continue }
                let breaker = details["breaker"] as? String
                if details["scope"] as? String == "thread", let thread = details["thread"] as? String {
                    latest["thread:\(entry.host)/\(thread)"] = (entry, details)
                } else if breaker?.hasPrefix("host-") == true {
                    latest["host:\(entry.host)"] = (entry, details)
                }
            }
            for (key, (entry, details)) in latest where entry.kind == "pause" {
                let isThread = key.hasPrefix("thread:")
                let target = String(key.drop { $0 != ":" }.dropFirst())
                let holds: String
                if isThread {
                    let state = threads.first { "\($0.host)/\($0.thread.id)" == target }?.thread.state
                    holds = state.map { $0 == .stopped ? "stopped (hard)" : $0.rawValue } ?? "thread gone"
                } else {
                    let count = held.filter { $0.host == entry.host }.count
                    holds = "\(count) paused thread\(count == 1 ? "" : "s")"
                }
                result.append(
                    PauseSummary(
                        scope: isThread ? .thread : .host, target: target, hard: details["hard"] as? String == "yes",
                        by: entry.actor.hasPrefix("operator:") ? String(entry.actor.dropFirst(9)) : entry.actor,
                        at: Timestamp.parse(entry.at), reason: details["reason"] as? String ?? "",
                        holds: holds, breaker: details["breaker"] as? String))
            }
            return result.sorted { ($0.at ?? .distantPast, $0.target) < ($1.at ?? .distantPast, $1.target) }
        }
    }
}
