import Foundation
import Logging
import ServiceLifecycle

/// Opens once; everyone waiting on it goes on then (the daemon's parts start in order with it).
final class StartGate: @unchecked Sendable {
    private let lock = NSLock()
    private var isOpen = false
    private var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
    private var nextWaiter = 0

    func open() {
        let waiting = lock.withLock {
            isOpen = true
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Returns once the gate is open; throws `CancellationError` when the task is cancelled first.
    func wait() async throws {
        let id = lock.withLock {
            nextWaiter += 1
            return nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let now: Result<Void, any Error>? = lock.withLock {
                    if isOpen { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(with: now) }
            }
        } onCancel: {
            let continuation = lock.withLock { waiters.removeValue(forKey: id) }
            continuation?.resume(throwing: CancellationError())
        }
    }
}

/// One long-running part of bosund as a swift-service-lifecycle `Service`: it starts once the part
/// before it has started (`after`), opens `started`, then runs until the service group shuts it
/// down (SIGTERM, SIGINT, or a sibling that failed), and stops. The group shuts parts down in the
/// reverse of their order, each after the one behind it has stopped.
struct DaemonPart: Service, CustomStringConvertible {
    let description: String
    var after: StartGate?
    let started = StartGate()
    let start: @Sendable () async throws(DaemonError) -> Void
    /// Work done between start and stop (e.g. periodic checkpoints); returns at graceful shutdown.
    var running: (@Sendable () async -> Void)?
    let stop: @Sendable () async -> Void
    let logger: Logger

    init(
        _ description: String, logger: Logger, after: StartGate? = nil,
        start: @escaping @Sendable () async throws(DaemonError) -> Void,
        running: (@Sendable () async -> Void)? = nil, stop: @escaping @Sendable () async -> Void
    ) {
        self.description = description
        self.logger = logger
        self.after = after
        self.start = start
        self.running = running
        self.stop = stop
    }

    func run() async throws {
        if let after {
            // Shut down (or cancelled) before its turn to start: nothing to stop.
            do { try await cancelWhenGracefulShutdown { try await after.wait() } } catch { return }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
        }
        try await start()
        logger.debug("started \(description)")
        started.open()
        if let running { await running() }
        // Returns at graceful shutdown; throws when the group is cancelled (a sibling failed): stop either way.
        try? await gracefulShutdown()
        await stop()
        logger.debug("stopped \(description)")
    }
}
