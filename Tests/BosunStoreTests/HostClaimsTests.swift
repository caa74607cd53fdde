import BosunConfig
import BosunCore
import Foundation
import Testing

@testable import BosunStore

/// What a host may claim, against a real SQLite store: a host's local decision is attributed to
/// the host (never to an operator it names), it ends a request with what the agent was told, and
/// no vote can follow it (issues 8.3 and 7.4).
@Suite struct HostClaimsTests {
    let policy = PolicyResult(
        tier: .expand, verdict: .ask, rule: "installs", ruleSource: "default.toml:1", reason: "installs ask",
        missingEvidence: [])

    func makeStore() throws -> (Store, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("claims-\(UUID().uuidString).db").path
        return (try Store(path: path), path)
    }

    func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    func request(_ id: RequestID, deadline: TimeInterval = 600) -> ApprovalRequest {
        let now = Date()
        return ApprovalRequest(
            id: id, threadID: "t1", createdAt: now, deadlineAt: now.addingTimeInterval(deadline),
            evidence: Evidence(tool: "Bash", command: "npm install x", purpose: "deps", cwd: "/tmp"))
    }

    func local(_ request: ApprovalRequest, _ verdict: DecisionVerdict, by: String) -> LocalDecision {
        LocalDecision(
            request: request,
            decision: Decision(
                requestID: request.id, verdict: verdict, tier: .commit, rule: "forged", reason: "Approved by alice",
                decidedBy: DecidedBy(encoded: by), decidedAt: Date()))
    }

    func pending(_ store: Store, host: HostName, _ request: ApprovalRequest) async throws -> Int64 {
        let change = try await store.receiveRequest(
            host: host, request, policy: policy, expiresAt: Date().addingTimeInterval(600), immediate: nil)
        return change.record.number
    }

    func vote(_ store: Store, _ number: Int64, approve: Bool = true) async throws -> Result<RequestChange, VoteRefusal>
    {
        try await store.vote(
            number: number,
            review: Review(operator: "bob", channel: "desk", vote: approve ? .approve : .deny, note: nil, at: Date())
        ) { record, _ in
            Decision(
                requestID: record.request.id, verdict: approve ? .allow : .deny, tier: record.policy.tier, rule: nil,
                reason: "by bob", decidedBy: DecidedBy(encoded: "operator:bob"), decidedAt: Date())
        }
    }

    @Test func aForgedOperatorAuthorIsRecordedAsTheHost() async throws {
        let (store, path) = try makeStore()
        defer { remove(path) }
        let ask = request("r1")
        let number = try await pending(store, host: "h1", ask)
        try await store.recordLocalDecision(host: "h1", local(ask, .allow, by: "operator:alice"), policy: policy)
        let record = try #require(try await store.request(number: number))
        #expect(record.decision?.decidedBy.encoded == "host:h1/unspecified")
        #expect(record.decision?.tier == .expand, "the supervisor's tier, not the host's claim")
        #expect(record.local)
        let entries = try await store.auditEntries(AuditFilter())
        #expect(!entries.contains { $0.actor.contains("alice") }, "\(entries.map(\.actor))")
        #expect(entries.contains { $0.kind == "local_decision" && $0.actor == "host:h1/unspecified" })
        #expect(try await store.verifyAudit().problem == nil)
    }

    @Test func aSnapshotRuleIsKeptAsTheHostsBasis() {
        #expect(Store.localBasis("host-snapshot:git-status") == "snapshot:git-status")
        #expect(Store.localBasis("host-snapshot:\u{202E}evil rule") == "snapshot:evilrule")
        #expect(Store.localBasis("host:deadline") == "deadline")
        #expect(Store.localBasis("operator:alice") == "unspecified")
        #expect(Store.localBasis("policy:default") == "unspecified")
    }

    @Test func aHostCannotDecideAnotherHostsRequest() async throws {
        let (store, path) = try makeStore()
        defer { remove(path) }
        let ask = request("r1")
        let number = try await pending(store, host: "h2", ask)
        try await store.recordLocalDecision(host: "h1", local(ask, .allow, by: "operator:alice"), policy: policy)
        #expect(try await store.request(number: number)?.status == .pending)
        #expect(try await store.requests().filter { $0.host == "h1" }.count == 1, "a request of h1's own")
    }

    @Test func noVoteAfterTheHostAnswered() async throws {
        let (store, path) = try makeStore()
        defer { remove(path) }
        let ask = request("r1")
        let number = try await pending(store, host: "h1", ask)
        try await store.recordLocalDecision(host: "h1", local(ask, .expired, by: "host:deadline"), policy: policy)
        #expect(try await store.request(number: number)?.status == .expired)
        guard case .failure(let refusal) = try await vote(store, number) else {
            Issue.record("a vote was counted on a request the host already answered")
            return
        }
        #expect(refusal.description.contains("already answered on host h1"), "\(refusal)")
    }

    @Test func noVotePastTheHooksDeadline() async throws {
        let (store, path) = try makeStore()
        defer { remove(path) }
        let ask = request("r1", deadline: 0)
        let number = try await pending(store, host: "h1", ask)
        guard case .failure(let refusal) = try await vote(store, number) else {
            Issue.record("a vote was counted after the hook stopped waiting")
            return
        }
        #expect(refusal.description.contains("deadline"), "\(refusal)")
    }

    @Test func theHostsAnswerSupersedesADecisionThatNeverReachedTheAgent() async throws {
        let (store, path) = try makeStore()
        defer { remove(path) }
        let ask = request("r1")
        let number = try await pending(store, host: "h1", ask)
        guard case .success(let change) = try await vote(store, number), let delivery = change.delivery else {
            Issue.record("the vote should decide")
            return
        }
        // The hook had answered on its own (link down): its answer arrives before the ack.
        let record = try await store.recordLocalDecision(
            host: "h1", local(ask, .deny, by: "host:unreachable"), policy: policy)
        #expect(record?.status == .denied)
        #expect(record?.decision?.decidedBy.encoded == "host:h1/unreachable")
        #expect(try await store.markDelivered(host: "h1", id: delivery.id) == false, "never delivered to the agent")
        let kinds = try await store.auditEntries(AuditFilter()).map(\.kind)
        #expect(kinds.contains("not_applied"))
        #expect(!kinds.contains("delivered"))
        #expect(try await store.undelivered(host: "h1").isEmpty, "not resent")
        // Re-reported after a reconnect: nothing changes, nothing more is audited.
        let count = kinds.count
        #expect(
            try await store.recordLocalDecision(host: "h1", local(ask, .deny, by: "host:unreachable"), policy: policy)
                == nil)
        #expect(try await store.auditEntries(AuditFilter()).count == count)
        let verify = try await store.verifyAudit()
        #expect(verify.problem == nil, "\(verify.problem ?? "")")
    }

    @Test func storageBoundsForgetFinishedStateFirstThenDrop() async throws {
        let (store, path) = try makeStore()
        defer { remove(path) }
        try await store.syncHosts(configured: ["h1", "h2"])
        let limits = HostLimits(threads: 3, requests: 1000, outcomes: 2, bytes: 1 << 30)
        func thread(_ id: ThreadID, _ state: ThreadState) -> AgentThread {
            AgentThread(
                id: id, agent: .codex, argv: ["codex"], cwd: "/", state: state, startedAt: Date(), lastActivity: Date())
        }
        for (id, state) in [(ThreadID("a"), ThreadState.exited), ("b", .running), ("c", .running)] {
            #expect(try await store.admit(host: "h1", .thread(id: id, bytes: 10), limits: limits) == nil)
            try await store.saveThread(host: "h1", thread(id, state))
        }
        // Full: the exited thread is forgotten for a new one; then nothing is left to forget.
        #expect(try await store.admit(host: "h1", .thread(id: "d", bytes: 10), limits: limits) == nil)
        try await store.saveThread(host: "h1", thread("d", .running))
        #expect(Set(try await store.threads().map(\.thread.id)) == ["b", "c", "d"])
        let dropped = try await store.admit(host: "h1", .thread(id: "e", bytes: 10), limits: limits)
        #expect(dropped?.contains("max_threads_per_host") == true)
        #expect(try await store.admit(host: "h1", .thread(id: "b", bytes: 10), limits: limits) == nil, "updates pass")
        #expect(try await store.admit(host: "h2", .thread(id: "e", bytes: 10), limits: limits) == nil, "per host")
        #expect(try await store.usage(host: "h1").threads == 3)
        // Bytes: over the bound with nothing finished to forget, a new item is dropped.
        let tight = HostLimits(threads: 100, requests: 100, outcomes: 100, bytes: 64)
        let usage = try await store.usage(host: "h1")
        #expect(usage.bytes > 0)
        #expect(
            try await store.admit(host: "h1", .thread(id: "f", bytes: 100), limits: tight)?.contains(
                "max_bytes_per_host") == true)
    }

    /// A host's follow-up `changed_files` only adds evidence to its own request of that thread
    /// when it has none: another host's request, another thread's, or files already there stay.
    @Test func changedFilesFollowUpOnlyFillsTheHostsOwnEmptyRequest() async throws {
        let (store, path) = try makeStore()
        defer { remove(path) }
        let number = try await pending(store, host: "web-1", request("r1"))
        let files = ChangedFiles(requestID: "r1", threadID: "t1", files: ["a.txt"])
        #expect(try await store.attachChangedFiles(host: "web-2", files) == false, "another host's request")
        #expect(
            try await store.attachChangedFiles(
                host: "web-1", ChangedFiles(requestID: "r1", threadID: "t2", files: ["x"]))
                == false, "another thread")
        #expect(try await store.attachChangedFiles(host: "web-1", files))
        #expect(
            try await store.attachChangedFiles(
                host: "web-1", ChangedFiles(requestID: "r1", threadID: "t1", files: ["b"]))
                == false, "files already there are not replaced")
        let record = try #require(try await store.request(number: number))
        #expect(record.request.evidence.changedFiles == ["a.txt"])
        #expect(record.status == .pending, "the decision is untouched")
        #expect(
            ChangedFiles(requestID: "r1", threadID: "t1", files: Array(repeating: "f", count: 501)).validationProblem
                != nil)
        #expect(ChangedFiles(requestID: "../x", threadID: "t1", files: []).validationProblem != nil)
    }
}

/// `[links] max_*_per_host` in bosund.toml: read, ranged, and errors name the key.
@Suite struct HostLimitConfigTests {
    @Test func limitsAreReadWithDefaults() throws {
        let defaults = try SupervisorConfig.parseMain("", file: "f", directory: "/etc/bosun").links
        #expect(defaults.maxThreadsPerHost == 2000)
        #expect(defaults.maxBytesPerHost == 256 << 20)
        let links = try SupervisorConfig.parseMain(
            """
            [links]
            max_threads_per_host = 30
            max_requests_per_host = 500
            max_outcomes_per_host = 40
            max_bytes_per_host = 2097152
            """, file: "f", directory: "/etc/bosun"
        ).links
        #expect(links.maxThreadsPerHost == 30)
        #expect(links.maxRequestsPerHost == 500)
        #expect(links.maxOutcomesPerHost == 40)
        #expect(links.maxBytesPerHost == 2_097_152)
    }

    @Test(arguments: [
        ("[links]\nmax_threads_per_host = 0", "links.max_threads_per_host"),
        ("[links]\nmax_bytes_per_host = \"lots\"", "links.max_bytes_per_host"),
        ("[links]\nmax_bytes_per_host = 1024", "links.max_bytes_per_host"),
        ("[links]\nmax_requests_per_host = 50", "links.max_requests_per_host"),
        ("[links]\nmax_outcomes_per_host = -1", "links.max_outcomes_per_host"),
    ])
    func badLimitsNameTheKey(text: String, key: String) {
        #expect {
            try SupervisorConfig.parseMain(text, file: "/etc/bosun/bosund.toml", directory: "/etc/bosun")
        } throws: { error in
            (error as? ConfigError)?.key == key
        }
    }
}
