import BosunCore
import Foundation
import Testing

@testable import BosunHostAgent

#if canImport(Glibc)
    import Glibc
#endif

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
        spool.markAnswered(id: "r1", record: .written)

        let late = decision("r1", .allow, by: "operator:bob")
        #expect(try spool.applyDecision(late) == false)
        let reported = try #require(spool.answeredLocally(late))
        #expect(reported.request.id == "r1")
        #expect(reported.decision == local, "what the agent was told")
    }

    /// `serve` applying a decision and the hook closing the same request on its own, started
    /// together many times: each time either the hook finds the decision (and answers with it) or
    /// no decision is written — never a decision written after the hook looked, left behind in
    /// `decisions/` while the agent was told the hook's answer (the fault suite saw one after a
    /// bosund kill). Fails without the request lock: serve's check, then the hook's move and look
    /// during serve's write and fsync.
    @Test func aDecisionRacingALocalAnswerIsEitherUsedOrNotWritten() throws {
        let (spool, root) = try makeSpool()
        defer { try? FileManager.default.removeItem(atPath: root) }
        final class Outcome: @unchecked Sendable { var applied = false }
        var leftBehind: [RequestID] = []
        for round in 0..<40 {
            let id = RequestID("race-\(round)")
            try spool.write(request(id), to: spool.requestPath(id))
            let start = DispatchSemaphore(value: 0)
            let done = DispatchSemaphore(value: 0)
            let outcome = Outcome()
            let supervisor = decision(id, .allow, by: "operator:bob")
            Thread.detachNewThread {
                start.wait()
                outcome.applied = (try? spool.applyDecision(supervisor)) ?? false
                done.signal()
            }
            start.signal()
            let landed = spool.closeLocally(id: id, answer: decision(id, .deny, by: "host:unreachable"))
            done.wait()
            if landed == nil && FileManager.default.fileExists(atPath: spool.decisionPath(id)) { leftBehind.append(id) }
            #expect(landed == nil || landed == supervisor)
        }
        #expect(leftBehind.isEmpty, "decisions written after the hook looked: \(leftBehind)")
    }

    /// A process of the spool's user holding a request's lock does not stall `serve`: after the
    /// bounded tries the decision is applied without the lock.
    @Test func aRequestLockHeldElsewhereDoesNotStallServe() throws {
        let (spool, root) = try makeSpool()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ask = request("r4")
        try spool.write(ask, to: spool.requestPath(ask.id))
        let holder = open(spool.requestPath("r4"), O_RDONLY)
        defer { close(holder) }
        #expect(flock(holder, LOCK_EX) == 0)
        #expect(try spool.applyDecision(decision("r4", .allow, by: "operator:bob")))
        #expect(spool.readDecision(id: "r4")?.verdict == .allow)
    }

    @Test func aResentDecisionThatTheHookUsedIsNotReportedAsUnapplied() throws {
        let (spool, root) = try makeSpool()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ask = request("r2")
        try spool.write(ask, to: spool.requestPath(ask.id))
        let supervisor = decision("r2", .allow, by: "operator:bob")
        #expect(try spool.applyDecision(supervisor))
        spool.markAnswered(id: "r2", record: .decisionFile)
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

    /// Issue 10: recording the answer the agent got costs no encode and no fsync when it is the
    /// supervisor's decision as `serve` applied it: the decision file itself (written durably by
    /// `serve`) is moved into answered/. On main the answer was re-encoded into a new, fsynced file
    /// (another inode) before the hook could answer.
    @Test func theSupervisorsDecisionFileBecomesTheAnswerRecordByARename() throws {
        let (spool, root) = try makeSpool()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ask = request("r4")
        try spool.write(ask, to: spool.requestPath(ask.id))
        let supervisor = decision("r4", .allow, by: "policy:git-read")
        #expect(try spool.applyDecision(supervisor))
        var before = stat()
        #expect(stat(spool.decisionPath("r4"), &before) == 0)
        spool.markAnswered(id: "r4", record: .decisionFile)
        var after = stat()
        #expect(stat(spool.answerPath("r4"), &after) == 0)
        #expect(after.st_ino == before.st_ino, "the same file, renamed, not a rewritten copy")
        #expect(!FileManager.default.fileExists(atPath: spool.decisionPath("r4")))
        #expect(!FileManager.default.fileExists(atPath: spool.requestPath("r4")))
        #expect(spool.read(ApprovalRequest.self, at: spool.answeredPath("r4"))?.id == ask.id)
        // Nothing is owed for a resend of the decision the agent got; a different late one is refused.
        #expect(try spool.applyDecision(supervisor) == false)
        #expect(spool.answeredLocally(supervisor) == nil)
    }

    /// A crash between the request leaving the queue and the record being moved: the durable
    /// decision is still in decisions/, and no second decision can be applied (the request is gone
    /// from requests/), so nothing is delivered twice.
    @Test func aCrashBeforeTheRecordMovesCannotLetASecondDecisionIn() throws {
        let (spool, root) = try makeSpool()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ask = request("r5")
        try spool.write(ask, to: spool.requestPath(ask.id))
        let supervisor = decision("r5", .deny, by: "policy:no-push")
        #expect(try spool.applyDecision(supervisor))
        // What markAnswered does first, then "crash".
        rename(spool.requestPath("r5"), spool.answeredPath("r5"))
        #expect(try spool.applyDecision(decision("r5", .allow, by: "operator:bob")) == false)
        #expect(spool.readDecision(id: "r5") == supervisor)
        #expect(spool.pendingRequests().isEmpty)
    }
}
