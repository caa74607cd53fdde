import Foundation

/// Runs blocking work (file reads, joins, waits on semaphores) on a thread of its own, so it never
/// holds a thread of Swift's small concurrency pool. At most `BlockingThreads.shared.limit` such
/// threads run at once (a thousand links stopping together would otherwise start a thousand
/// threads); a caller beyond that waits, suspended and holding no thread, for one to finish.
///
/// The work must not wait for other `offThePool` work (it could wait for a slot it holds).
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await BlockingThreads.shared.run(body)
}

/// A bounded set of threads for blocking work, handed out first come, first served.
public final class BlockingThreads: @unchecked Sendable {
    public static let shared = BlockingThreads(limit: 64)

    public let limit: Int
    private let lock = NSLock()
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var waitingStart = 0

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Runs `body` on a new thread once fewer than `limit` are running.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await acquire()
        return await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let thread = Thread { [self] in
                let value = body()
                release()
                continuation.resume(returning: value)
            }
            thread.name = "bosun-blocking"
            thread.start()
        }
    }

    /// Threads running blocking work now.
    public var inUse: Int { lock.withLock { running } }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = lock.withLock {
                guard running < limit else {
                    waiting.append(continuation)
                    return false
                }
                running += 1
                return true
            }
            if now { continuation.resume() }
        }
    }

    /// Hands the slot to the longest waiter, or frees it.
    private func release() {
        let next: CheckedContinuation<Void, Never>? = lock.withLock {
            guard waitingStart < waiting.count else {
                running -= 1
                waiting.removeAll(keepingCapacity: true)
                waitingStart = 0
                return nil
            }
            defer { waitingStart += 1 }
            return waiting[waitingStart]
        }
        next?.resume()
    }
}
