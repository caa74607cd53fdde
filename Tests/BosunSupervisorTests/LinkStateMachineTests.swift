import BosunSupervisor
import Foundation
import Testing

@Suite struct LinkStateMachineTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)
    let settings = LinkStateMachine.Settings(initialDelay: 1, maxDelay: 16, stableAfter: 10)

    @Test func connectsAndComesUp() {
        var machine = LinkStateMachine(settings: settings)
        #expect(machine.start() == .connect)
        #expect(machine.state == .connecting(attempt: 1))
        #expect(machine.start() == LinkStateMachine.Action.none)
        #expect(machine.connected(now: t0) == LinkStateMachine.Action.none)
        #expect(machine.state == .up(since: t0))
    }

    @Test func backoffDoublesAndIsCapped() {
        var machine = LinkStateMachine(settings: settings)
        _ = machine.start()
        var now = t0
        var delays: [Double] = []
        for _ in 0..<7 {
            guard
                case .waitUntil(let until) = machine.connectFailed(
                    reason: "refused", transient: true, now: now, unit: 1)
            else {
                Issue.record("expected a wait")
                return
            }
            delays.append(until.timeIntervalSince(now))
            #expect(machine.retryDue(now: until.addingTimeInterval(-0.001)) == .waitUntil(until))
            now = until
            #expect(machine.retryDue(now: now) == .connect)
        }
        #expect(delays == [1, 2, 4, 8, 16, 16, 16])
    }

    @Test func jitterKeepsAtLeastHalfTheDelay() {
        let machine = LinkStateMachine(settings: settings)
        #expect(machine.delay(failures: 3, unit: 0) == 2)
        #expect(machine.delay(failures: 3, unit: 0.5) == 3)
        #expect(machine.delay(failures: 3, unit: 1) == 4)
        #expect(machine.delay(failures: 100, unit: 1) == 16)
        #expect(machine.delay(failures: 3, unit: 7) == 4)
    }

    @Test func hostKeyProblemsAreRefusedAndRetriedAtTheCap() {
        var machine = LinkStateMachine(settings: settings)
        _ = machine.start()
        let action = machine.connectFailed(reason: "HOST KEY CHANGED", transient: false, now: t0, unit: 0)
        #expect(action == .waitUntil(t0.addingTimeInterval(16)))
        #expect(machine.state == .refused(until: t0.addingTimeInterval(16), reason: "HOST KEY CHANGED"))
        #expect(machine.retryDue(now: t0.addingTimeInterval(16)) == .connect)
    }

    @Test func stableLinkResetsBackoffButFlappingDoesNot() {
        var machine = LinkStateMachine(settings: settings)
        _ = machine.start()
        _ = machine.connectFailed(reason: "x", transient: true, now: t0, unit: 1)
        _ = machine.connectFailed(reason: "x", transient: true, now: t0, unit: 1)  // ignored: not connecting
        #expect(machine.failures == 1)
        _ = machine.retryDue(now: t0.addingTimeInterval(1))
        _ = machine.connected(now: t0.addingTimeInterval(1))
        // Lost after 2 s: flapping, so the count keeps growing.
        #expect(
            machine.linkLost(reason: "eof", now: t0.addingTimeInterval(3), unit: 1)
                == .waitUntil(t0.addingTimeInterval(5)))
        #expect(machine.failures == 2)
        _ = machine.retryDue(now: t0.addingTimeInterval(5))
        _ = machine.connected(now: t0.addingTimeInterval(5))
        // Lost after 100 s: the link was stable, so backoff starts over.
        let lost = t0.addingTimeInterval(105)
        #expect(machine.linkLost(reason: "eof", now: lost, unit: 1) == .waitUntil(lost.addingTimeInterval(1)))
        #expect(machine.state == .backoff(attempt: 1, until: lost.addingTimeInterval(1), reason: "eof"))
    }

    @Test func stopClosesAnOpenLink() {
        var machine = LinkStateMachine(settings: settings)
        _ = machine.start()
        _ = machine.connected(now: t0)
        #expect(machine.stop() == .close)
        #expect(machine.state == .stopped)
        #expect(machine.retryDue(now: t0) == LinkStateMachine.Action.none)
        #expect(machine.linkLost(reason: "x", now: t0, unit: 0) == LinkStateMachine.Action.none)
    }

    @Test func eventsInTheWrongStateAreIgnored() {
        var machine = LinkStateMachine(settings: settings)
        #expect(machine.connected(now: t0) == .close)
        #expect(machine.linkLost(reason: "x", now: t0, unit: 0) == LinkStateMachine.Action.none)
        #expect(machine.state == .idle)
    }
}
