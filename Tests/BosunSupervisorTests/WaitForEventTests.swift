import Testing

@testable import BosunSupervisor

/// The one "wait for an event or a deadline" helper behind `steer --wait` and the acknowledgement
/// waits of pause/resume (`Fleet.awaitSteerDelivery`, `Fleet.awaitAcks`).
@Suite struct WaitForEventTests {
    actor Calls {
        var count = 0
        func add() { count += 1 }
    }

    @Test func theDeadlineEndsAWaitWhoseEventNeverComes() async {
        let calls = Calls()
        let (events, continuation) = AsyncStream<Int>.makeStream()
        let result = await waitForEvent(
            orDeadline: 0.05,
            expire: {
                await calls.add()
                continuation.finish()
            }
        ) {
            for await event in events { return "event \(event)" }
            return "deadline"
        }
        #expect(result == "deadline")
        #expect(await calls.count == 1)
    }

    @Test func anEventBeforeTheDeadlineIsReturnedAndNoDurationTraps() async {
        // A buffered event is read even when a zero or negative deadline ends the stream at once.
        for timeout in [3600, 1e300, .infinity, -.infinity, .nan, -1, 0.0] {
            let (events, continuation) = AsyncStream<Int>.makeStream()
            continuation.yield(7)
            let result = await waitForEvent(orDeadline: timeout, expire: { continuation.finish() }) {
                for await event in events { return "event \(event)" }
                return "deadline"
            }
            #expect(result == "event 7", "timeout \(timeout)")
        }
    }
}
