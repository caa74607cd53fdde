import Foundation
import Testing

/// One decision rule for the supervisor and the host's snapshot (issue 9), and truncated actions,
/// through real hooks on a real host (sshd on 127.0.0.1), a real bosund and real SQLite.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DecisionRuleIntegrationTests {
    func up(_ fixture: Fixture) async throws {
        try await fixture.startDaemon()
        try await eventually("host up and welcomed with a policy snapshot") {
            fixture.hostState("h1") == "up" && FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json")
                && FileManager.default.fileExists(atPath: fixture.spool(1) + "/policy.json")
        }
    }

    /// Regression (fails on the main of 2026-12-06): an `allow` rule at the expand tier, which
    /// requires a reason, and Codex's PreToolUse, which has no description. Linked, the supervisor
    /// allowed it; unlinked, the host's snapshot did not, and the hook denied it as "supervisor
    /// unreachable". Now both sides apply the same rule.
    @Test func codexWithoutAReasonGetsTheSameAnswerLinkedAndUnlinked() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try fixture.addPolicy(
            "zz-frob.toml",
            """
            [[rule]]
            id = "test-frob-fetch"
            tier = "expand"
            decision = "allow"
            reason = "fetching frobs is fine"
            match.argv = ["frobnicate-fetch"]
            examples.match = ["frobnicate-fetch all"]
            examples.not_match = ["ls"]
            """)
        try await up(fixture)

        let linked = try fixture.hook(on: 1, "codex", Payload.codexPreToolUse("frobnicate-fetch all")).wait()
        #expect(linked.status == 0 && linked.stdout.isEmpty, "linked: Codex allow is an empty answer: \(linked.stdout)")

        fixture.stopDaemon()
        try await eventually("link marker gone") {
            !FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json")
        }
        let unlinked = try fixture.hook(on: 1, "codex", Payload.codexPreToolUse("frobnicate-fetch all")).wait()
        #expect(
            unlinked.status == 0 && unlinked.stdout.isEmpty,
            "unlinked: the snapshot must allow as the supervisor did: \(unlinked.stdout)")

        // Back online: the host's own answer is audited under its basis, and the chain verifies.
        try await fixture.startDaemon()
        try await eventually("the local decision is audited") {
            fixture.bosun("audit", "--json").jsonLines.contains { $0["kind"] as? String == "local_decision" }
        }
        let records = fixture.bosun("queue", "--all", "--json").jsonLines
        #expect(records.compactMap { $0["status"] as? String } == ["allowed", "allowed"])
        let local = try #require(records.last?["decision"] as? [String: Any])
        #expect(local["decided_by"] as? String == "host:h1/snapshot:test-frob-fetch")
        #expect(fixture.bosun("audit", "verify").status == 0)
    }

    /// Regression (fails on the main of 2026-12-06): a 70 KB `ls` the host had to cut. The
    /// supervisor allowed it by policy and the host refused that allow, so nobody could let it
    /// through. Now policy makes it an ask; a person approves and the hook allows.
    @Test func aTruncatedActionPolicyWouldAllowIsAskedAndCanBeApproved() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await up(fixture)
        let command = "ls" + String(repeating: " src/", count: 14_000)
        #expect(command.utf8.count == 70_002)
        let call = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", command))
        try await eventually("the cut action waits for a person") {
            fixture.bosun("queue", "--json").jsonLines.count == 1
        }
        let queued = try #require(fixture.bosun("queue", "--json").jsonLines.first)
        let number = try #require(queued["number"] as? Int)
        #expect(queued["policy_verdict"] as? String == "allow")
        #expect(queued["truncated"] as? Bool == true)
        #expect(queued["action_bytes"] as? Int == 70_002)
        let digest = try #require(queued["action_sha256"] as? String)
        #expect(digest.count == 64)

        let shown = fixture.bosun("show", "#\(number)")
        #expect(shown.stdout.contains("truncated     70002 bytes, sha256 \(digest)"), "\(shown.stdout)")

        let approved = fixture.bosun("approve", "\(number)")
        #expect(approved.status == 0, "\(approved.stderr)")
        let answer = call.wait()
        #expect(Payload.specific(answer)?["permissionDecision"] as? String == "allow", "\(answer.stdout)")
        #expect(fixture.bosun("audit", "verify").status == 0)
    }
}
