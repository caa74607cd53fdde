import BosunCore
import Foundation
import Testing

@testable import BosunHostAgent

/// The host side of "one request, one final answer" (issue 7.4): a supervisor decision that comes
/// after the hook answered on its own is not applied, and `serve` can tell the supervisor what the
/// agent got instead; a resend of the decision the hook did use is not mistaken for that.
@Suite struct LocalAnswerTests {
    func makeSpool() throws -> (Spool, String) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        let spool = Spool(root: root)
        try spool.prepare()
        return (spool, root)
    }

    func request(_ id: RequestID) -> ApprovalRequest {
        ApprovalRequest(
            id: id, threadID: "t1", createdAt: Date(), deadlineAt: Date().addingTimeInterval(60),
            evidence: Evidence(tool: "Bash", command: "npm install x", cwd: "/tmp"))
    }

    func decision(_ id: RequestID, _ verdict: DecisionVerdict, by: String) -> Decision {
        Decision(
            requestID: id, verdict: verdict, tier: .expand, rule: nil, reason: "r", decidedBy: DecidedBy(encoded: by),
            decidedAt: Date(timeIntervalSince1970: 1_800_000_000))
    }

    @Test func aDecisionAfterALocalAnswerIsNotAppliedAndTheLocalAnswerIsReported() throws {
        let (spool, root) = try makeSpool()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ask = request("r1")
        try spool.write(ask, to: spool.requestPath(ask.id))
        let local = decision("r1", .deny, by: "host:unreachable")
        #expect(spool.closeLocally(id: "r1", answer: local) == nil)
        spool.markAnswered(id: "r1", answer: local)

        let late = decision("r1", .allow, by: "operator:bob")
        #expect(try spool.applyDecision(late) == false)
        let reported = try #require(spool.answeredLocally(late))
        #expect(reported.request.id == "r1")
        #expect(reported.decision == local, "what the agent was told")
    }

    @Test func aResentDecisionThatTheHookUsedIsNotReportedAsUnapplied() throws {
        let (spool, root) = try makeSpool()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ask = request("r2")
        try spool.write(ask, to: spool.requestPath(ask.id))
        let supervisor = decision("r2", .allow, by: "operator:bob")
        #expect(try spool.applyDecision(supervisor))
        spool.markAnswered(id: "r2", answer: supervisor)
        #expect(try spool.applyDecision(supervisor) == false)
        #expect(spool.answeredLocally(supervisor) == nil)
    }

    @Test func aDecisionThatLandsJustBeforeTheLocalAnswerWins() throws {
        let (spool, root) = try makeSpool()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ask = request("r3")
        try spool.write(ask, to: spool.requestPath(ask.id))
        let supervisor = decision("r3", .allow, by: "operator:bob")
        #expect(try spool.applyDecision(supervisor))
        // The hook's deadline passes at the same moment: the decision already there is the answer.
        #expect(spool.closeLocally(id: "r3", answer: decision("r3", .expired, by: "host:deadline")) == supervisor)
    }
}
