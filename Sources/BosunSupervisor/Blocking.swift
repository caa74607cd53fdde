import Foundation

/// Runs blocking work (file reads, joins, waits on semaphores) on a thread of its own, so it never
/// holds a thread of Swift's small concurrency pool.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        Thread { continuation.resume(returning: body()) }.start()
    }
}
