import Foundation
import Testing

/// Group commit (issue 10) through real sshd hosts, the real hooks and bosund: many hooks on
/// several hosts at once, their requests stored together in batches.
@Suite(.serialized, .timeLimit(.minutes(10))) struct GroupCommitIntegrationTests {
    @Test func manyConcurrentHooksOnSeveralHostsAreEachStoredDecidedAndDeliveredOnce() async throws {
        let hosts = 3
        let fixture = try Fixture(hosts: hosts)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("hosts up and welcomed") {
            fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" }
                && (1...hosts).allSatisfy { FileManager.default.fileExists(atPath: fixture.spool($0) + "/link.json") }
        }
        // Decided at once by policy: allowed, and denied (a push).
        let commands: [(String, String)] = [
            ("git status", "allow"), ("ls -la", "allow"), ("git status; git push origin main", "deny"),
        ]
        let perHost = 10
        var calls: [(expected: String, call: HookCall)] = []
        for index in 0..<perHost {
            for host in 1...hosts {
                let (command, expected) = commands[(index + host) % commands.count]
                calls.append(
                    (
                        expected,
                        try fixture.hook(
                            on: host, "claude",
                            Payload.claude("PreToolUse", command, description: "look", session: "s-\(host)-\(index)"),
                            grace: 60)
                    ))
            }
        }
        for (expected, call) in calls {
            let answer = call.wait()
            #expect(answer.status == 0)
            #expect(answer.stdout.split(separator: "\n").count == 1, "exactly one answer: \(answer.stdout)")
            #expect(Payload.specific(answer)?["permissionDecision"] as? String == expected, "\(answer.stdout)")
        }
        let total = hosts * perHost
        let records = fixture.bosun("queue", "--all", "--json").jsonLines
        #expect(records.count == total)
        #expect(records.allSatisfy { ["allowed", "denied"].contains($0["status"] as? String) })
        // Each request decided once, each decision delivered once (its host's ack, audited).
        func kinds() -> [String: Int] {
            var counts: [String: Int] = [:]
            for line in fixture.bosun("audit", "--all", "--json").jsonLines {
                counts[line["kind"] as? String ?? "?", default: 0] += 1
            }
            return counts
        }
        try await eventually("every decision delivered") { kinds()["delivered"] == total }
        let counts = kinds()
        #expect(counts["request"] == total && counts["decision"] == total && counts["delivered"] == total, "\(counts)")
        let verify = fixture.bosun("audit", "verify")
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }
}
