public import Foundation

/// The life of one host link as a pure value type: events in, actions out, no I/O.
///
/// idle → connecting → up; a failed connect or a lost link goes to backoff with capped, jittered
/// exponential delays; a host-key problem goes to refused (retried only at the cap, so a fixed
/// known_hosts is picked up without a restart).
public struct LinkStateMachine: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case idle
        case connecting(attempt: Int)
        case up(since: Date)
        case backoff(attempt: Int, until: Date, reason: String)
        case refused(until: Date, reason: String)
        case stopped
    }

    public enum Action: Sendable, Equatable {
        /// Open the SSH link now.
        case connect
        /// Do nothing until `retryDue` at this time.
        case waitUntil(Date)
        /// Close the link if open; nothing further.
        case close
        case none
    }

    public struct Settings: Sendable, Equatable {
        public var initialDelay: Double
        public var maxDelay: Double
        /// A link that stayed up this long resets the backoff.
        public var stableAfter: Double

        public init(initialDelay: Double = 0.5, maxDelay: Double = 30, stableAfter: Double = 10) {
            self.initialDelay = initialDelay
            self.maxDelay = maxDelay
            self.stableAfter = stableAfter
        }
    }

    public private(set) var state: State = .idle
    /// Failures since the link was last stable.
    public private(set) var failures = 0
    public let settings: Settings

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// The delay before retry number `failures`, with "equal jitter": half fixed, half random.
    /// `unit` is a random number in [0, 1).
    public func delay(failures: Int, unit: Double) -> Double {
        let exponent = Double(max(0, min(failures - 1, 30)))
        let base = min(settings.maxDelay, settings.initialDelay * pow(2, exponent))
        return base / 2 + base / 2 * min(max(unit, 0), 1)
    }

    public mutating func start() -> Action {
        guard state == .idle else { return .none }
        state = .connecting(attempt: failures + 1)
        return .connect
    }

    public mutating func connected(now: Date) -> Action {
        guard case .connecting = state else { return .close }
        state = .up(since: now)
        return .none
    }

    /// A connect attempt failed. `transient` is false for host-key problems.
    public mutating func connectFailed(reason: String, transient: Bool, now: Date, unit: Double) -> Action {
        guard case .connecting = state else { return .none }
        failures += 1
        if !transient {
            let until = now.addingTimeInterval(settings.maxDelay)
            state = .refused(until: until, reason: reason)
            return .waitUntil(until)
        }
        let until = now.addingTimeInterval(delay(failures: failures, unit: unit))
        state = .backoff(attempt: failures, until: until, reason: reason)
        return .waitUntil(until)
    }

    /// An established link ended (EOF, I/O error, keepalive timeout, protocol errors).
    public mutating func linkLost(reason: String, now: Date, unit: Double) -> Action {
        guard case .up(let since) = state else { return .none }
        if now.timeIntervalSince(since) >= settings.stableAfter { failures = 0 }
        failures += 1
        let until = now.addingTimeInterval(delay(failures: failures, unit: unit))
        state = .backoff(attempt: failures, until: until, reason: reason)
        return .waitUntil(until)
    }

    /// The wait from backoff or refused has passed.
    public mutating func retryDue(now: Date) -> Action {
        switch state {
        case .backoff(_, let until, _), .refused(let until, _):
            guard now >= until else { return .waitUntil(until) }
            state = .connecting(attempt: failures + 1)
            return .connect
        default:
            return .none
        }
    }

    public mutating func stop() -> Action {
        let wasUp = if case .up = state { true } else { false }
        state = .stopped
        return wasUp ? .close : .none
    }
}
