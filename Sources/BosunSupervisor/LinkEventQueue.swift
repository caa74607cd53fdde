import Foundation

/// What the links reported, in arrival order, for the `Fleet` actor to consume. Acknowledgements
/// are kept apart and handed over together, ahead of other hosts' events: every ack that arrived
/// while the actor was busy is stored in one transaction (one fsync for a whole fleet's acks to
/// `pause all`), and a burst of thread updates cannot hold up the acks a caller is waiting for.
/// One host's order is kept: an ack never passes an earlier event of its own host. (A host that
/// answered a request by itself reports that answer before it acks the supervisor's late decision
/// for it; taken the other way round, the decision would be recorded as delivered to the agent.)
final class LinkEventQueue: @unchecked Sendable {
    /// One step for the consumer.
    enum Item {
        /// Every acknowledgement waiting, in arrival order: (host, seq).
        case acks([(host: String, seq: UInt64)])
        case event(host: String, LinkEvent)
    }

    private let lock = NSLock()
    private var acks: [(host: String, seq: UInt64)] = []
    /// Events in arrival order, and acks that arrived behind an event of their host still here.
    private var events: [(host: String, event: LinkEvent)] = []
    /// Per host, how many of its non-ack events wait in `events`.
    private var waiting: [String: Int] = [:]
    /// Index of the next event in `events` (consumed from the front without shifting).
    private var head = 0
    private var finished = false
    private var waiter: CheckedContinuation<Item?, Never>?

    /// Adds a link's event (from any thread); wakes the consumer if it waits.
    func push(_ host: String, _ event: LinkEvent) {
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
        let (host, event) = events[head]
        head += 1
        if head == events.count {
            events.removeAll(keepingCapacity: events.count <= 1024)
            head = 0
        } else if head >= 1024, head * 2 >= events.count {
            events.removeFirst(head)
            head = 0
        }
        // An ack that waited behind its host's events goes now, in its place.
        if let seq = event.acknowledgedSeq { return .acks([(host, seq)]) }
        if let count = waiting[host] { waiting[host] = count > 1 ? count - 1 : nil }
        return .event(host: host, event)
    }
}
