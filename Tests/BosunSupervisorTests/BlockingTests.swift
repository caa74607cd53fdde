import BosunSupervisor
import Dispatch
import Foundation
import Testing

/// `offThePool` runs blocking work on threads of its own, never more than its limit at once.
@Suite struct BlockingTests {
    /// Counts how many jobs are inside their body at once.
    final class Gauge: @unchecked Sendable {
        private let lock = NSLock()
        private var now = 0
        private(set) var peak = 0
        func enter() {
            lock.withLock {
                now += 1
                peak = max(peak, now)
            }
        }
        func leave() { lock.withLock { now -= 1 } }
        var current: Int { lock.withLock { now } }
    }

    @Test func neverMoreThreadsThanTheLimitAndEveryJobRuns() async throws {
        let threads = BlockingThreads(limit: 4)
        let gauge = Gauge()
        let gate = DispatchSemaphore(value: 0)
        let jobs = 40
        let results = Task {
            await withTaskGroup(of: Int.self) { group in
                for index in 0..<jobs {
                    group.addTask {
                        await threads.run {
                            gauge.enter()
                            gate.wait()
                            gauge.leave()
                            return index
                        }
                    }
                }
                return await group.reduce(into: [Int]()) { $0.append($1) }
            }
        }
        // Every slot fills (the others wait, holding no thread); then all are let through.
        while gauge.current < 4 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(threads.inUse == 4)
        for _ in 0..<jobs { gate.signal() }
        let finished = await results.value
        #expect(finished.sorted() == Array(0..<jobs))
        #expect(gauge.peak == 4)
        #expect(threads.inUse == 0)
    }
}
