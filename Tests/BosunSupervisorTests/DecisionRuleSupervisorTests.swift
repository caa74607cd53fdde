import BosunConfig
import BosunCore
import BosunPolicy
import Foundation
import Logging
import Testing

@testable import BosunShell
@testable import BosunStore
@testable import BosunSupervisor

/// `Fleet.receive` decides through `DecisionRule` (issue 9): a real Fleet over a real SQLite file,
/// with a host that never connects, and the shell's `show` over what it stored.
@Suite struct DecisionRuleSupervisorTests {
    struct Setup {
        let fleet: Fleet
        let directory: String

        init(maxPending: Int = 50) async throws {
            directory =
                FileManager.default.temporaryDirectory.appendingPathComponent("decide-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let store = try Store(path: directory + "/bosun.db")
            let policy = Policy(
                rules: [
                    Rule(
                        id: "ls-ok", tier: .continue, decision: .allow, reason: "reading",
                        match: RuleMatch(argv: ["ls"])),
                    Rule(
                        id: "frob-ok", tier: .expand, decision: .allow, reason: "frobs are fine",
                        match: RuleMatch(argv: ["frob"])),
                ],
                tiers: ["expand": TierSettings(require: ["reason"])])
            var links = LinkSettings()
            links.maxPendingRequests = maxPending
            let config = SupervisorConfig(
                directory: directory, stateDir: directory, socket: directory + "/bosund.sock", identity: "/nonexistent",
                knownHosts: "/nonexistent", links: links,
                hosts: [HostConfig(name: "h1", address: "127.0.0.1", port: 1, user: "bosun", labels: [:])],
                policy: policy)
            fleet = Fleet(config: config, store: store, logger: Logger(label: "test"))
            try await fleet.start()
        }

        func remove() async {
            await fleet.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }

        func receive(_ request: ApprovalRequest) async throws -> RequestRecord {
            try await fleet.receive(request, from: "h1")
            let records = try await fleet.requests()
            return try #require(records.first { $0.request.id == request.id })
        }
    }

    func request(
        _ id: String, _ command: String, agent: AgentKind = .claude, event: String = "PreToolUse",
        truncated: Bool = false
    ) -> ApprovalRequest {
        let now = Date()
        return ApprovalRequest(
            id: RequestID(id), threadID: "t1", createdAt: now, deadlineAt: now.addingTimeInterval(600),
            evidence: Evidence(tool: "Bash", command: command, hookEvent: event, agent: agent, cwd: "/w"),
            truncated: truncated, actionSHA256: truncated ? String(repeating: "0f", count: 32) : nil,
            actionBytes: truncated ? 70_002 : nil)
    }

    /// Regression (fails on the main of 2026-12-06, where `receive` allowed it by policy and the
    /// host then refused that allow): a truncated action policy would allow waits for a person,
    /// and `show` says how long the whole was and its digest.
    @Test func aTruncatedAllowIsQueuedForAPersonAndShownWithItsDigest() async throws {
        let setup = try await Setup()
        let record = try await setup.receive(request("cut1", "ls src/ src/ …", truncated: true))
        #expect(record.status == .pending)
        #expect(record.policy.verdict == .allow, "the policy's own verdict is kept")
        #expect(record.request.truncated && record.request.actionBytes == 70_002)
        let shown = await Shell().execute(
            ["show", "\(record.number)"],
            in: ShellContext(
                fleet: setup.fleet, width: 100, actor: Operator(name: "alice", role: .admin, channel: "desk"))
        )
        #expect(shown.stdout.contains("truncated     70002 bytes, sha256 \(String(repeating: "0f", count: 32))"))

        // A person can approve it; the decision is theirs.
        let voted = try await setup.fleet.vote(
            number: record.number, approve: true, note: nil, by: Operator(name: "alice", role: .admin, channel: "desk"))
        let closed = try voted.get()
        #expect(closed.status == .allowed)
        #expect(closed.decision?.decidedBy == .operators(["alice"]))
        await setup.remove()
    }

    @Test func anUntruncatedAllowIsDecidedByPolicy() async throws {
        let setup = try await Setup()
        let record = try await setup.receive(request("whole1", "ls src/"))
        #expect(record.status == .allowed)
        #expect(record.decision?.decidedBy.encoded == "policy:ls-ok")
        await setup.remove()
    }

    /// A full queue denies the ask a truncation made, as it denies any ask.
    @Test func aTruncatedAllowCountsAgainstThePendingCap() async throws {
        let setup = try await Setup(maxPending: 1)
        #expect(try await setup.receive(request("cut1", "ls a …", truncated: true)).status == .pending)
        let second = try await setup.receive(request("cut2", "ls b …", truncated: true))
        #expect(second.status == .denied)
        #expect(second.decision?.decidedBy.encoded == "limit:max_pending_requests")
        await setup.remove()
    }

    /// The supervisor's half of the drift: Codex PreToolUse cannot state a reason; an `allow` at a
    /// tier requiring one is allowed (the host's snapshot now agrees, see SnapshotDecisionTests),
    /// while Claude, which can, is told what to supply.
    @Test func codexPreToolUseWithoutAReasonIsAllowedAndClaudeIsAskedForOne() async throws {
        let setup = try await Setup()
        let codex = try await setup.receive(request("c1", "frob x", agent: .codex))
        #expect(codex.status == .allowed && codex.decision?.decidedBy.encoded == "policy:frob-ok")
        #expect(codex.policy.missingEvidence == ["reason"])
        let claude = try await setup.receive(request("c2", "frob x", agent: .claude))
        #expect(claude.status == .denied && claude.decision?.decidedBy.encoded == "policy:frob-ok")
        #expect(claude.decision?.reason.contains("missing: reason") == true)
        await setup.remove()
    }
}
