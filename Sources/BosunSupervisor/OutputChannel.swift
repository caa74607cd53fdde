public import BosunCore
import BosunSSH
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Replies on their way to one client, from async code to the thread that writes them. Closed
/// when the client goes away, so streaming commands (`watch`) stop.
///
/// The writing thread waits for replies without a timeout: `next()` alone, or `wakeDescriptor`
/// in its own poll(2) beside the client's socket (readable whenever a reply waits or the channel
/// closed), then `nextReady()`.
public final class OutputChannel: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ControlReply] = []
    private var closed = false
    private var closeActions: [@Sendable () -> Void] = []
    private let signal = WakePipe()

    public init() {}

    /// A descriptor that is readable whenever a reply waits or the channel closed; nil when the
    /// process is out of descriptors (the caller refuses the request then).
    public var wakeDescriptor: Int32? { signal.readEnd >= 0 ? signal.readEnd : nil }

    /// Queues a reply; false once the client is gone.
    @discardableResult
    public func emit(_ reply: ControlReply) -> Bool {
        let accepted = lock.withLock {
            guard !closed else { return false }
            items.append(reply)
            return true
        }
        if accepted { signal.wake() }
        return accepted
    }

    /// Text for the client's stdout.
    @discardableResult
    public func write(_ text: String) -> Bool { emit(ControlReply(stdout: text)) }

    public var isClosed: Bool { lock.withLock { closed } }

    /// Runs `action` once when the client goes away (at once if it already has).
    public func whenClosed(_ action: @escaping @Sendable () -> Void) {
        let runNow = lock.withLock {
            if closed { return true }
            closeActions.append(action)
            return false
        }
        if runNow { action() }
    }

    public func close() {
        let actions = lock.withLock {
            guard !closed else { return [@Sendable () -> Void]() }
            closed = true
            defer { closeActions.removeAll() }
            return closeActions
        }
        actions.forEach { $0() }
        signal.wake()
    }

    /// The next reply if one waits (never blocks); clears the wake-up first, so a reply queued
    /// after this call makes `wakeDescriptor` readable again.
    public func nextReady() -> ControlReply? {
        signal.drain()
        return lock.withLock { items.isEmpty ? nil : items.removeFirst() }
    }

    /// Returns once a reply waits or the channel is closed (no timeout); takes nothing.
    public func waitForReply() {
        guard let descriptor = wakeDescriptor else { return }
        while lock.withLock({ items.isEmpty && !closed }) {
            var wait = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&wait, 1, -1)
            guard lock.withLock({ items.isEmpty && !closed }) else { return }
            signal.drain()
        }
    }

    /// The next reply, waiting as long as it takes; nil once the channel is closed and drained.
    public func next() -> ControlReply? {
        while true {
            if let item = nextReady() { return item }
            guard !isClosed, let descriptor = wakeDescriptor else { return nil }
            var wait = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&wait, 1, -1)
        }
    }
}
