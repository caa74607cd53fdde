import BosunCore
import BosunStore
import Foundation
import Testing

@testable import BosunSupervisor

/// A link retrying after a failure shows `connecting`; the failure's reason stays beside it until
/// the link is up (or stopped), so `hosts` read mid-retry still says why (a changed host key is
/// retried only at the backoff cap, and each retry is `connecting` for a handshake's time).
@Suite struct RetryReasonTests {
    static let now = Date(timeIntervalSince1970: 1_000_000)

    @Test func aRetryingLinkKeepsItsLastFailureUntilItIsUp() {
        var host = Fleet.LiveHost(record: HostRecord(name: "h1"))
        host.enter(.connecting(attempt: 1))
        #expect(host.described.0 == .connecting)
        #expect(host.described.1 == nil)  // a first attempt has nothing to explain
        host.enter(.refused(until: Self.now, reason: "HOST KEY CHANGED for h1"))
        #expect(host.described == (.refused, "HOST KEY CHANGED for h1"))
        host.enter(.connecting(attempt: 2))
        #expect(host.described.0 == .connecting)
        #expect(host.described.1 == "retrying after: HOST KEY CHANGED for h1")
        host.enter(.backoff(attempt: 2, until: Self.now, reason: "connection refused"))
        host.enter(.connecting(attempt: 3))
        #expect(host.described.1 == "retrying after: connection refused")
        host.enter(.up(since: Self.now))
        #expect(host.described.1 == nil)
        host.enter(.connecting(attempt: 1))
        #expect(host.described.1 == nil)  // up in between: the old failure is history
    }
}
