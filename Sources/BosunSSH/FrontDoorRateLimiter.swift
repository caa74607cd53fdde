import Foundation

/// Failed authentications per source address over a sliding window; shared by every session thread.
final class FrontDoorRateLimiter: @unchecked Sendable {
    let limit: Int
    let window: Double
    private let lock = NSLock()
    private var failures: [String: [Double]] = [:]
    private var reported: [String: Double] = [:]
    /// Above this many tracked addresses, stale ones are swept on the next failure.
    private static let sweepThreshold = 4096

    init(limit: Int, window: Double = 60) {
        self.limit = max(1, limit)
        self.window = window
    }

    /// Whether `address` has used up its failures in the current window.
    func isBlocked(_ address: String, now: Double) -> Bool {
        lock.withLock { recent(address, now: now).count >= limit }
    }

    /// Records one failure; returns the failures of `address` inside the window, this one included.
    @discardableResult
    func recordFailure(_ address: String, now: Double) -> Int {
        lock.withLock {
            if failures.count > Self.sweepThreshold {
                failures = failures.filter { $0.value.contains { $0 > now - window } }
            }
            var times = recent(address, now: now)
            times.append(now)
            failures[address] = times
            return times.count
        }
    }

    /// Whether a refused connection from a blocked `address` should be logged and audited: once per window,
    /// so a client hammering the port cannot flood the audit log.
    func shouldReportBlock(_ address: String, now: Double) -> Bool {
        lock.withLock {
            if reported.count > Self.sweepThreshold {
                reported = reported.filter { now - $0.value < window }
            }
            if let last = reported[address], now - last < window { return false }
            reported[address] = now
            return true
        }
    }

    /// Failures of `address` inside the window; prunes older ones. Call with the lock held.
    private func recent(_ address: String, now: Double) -> [Double] {
        guard let times = failures[address] else { return [] }
        let kept = times.filter { $0 > now - window }
        if kept.isEmpty {
            failures[address] = nil
        } else if kept.count != times.count {
            failures[address] = kept
        }
        return kept
    }
}
