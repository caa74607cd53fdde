import BosunCore
import Foundation

/// A request a link reported: its host, the message's seq (acknowledged once it is stored) and the request.
struct LinkRequest: Sendable {
    var host: HostName
    var seq: UInt64
    var request: ApprovalRequest
}

/// What the links reported, in arrival order, for the `Fleet` actor to consume. Acknowledgements
/// are kept apart and handed over together, ahead of other hosts' events: every ack that arrived
/// while the actor was busy is stored in one transaction (one fsync for a whole fleet's acks to
/// `pause all`), and a burst of thread updates cannot hold up the acks a caller is waiting for.
/// One host's order is kept: an ack never passes an earlier event of its own host. (A host that
/// answered a request by itself reports that answer before it acks the supervisor's late decision
/// for it; taken the other way round, the decision would be recorded as delivered to the agent.)
/// Requests are handed over in batches too (group commit: every request that arrived while the
/// previous batch was being stored goes into the next transaction): the requests at the front,
/// and those behind other hosts' events, never one behind an earlier event of its own host.
/// Hellos likewise (a fleet coming up: one transaction for the records of every hello waiting),
/// with the link state changes that come before them; and the hosts' thread records (after a
/// fleet-wide pause every host reports its threads' new states: one transaction, one fsync).
final class LinkEventQueue: @unchecked Sendable {
    /// One step for the consumer.
    enum Item {
        /// Every acknowledgement waiting, in arrival order: (host, seq).
        case acks([(host: HostName, seq: UInt64)])
        case event(host: HostName, LinkEvent)
        /// Requests in arrival order (at most `maxBatch`), each host's in its order, none passing
        /// an earlier event of its own host.
        case requests([LinkRequest])
        /// Links coming up: hellos and link state changes in arrival order (at most `maxBatch`),
        /// each host's in its order and none past its own hello or an earlier other event of its
        /// host, so that the hellos' records are stored in one transaction.
        case bringUp([(host: HostName, event: LinkEvent)])
        /// Thread records in arrival order (at most `maxBatch`), each host's in its order, none
        /// passing an earlier other event of its host.
        case threads([(host: HostName, event: LinkEvent)])
    }

    /// At most this many requests go into one batch (one transaction).
    static let maxBatch = 512
    /// How many events past the front a batch is gathered from.
    static let scanWindow = 4096

    private let lock = NSLock()
    private var acks: [(host: HostName, seq: UInt64)] = []
    /// Events in arrival order, and acks that arrived behind an event of their host still here.
    private var events: [(host: HostName, event: LinkEvent)] = []
    /// Per host, how many of its non-ack events wait in `events`.
    private var waiting: [HostName: Int] = [:]
    /// Index of the next event in `events` (consumed from the front without shifting).
    private var head = 0
    private var finished = false
    private var waiter: CheckedContinuation<Item?, Never>?

    /// Adds a link's event (from any thread); wakes the consumer if it waits.
    func push(_ host: HostName, _ event: LinkEvent) {
        let resume: (CheckedContinuation<Item?, Never>, Item)? = lock.withLock {
            guard !finished else { return nil }
            if let seq = event.acknowledgedSeq, waiting[host, default: 0] == 0 {
                acks.append((host, seq))
            } else {
                if event.acknowledgedSeq == nil { waiting[host, default: 0] += 1 }
                events.append((host, event))
            }
            guard let waiter else { return nil }
            self.waiter = nil
            return (waiter, takeLocked())
        }
        if let (continuation, item) = resume { continuation.resume(returning: item) }
    }

    /// No more events: the consumer gets what is left, then nil.
    func finish() {
        let waiter: CheckedContinuation<Item?, Never>? = lock.withLock {
            finished = true
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next step: all waiting acks if there are any, else the oldest event; nil once finished
    /// and drained. Suspends while there is nothing (a single consumer).
    func next() async -> Item? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Item?, Never>) in
            let ready: Item?? = lock.withLock {
                if !acks.isEmpty || head < events.count { return .some(takeLocked()) }
                if finished { return .some(nil) }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Called with the lock held and something buffered.
    private func takeLocked() -> Item {
        if !acks.isEmpty {
            defer { acks.removeAll(keepingCapacity: true) }
            return .acks(acks)
        }
        if Self.request(events[head].event) != nil { return .requests(takeRequestsLocked()) }
        if Self.bringsUp(events[head].event) { return .bringUp(takeBringUpLocked()) }
        if Self.isThread(events[head].event) {
            return .threads(takeLocked { Self.isThread($0) ? .take : .skip })
        }
        let (host, event) = events[head]
        head += 1
        compactLocked()
        // An ack that waited behind its host's events goes now, in its place.
        if let seq = event.acknowledgedSeq { return .acks([(host, seq)]) }
        if let count = waiting[host] { waiting[host] = count > 1 ? count - 1 : nil }
        return .event(host: host, event)
    }

    /// The request a link event carries, if it is one.
    private static func request(_ event: LinkEvent) -> (seq: UInt64, request: ApprovalRequest)? {
        if case .message(let envelope, _) = event, case .request(let request) = envelope.message {
            return (envelope.seq, request)
        }
        return nil
    }

    /// Takes the requests at the front and behind other hosts' events (``takeLocked(_:)``).
    private func takeRequestsLocked() -> [LinkRequest] {
        takeLocked { Self.request($0) != nil ? .take : .skip }.compactMap { host, event in
            Self.request(event).map { LinkRequest(host: host, seq: $0.seq, request: $0.request) }
        }
    }

    /// A thread record from a host.
    static func isThread(_ event: LinkEvent) -> Bool {
        if case .message(let envelope, _) = event, case .thread = envelope.message { return true }
        return false
    }

    /// A hello or a link state change: what a link coming up reports.
    private static func bringsUp(_ event: LinkEvent) -> Bool {
        switch event {
        case .state: true
        case .message(let envelope, _): if case .hello = envelope.message { true } else { false }
        case .measured, .protocolError: false
        }
    }

    /// Takes the hellos and state changes at the front and behind other hosts' events
    /// (``takeLocked(_:)``): a host's are taken up to and including its hello.
    private func takeBringUpLocked() -> [(host: HostName, event: LinkEvent)] {
        takeLocked { event in
            guard Self.bringsUp(event) else { return .skip }
            if case .message = event { return .takeLast }  // its hello: what follows waits
            return .take
        }
    }

    /// What ``takeLocked(_:)`` does with one event of a host none of whose events was left yet.
    private enum Selection { case take, takeLast, skip }

    /// Takes the events `select` accepts at the front and behind other hosts' events (within
    /// `scanWindow`, at most `maxBatch`): once a host has an event that is not taken (or one taken
    /// as its last), none of its later ones is. What stays keeps its order, moved up against the
    /// rest of the queue.
    private func takeLocked(_ select: (LinkEvent) -> Selection) -> [(host: HostName, event: LinkEvent)] {
        var taken: [(host: HostName, event: LinkEvent)] = []
        var kept: [(host: HostName, event: LinkEvent)] = []
        var blocked: Set<HostName> = []
        let end = min(events.count, head + Self.scanWindow)
        var index = head
        while index < end, taken.count < Self.maxBatch {
            let (host, event) = events[index]
            index += 1
            let selection = blocked.contains(host) ? .skip : select(event)
            if selection == .skip {
                blocked.insert(host)
                kept.append((host, event))
                continue
            }
            taken.append((host, event))
            if let count = waiting[host] { waiting[host] = count > 1 ? count - 1 : nil }
            if selection == .takeLast { blocked.insert(host) }
        }
        // The events not taken go just before `index`, in their order; the front moves up to them.
        head = index - kept.count
        for (offset, item) in kept.enumerated() { events[head + offset] = item }
        compactLocked()
        return taken
    }

    /// Drops consumed events from the front now and then (called with the lock held).
    private func compactLocked() {
        if head == events.count {
            events.removeAll(keepingCapacity: events.count <= 1024)
            head = 0
        } else if head >= 1024, head * 2 >= events.count {
            events.removeFirst(head)
            head = 0
        }
    }
}
