import Foundation
import Testing

/// Fleet-wide actions and indexed listings through real hosts (issue 10): many hosts acknowledge
/// `pause all --hard` at once, each entry is marked delivered exactly once (acknowledgements are
/// stored in batches), and listings and references read by index give what the full ones give.
@Suite(.serialized, .timeLimit(.minutes(10))) struct FleetActionsAtScaleTests {
    /// Outbox ids of "delivered" audit records, with how often each was recorded.
    func deliveries(_ fixture: Fixture) -> [Int: Int] {
        var counts: [Int: Int] = [:]
        for entry in fixture.bosun("audit", "--json").jsonLines where entry["kind"] as? String == "delivered" {
            guard let details = entry["details"] as? [String: Any], let outbox = details["outbox"] as? Int
            else { continue }
            counts[outbox, default: 0] += 1
        }
        return counts
    }

    @Test func everyHostAcknowledgesAFleetPauseOnceAndListingsByHostMatch() async throws {
        let hosts = 12
        let fixture = try Fixture(hosts: hosts)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        for host in 1...hosts { try fixture.runThread(on: host, "sleep", "600") }
        try await eventually("\(hosts) running threads") {
            fixture.threads().filter { $0["state"] as? String == "running" }.count == hosts
        }
        var pids: [String: Int32] = [:]
        for thread in fixture.threads() {
            if let host = thread["host"] as? String, let pid = thread["pid"] as? Int { pids[host] = Int32(pid) }
        }

        for round in 1...3 {
            let pause = fixture.bosun("pause", "all", "--hard", "round \(round)")
            #expect(pause.status == 0, "every host acknowledges: \(pause.stdout)\(pause.stderr)")
            for host in 1...hosts { #expect(pause.stdout.contains("h\(host): paused"), "\(pause.stdout)") }
            try await eventually("every agent stopped") { pids.values.allSatisfy { processState($0) == "T" } }
            let resume = fixture.bosun("resume", "all")
            #expect(resume.status == 0, "\(resume.stdout)\(resume.stderr)")
            try await eventually("every agent running") { pids.values.allSatisfy { processState($0) == "S" } }
        }
        // Each of the 3 × 2 × 12 entries delivered once: the batches neither lose nor repeat one.
        let counts = deliveries(fixture)
        #expect(counts.count >= 3 * 2 * hosts, "\(counts.count) deliveries")
        #expect(counts.values.allSatisfy { $0 == 1 }, "\(counts.filter { $0.value != 1 })")

        // `threads --host` (read by index) is the matching part of the whole listing.
        let all = fixture.threads()
        for host in ["h1", "h7"] {
            let byHost = fixture.bosun("threads", "--host", host, "--json").jsonLines
            let expected = all.filter { $0["host"] as? String == host }
            #expect(byHost.compactMap { $0["id"] as? String } == expected.compactMap { $0["id"] as? String })
        }
        // A reference by a unique prefix of a real id resolves; `show` names the thread.
        // (A thread whose id has a unique prefix with a letter: all digits would name request #N, and
        // a random hex id is all digits now and then.)
        // (Any host's thread: one host's single id is all digits once in a few hundred runs.)
        let candidates = all.compactMap { thread in
            (thread["host"] as? String).flatMap { host in (thread["id"] as? String).map { (host, $0) } }
        }
        let found = candidates.lazy.compactMap { host, id -> (String, String, String)? in
            (1...max(1, id.count)).map { String(id.prefix($0)) }.first { prefix in
                Int(prefix) == nil && all.filter { ($0["id"] as? String)?.hasPrefix(prefix) == true }.count == 1
            }.map { (host, id, $0) }
        }.first
        let (host, id, unique) = try #require(found, "\(candidates)")
        #expect(fixture.bosun("show", unique).stdout.contains("thread \(host)/\(id)"))
        #expect(fixture.bosun("audit", "verify").status == 0)
    }
}
