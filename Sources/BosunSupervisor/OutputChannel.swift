import BosunCore
import Foundation

/// Replies on their way to one client, from async code to the thread that writes them. Closed
/// when the client goes away, so streaming commands (`watch`) stop.
public final class OutputChannel: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ControlReply] = []
    private var closed = false
    private var closeActions: [@Sendable () -> Void] = []
    private let available = DispatchSemaphore(value: 0)

    public init() {}

    /// Queues a reply; false once the client is gone.
    @discardableResult
    public func emit(_ reply: ControlReply) -> Bool {
        let accepted = lock.withLock {
            guard !closed else { return false }
            items.append(reply)
            return true
        }
        if accepted { available.signal() }
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
        available.signal()
    }

    /// The next reply, waiting up to `timeoutMs`; nil on timeout or when closed and drained.
    public func next(timeoutMs: Int) -> ControlReply? {
        if let item = pop() { return item }
        _ = available.wait(timeout: .now() + .milliseconds(timeoutMs))
        return pop()
    }

    private func pop() -> ControlReply? {
        lock.withLock { items.isEmpty ? nil : items.removeFirst() }
    }
}
