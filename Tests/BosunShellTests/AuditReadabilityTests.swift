import BosunConfig
import BosunCore
import BosunPolicy
import BosunTestSupport
import Foundation
import Testing

@testable import BosunShell
@testable import BosunStore
@testable import BosunSupervisor

/// `audit` for people (issue 11): filters by kind, request and thread, a one-line summary per
/// record, `details` as an object in JSON, and deliveries folded into what they delivered.
@Suite(.serialized, .timeLimit(.minutes(10))) struct AuditReadabilityTests {
    static func fleet() async throws -> InProcessFleet {
        let fixture = try await InProcessFleet.make(hosts: ["web-1"])
        try await fixture.request(
            "r1", host: "web-1", thread: "3fa2c9d0", command: "npm install left-pad", reason: "padding")
        try await fixture.request(
            "r2", host: "web-1", thread: "77b1e0aa", command: "npm install right-pad", reason: "x")
        return fixture
    }

    @Test func summariesFiltersAndFolding() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        #expect(await fixture.run(["approve", "1", "fine"], width: 200).exit == ExitStatus.ok)
        // The host acknowledges the decision (what its serve loop does on receipt).
        let outbox = try #require(try await fixture.store.undelivered(host: "web-1").first?.id)
        try await fixture.fleet.acknowledge(host: "web-1", seq: UInt64(outbox))

        let listing = await fixture.run(["audit"], width: 200).stdout
        #expect(listing.contains("#1 approved by alice (desk) — npm install left-pad (delivered)"), "\n\(listing)")
        #expect(listing.contains("#1 alice (desk) votes approve: fine — npm install left-pad"), "\n\(listing)")
        #expect(listing.contains("#1 asked by web-1/3fa2c9d0 — npm install left-pad"), "\n\(listing)")
        #expect(!listing.contains("delivered to web-1") && listing.contains("1 delivery record folded"), "\n\(listing)")
        let all = await fixture.run(["audit", "--all"], width: 200).stdout
        #expect(all.contains("delivered to web-1 (request r1)"), "\n\(all)")

        // Filters.
        let votes = await fixture.run(["audit", "--kind", "vote", "-o", "name"], width: 80).stdout
        #expect(votes.split(separator: "\n").count == 1, "\(votes)")
        let request = await fixture.run(["audit", "--request", "#1", "--all"], width: 200).stdout
        #expect(request.contains("npm install left-pad") && !request.contains("right-pad"), "\n\(request)")
        #expect(request.contains("delivered to web-1"), "its delivery too:\n\(request)")
        let thread = await fixture.run(["audit", "--thread", "web-1/77b1e0aa"], width: 200).stdout
        #expect(thread.contains("#2 asked") && !thread.contains("#1 "), "\n\(thread)")
        #expect(await fixture.run(["audit", "--thread", "nope/77b1e0aa"], width: 80).exit == ExitStatus.usage)

        // JSON: details is an object; every record is there (deliveries too), with its summary.
        let lines = await fixture.run(["audit", "--json"], width: 80).stdout.split(separator: "\n")
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == lines.count && objects.contains { $0["kind"] as? String == "delivered" })
        let vote = try #require(objects.first { $0["kind"] as? String == "vote" })
        let details = try #require(vote["details"] as? [String: Any], "an object, not a string")
        #expect(details["request"] as? Int == 1 && details["note"] as? String == "fine")
        #expect((vote["summary"] as? String)?.hasPrefix("#1 alice (desk) votes approve") == true)
    }

    @Test func policyExplainExitsByVerdictAndEndsWithANewline() async throws {
        // The shipped default policy.
        let policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("policies").path
        let fixture = try await InProcessFleet.make(hosts: ["web-1"], policy: try Policy.load(directory: policies))
        defer { Task { await fixture.remove() } }
        for (command, exit) in [
            (["git", "status"], Int32(0)), (["git", "status", "&&", "git", "push", "origin", "main"], 1),
            (["npm", "install", "left-pad"], 2),
        ] {
            let result = await fixture.run(["policy", "explain", "--"] + command, width: 80)
            #expect(result.exit == exit, "\(command): \(result.stdout)")
            #expect(result.stdout.hasSuffix("\n"))
        }
    }
}
