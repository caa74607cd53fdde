import Foundation
import Testing

/// `bosun hosts` shows the bosun-host release each host said hello with (issue 9's example of
/// adding to the protocol in one declaration plus its handler).
@Suite(.serialized, .timeLimit(.minutes(10))) struct HelperVersionTests {
    @Test func hostsShowTheHelperVersion() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("the host up with its helper version") {
            fixture.hosts()["h1"]?["helper_version"] as? String != nil
        }
        #expect(fixture.hosts()["h1"]?["helper_version"] as? String == "0.1.0")
        let table = fixture.bosun("hosts")
        #expect(table.stdout.contains("VERSION"))
        #expect(table.stdout.contains("0.1.0"))
    }
}
