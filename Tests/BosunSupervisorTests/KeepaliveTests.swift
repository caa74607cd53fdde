import BosunCore
import Testing

@testable import BosunSupervisor

/// Issue 10: a link pings only when it has been quiet for an interval one way or the other, and
/// still gives a silent host up at the keepalive timeout (fail closed).
@Suite struct KeepaliveTests {
    static let second: UInt64 = 1_000_000_000

    @Test func anIdleLinkIsPingedEveryIntervalAndAnsweredPingsMeasureTheRoundTrip() throws {
        var keepalive = Keepalive(interval: 10, timeout: 30, now: 0)
        #expect(keepalive.ping(now: Self.second, helloSeen: false) == nil, "no ping before hello")
        // The first ping goes at hello (a round trip to show at once).
        let atHello = keepalive.ping(now: Self.second, helloSeen: true)
        let first = try #require(atHello)
        keepalive.heard(now: Self.second)
        _ = keepalive.answered(nonce: first, now: Self.second)
        #expect(keepalive.ping(now: 10 * Self.second, helloSeen: true) == nil)
        let sent = keepalive.ping(now: 11 * Self.second, helloSeen: true)
        let nonce = try #require(sent)
        #expect(keepalive.ping(now: 25 * Self.second, helloSeen: true) == nil, "one ping pending at a time")
        #expect(keepalive.answered(nonce: nonce &+ 1, now: 11 * Self.second + 1_000_000) == nil)
        keepalive.heard(now: 11 * Self.second + 2_000_000)
        #expect(keepalive.answered(nonce: nonce, now: 11 * Self.second + 2_000_000) == 2)
        #expect(keepalive.nextPing(helloSeen: true) == 21 * Self.second)
        #expect(keepalive.ping(now: 21 * Self.second, helloSeen: true) == nonce + 1)
    }

    @Test func aLinkBusyBothWaysIsNotPinged() {
        var keepalive = Keepalive(interval: 10, timeout: 30, now: 0)
        if let first = keepalive.ping(now: 0, helloSeen: true) { _ = keepalive.answered(nonce: first, now: 0) }
        for step in 1...100 {
            let now = UInt64(step) * Self.second / 2
            keepalive.heard(now: now)
            keepalive.wrote(now: now)
            #expect(keepalive.ping(now: now, helloSeen: true) == nil)
        }
    }

    @Test func aTalkingHostStillHearsFromTheSupervisorEveryInterval() {
        // The host talks, bosund writes nothing: serve would give bosund up after 3 × 10 + 2 s.
        var keepalive = Keepalive(interval: 10, timeout: 30, now: 0)
        var pings = 0
        for step in 1...60 {
            let now = UInt64(step) * Self.second
            keepalive.heard(now: now)
            if let nonce = keepalive.ping(now: now, helloSeen: true) {
                pings += 1
                _ = keepalive.answered(nonce: nonce, now: now)
            }
        }
        #expect(pings == 6, "the first at hello (1 s), then one every 10 s")
    }

    @Test func aSilentHostIsGivenUpAtTheTimeoutWhateverTheSupervisorWrites() {
        var keepalive = Keepalive(interval: 10, timeout: 30, now: 0)
        for step in 1...30 {
            keepalive.wrote(now: UInt64(step) * Self.second)
            #expect(!keepalive.timedOut(now: UInt64(step) * Self.second))
        }
        #expect(keepalive.timedOut(now: 30 * Self.second + 1))
        // The link sleeps no longer than until the timeout.
        #expect(keepalive.waitMilliseconds(now: 25 * Self.second, helloSeen: true) <= 5000)
    }

    @Test func outOfRangeSettingsAreClampedNotTrapped() {
        for seconds in [Double.nan, -1, .infinity, 1e300] {
            let keepalive = Keepalive(interval: seconds, timeout: seconds, now: .max)
            _ = keepalive.nextPing(helloSeen: true)
            _ = keepalive.waitMilliseconds(now: .max, helloSeen: true)
            #expect(!keepalive.timedOut(now: .max))
        }
    }

    @Test func aHeldPongIsAnsweredByTheNextPingInTheSameWakeUpAndItsHoldIsNotRoundTrip() throws {
        var keepalive = Keepalive(interval: 10, timeout: 30, now: 0)
        let atHello = keepalive.ping(now: 0, helloSeen: true)
        let first = try #require(atHello)
        #expect(keepalive.holdMilliseconds(forNonce: first) == nil, "the first ping is answered at once")
        keepalive.heard(now: 1_000_000)
        _ = keepalive.answered(nonce: first, now: 1_000_000)
        let due = keepalive.ping(now: 10 * Self.second, helloSeen: true)
        let second = try #require(due)
        #expect(keepalive.holdMilliseconds(forNonce: second) == 10_000)
        // The host held it 10 s and answers 10.003 s after it was sent: 3 ms of round trip.
        let pongAt = 20 * Self.second + 3_000_000
        keepalive.heard(now: pongAt)
        #expect(keepalive.answered(nonce: second, now: pongAt, heldMs: 10_000) == 3)
        // The next ping is due at once: written in the wake-up that read the pong.
        #expect(keepalive.ping(now: pongAt, helloSeen: true) == second + 1)
        // A host's held time never makes a round trip negative.
        keepalive.heard(now: pongAt + 1_000_000)
        #expect(keepalive.answered(nonce: second + 1, now: pongAt + 1_000_000, heldMs: Probe.maxHoldMs) == 0)
        // Nor is its timeout moved: silent for 30 s after its last pong, it is given up.
        #expect(!keepalive.timedOut(now: pongAt + 1_000_000 + 30 * Self.second))
        #expect(keepalive.timedOut(now: pongAt + 1_000_000 + 30 * Self.second + 1))
    }

    @Test func holdingIsAskedForOnlyWhenAHeldPongStillComesWellInsideTheTimeout() {
        #expect(Keepalive(interval: 10, timeout: 20, now: 0).holdMilliseconds(forNonce: 2) == 10_000)
        #expect(Keepalive(interval: 10, timeout: 19, now: 0).holdMilliseconds(forNonce: 2) == nil)
        #expect(Keepalive(interval: 1, timeout: 4, now: 0).holdMilliseconds(forNonce: 5) == 1_000)
    }
}
