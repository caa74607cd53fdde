import BosunCore
import BosunPolicy
import Foundation
import Testing

@testable import BosunHostAgent

/// The host's snapshot decision (no supervisor link) goes through the same `DecisionRule` as the
/// supervisor (issue 9): a real spool holding a real policy snapshot, read by the real `HookRunner`.
@Suite struct SnapshotDecisionTests {
    func runner(_ policy: Policy, agent: HookAgent) throws -> (HookRunner, String) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        let spool = Spool(root: root)
        try spool.prepare()
        let text = String(decoding: try JSONEncoder().encode(policy), as: UTF8.self)
        try spool.writePolicy(PolicySnapshot(policy: text, labels: ["env": "dev"], receivedAt: Date()))
        return (HookRunner(spool: spool, agent: agent, settings: HookSettings(), environment: [:]), root)
    }

    func policy(tier: Tier, verdict: Verdict, require: [String]) -> Policy {
        Policy(
            rules: [
                Rule(id: "r-frob", tier: tier, decision: verdict, reason: "frob", match: RuleMatch(argv: ["frob"]))
            ],
            tiers: [tier.rawValue: TierSettings(require: require)])
    }

    func request(_ evidence: Evidence) -> ApprovalRequest {
        ApprovalRequest(
            id: "req1", threadID: "t1", createdAt: Date(), deadlineAt: Date().addingTimeInterval(60), evidence: evidence
        )
    }

    /// Regression (fails on the main of 2026-12-06): an `allow` rule at a tier that requires a reason,
    /// and Codex's PreToolUse, which cannot state one. The supervisor allowed it; the host's snapshot
    /// answered nothing, so the hook denied it as "supervisor unreachable".
    @Test func codexPreToolUseAllowedByTheSupervisorIsAllowedByTheSnapshotToo() throws {
        let (runner, root) = try runner(policy(tier: .expand, verdict: .allow, require: ["reason"]), agent: .codex)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let evidence = Evidence(tool: "Bash", command: "frob x", hookEvent: "PreToolUse", agent: .codex, cwd: "/w")
        let local = try #require(runner.snapshotDecision(request(evidence), evidence: evidence))
        #expect(local.verdict == .allow)
        #expect(local.decidedBy.encoded == "host-snapshot:r-frob")
    }

    /// For every (tier, verdict, agent, event, reason present/missing) the snapshot gives the
    /// supervisor's verdict (its `ask` is nil: it waits for the supervisor).
    @Test func theSnapshotAndTheSupervisorGiveTheSameOutcomeForEveryCombination() throws {
        let callers: [(HookAgent, AgentKind, String)] = [
            (.claude, .claude, "PreToolUse"), (.claude, .claude, "PermissionRequest"),
            (.codex, .codex, "PreToolUse"), (.codex, .codex, "PermissionRequest"),
        ]
        for tier in [Tier.continue, .expand, .commit] {
            for verdict in Verdict.allCases {
                for require in [[], ["reason"], ["reason", "tests_run"]] {
                    let policy = policy(tier: tier, verdict: verdict, require: require)
                    for (hookAgent, agent, event) in callers {
                        let (runner, root) = try runner(policy, agent: hookAgent)
                        defer { try? FileManager.default.removeItem(atPath: root) }
                        for reason in [nil, "because"] {
                            let evidence = Evidence(
                                tool: "Bash", command: "frob x", purpose: reason, hookEvent: event, agent: agent,
                                cwd: "/w")
                            let supervisor = DecisionRule.decide(
                                policy: policy, evidence: evidence, labels: ["env": "dev"],
                                context: .supervisor(request(evidence), pending: 0, maxPending: 100)
                            ).outcome
                            let host = runner.snapshotDecision(request(evidence), evidence: evidence)
                            let label = "\(tier) \(verdict) \(require) \(agent)/\(event) reason=\(reason ?? "-")"
                            #expect(host?.verdict == supervisor.verdict, "\(label)")
                            if supervisor.verdict == .deny { #expect(host?.reason == supervisor.reason, "\(label)") }
                            if case .policy(let rule) = supervisor.decidedBy {
                                #expect(
                                    host?.decidedBy.encoded == DecidedBy.hostSnapshot(rule: rule).encoded, "\(label)")
                            } else {
                                #expect(host == nil, "\(label)")
                            }
                        }
                    }
                }
            }
        }
    }
}
