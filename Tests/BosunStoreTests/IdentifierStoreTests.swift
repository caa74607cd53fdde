import BosunCore
import Foundation
import Testing

@testable import BosunStore

/// Typed identifiers (issue 9) are stored as the same TEXT the columns held as `String`: no
/// migration, and the store's API takes and returns `HostName`, `ThreadID`, `RequestID`.
@Suite struct IdentifierStoreTests {
    @Test func typedIdsAreStoredAsTheirTextAndReadBackTyped() async throws {
        let path = temporaryDatabase("ids")
        defer { removeDatabase(path) }
        let store = try Store(path: path)
        let host = HostName("web-1")
        let thread = ThreadID("ab12cd34")
        let request = RequestID("r-7")
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try await store.syncHosts(configured: [host])
        try await store.saveThread(
            host: host,
            AgentThread(
                id: thread, agent: .codex, argv: ["codex"], cwd: "/srv", state: .running, startedAt: now,
                lastActivity: now))
        _ = try await store.receiveRequest(
            host: host,
            ApprovalRequest(
                id: request, threadID: thread, createdAt: now, deadlineAt: now.addingTimeInterval(600),
                evidence: Evidence(tool: "Bash", command: "ls", cwd: "/srv")),
            policy: PolicyResult(
                tier: .expand, verdict: .ask, rule: nil, ruleSource: nil, reason: "asks", missingEvidence: []),
            expiresAt: now.addingTimeInterval(600), immediate: nil, now: now)

        // The very rows a String-keyed store wrote: TEXT, the plain characters.
        #expect(try sqlite(path, "SELECT typeof(name), name FROM hosts") == "text|web-1")
        #expect(
            try sqlite(path, "SELECT typeof(host), typeof(id), host, id FROM threads") == "text|text|web-1|ab12cd34")
        #expect(
            try sqlite(path, "SELECT typeof(host), typeof(id), typeof(thread_id), host, id, thread_id FROM requests")
                == "text|text|text|web-1|r-7|ab12cd34")

        let threads = try await store.threads(hosts: [host])
        #expect(threads.map(\.host) == [host] && threads.map(\.thread.id) == [thread])
        let record = try #require(try await store.request(host: host, id: request))
        #expect(record.host == host && record.request.id == request && record.request.threadID == thread)
        #expect(try await store.liveThreadCounts() == [host: 1])
        #expect(try await store.requestSummaries(host: host).map(\.threadID) == [thread])
        #expect(
            try await store.auditEntries(AuditFilter(host: host, thread: thread)).map(\.kind) == ["request", "policy"])
    }

    @Test func withdrawingAVoteAuditsTheOperatorsChannelKeyAndSource() async throws {
        let path = temporaryDatabase("ids")
        defer { removeDatabase(path) }
        let store = try Store(path: path)
        let now = Date()
        let change = try await store.receiveRequest(
            host: "h1",
            ApprovalRequest(
                id: "r1", threadID: "t1", createdAt: now, deadlineAt: now.addingTimeInterval(600),
                evidence: Evidence(tool: "Bash", command: "git push", cwd: "/srv")),
            policy: PolicyResult(
                tier: .commit, verdict: .ask, rule: nil, ruleSource: nil, reason: "asks", missingEvidence: []),
            expiresAt: now.addingTimeInterval(600), immediate: nil)
        let number = change.record.number
        let alice = Operator(
            name: "alice", role: .operator, channel: "mobile", keyFingerprint: "SHA256:abc", source: "ssh 127.0.0.1:5")
        _ = try await store.vote(
            number: number,
            review: Review(operator: "alice", channel: "mobile", vote: .approve, note: nil, at: now),
            decide: { _, _ in nil })
        guard case .success = try await store.withdrawVote(number: number, by: alice) else {
            Issue.record("alice's vote was not withdrawn")
            return
        }
        let entry = try #require(try await store.auditEntries(AuditFilter(kind: "vote_withdrawn")).first)
        #expect(entry.actor == "operator:alice" && entry.channel == "mobile" && entry.host == "h1")
        #expect(
            entry.details
                == #"{"key":"SHA256:abc","request":\#(number),"source":"ssh 127.0.0.1:5","vote":"approve"}"#)
        // Withdrawn once: nothing left to take back.
        guard case .failure(let refusal) = try await store.withdrawVote(number: number, by: alice) else {
            Issue.record("a second withdrawal succeeded")
            return
        }
        #expect(refusal.description == "alice has no vote on #\(number) to withdraw")
    }
}
