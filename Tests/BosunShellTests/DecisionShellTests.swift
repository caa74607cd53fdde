import BosunConfig
import BosunCore
import BosunTestSupport
import Foundation
import GRDB
import Testing

@testable import BosunShell
@testable import BosunStore
@testable import BosunSupervisor

/// Decisions from the shell (issue 11): quorum progress, changing and withdrawing one's own vote,
/// several requests at once, and the view check before an approval.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DecisionShellTests {
    static func fleet() async throws -> InProcessFleet {
        let fixture = try await InProcessFleet.make(hosts: ["web-1"])
        let now = Date()
        for (id, tier, command) in [
            ("r1", Tier.expand, "npm install left-pad"), ("r2", .commit, "git push origin main"),
            ("r3", .commit, "git push origin release"),
        ] {
            _ = try await fixture.store.receiveRequest(
                host: "web-1",
                ApprovalRequest(
                    id: RequestID(id), threadID: "3fa2c9d0", createdAt: now, deadlineAt: now.addingTimeInterval(3600),
                    evidence: Evidence(tool: "Bash", command: command, purpose: "r", cwd: "/srv/app", head: "abc")),
                policy: PolicyResult(
                    tier: tier, verdict: .ask, rule: nil, ruleSource: nil, reason: "asks", missingEvidence: []),
                expiresAt: now.addingTimeInterval(1800), immediate: nil, now: now)
        }
        return fixture
    }

    static func run(_ fixture: InProcessFleet, _ argv: [String], as name: String = "alice") async -> ShellResult {
        await Shell().execute(
            argv,
            in: ShellContext(
                fleet: fixture.fleet, width: 40, actor: Operator(name: name, role: .operator, channel: "desk")))
    }

    @Test func quorumProgressAndChangingOrWithdrawingOnesVote() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        func votes(_ number: Int) async -> String? {
            await Self.run(fixture, ["queue"]).stdout.split(separator: "\n").first { $0.hasPrefix("#\(number)  ") }
                .flatMap { $0.split(separator: " ").last.map(String.init) }
        }
        #expect(await votes(2) == "0/2")
        let first = await Self.run(fixture, ["approve", "2", "checked the changelog"])
        #expect(first.stdout.contains("vote recorded (1/2)"), "\(first.stderr)")
        #expect(await votes(2) == "1/2")
        // The same vote again counts once.
        let again = await Self.run(fixture, ["approve", "2", "again"])
        #expect(again.exit == ExitStatus.failure && again.stderr.contains("already voted approve"), "\(again.stderr)")
        // Withdrawn: back to 0/2, audited.
        let withdrawn = await Self.run(fixture, ["withdraw", "2"])
        #expect(withdrawn.exit == ExitStatus.ok && withdrawn.stdout.contains("withdrawn"), "\(withdrawn.stderr)")
        #expect(await Self.run(fixture, ["queue"]).stdout.contains("0/2"))
        #expect(await Self.run(fixture, ["withdraw", "2"]).stderr.contains("no vote on #2"))
        // Changed: alice approves, then denies (one deny decides).
        _ = await Self.run(fixture, ["approve", "2", "looks fine"])
        let changed = await Self.run(fixture, ["deny", "2", "wrong", "branch"])
        #expect(changed.stdout.contains("#2 denied"), "\(changed.stderr)")
        #expect(await Self.run(fixture, ["withdraw", "2"]).stderr.contains("already denied"))
        let kinds = try await fixture.store.auditEntries(AuditFilter(limit: 100)).map(\.kind)
        #expect(kinds.contains("vote_withdrawn") && kinds.contains("vote_changed"), "\(kinds)")
        // The chain and every request against it (checkpoints, signed with a key this fleet lacks, aside).
        let problem = try await fixture.store.verifyAudit().problem
        #expect(problem == nil, "\(problem ?? "")")
    }

    @Test func severalRequestsAreEachCheckedOnTheirOwn() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        // #1 expand (one approver), #3 commit (needs a note: none given), #9 does not exist.
        let result = await Self.run(fixture, ["approve", "1", "#3", "9"])
        #expect(result.exit == ExitStatus.failure)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("#1 allowed: Approved by alice"), "\(result.stdout)")
        let refusals = result.stderr.split(separator: "\n")
        #expect(
            refusals.count == 2 && refusals[0].contains("#3") && refusals[0].contains("needs a note"), "\(refusals)")
        #expect(refusals[1].contains("no request #9"), "\(refusals)")
        // With a note, both commit requests get alice's vote: one line each.
        let noted = await Self.run(fixture, ["approve", "2", "3", "release", "checked"])
        #expect(noted.exit == ExitStatus.ok && noted.stdout.split(separator: "\n").count == 2, "\(noted.stderr)")
    }

    @Test func anApprovalIsRefusedWhenTheEvidenceChangedSinceTheOperatorLooked() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        #expect(await Self.run(fixture, ["show", "1"]).exit == ExitStatus.ok)
        // The stored evidence changes under the reviewer (today a host cannot resend a request with
        // other evidence: the first copy is kept; this edits the row to stand for any such path).
        try await fixture.store.writeTransaction { db in
            try db.execute(
                sql: "UPDATE requests SET evidence = json_set(evidence, '$.head', 'def') WHERE number = 1")
        }
        let refused = await Self.run(fixture, ["approve", "1"])
        #expect(refused.exit == ExitStatus.failure && refused.stderr.contains("changed since alice last looked"))
        // alice looks again and may approve.
        #expect(await Self.run(fixture, ["show", "1"]).exit == ExitStatus.ok)
        let approved = await Self.run(fixture, ["approve", "1"])
        #expect(approved.exit == ExitStatus.ok && approved.stdout.contains("#1 allowed"), "\(approved.stderr)")
    }
}
