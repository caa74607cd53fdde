import BosunCore
import BosunPolicy
import Testing

/// `DecisionRule`, the one rule the supervisor and a host's snapshot share (issue 9), as a table:
/// every verdict × tier × missing evidence × agent/hook event × truncated × pending cap × snapshot.
@Suite struct DecisionRuleTests {
    enum Missing: CaseIterable {
        case none, reason, testsRun, both
        var required: [String] {
            switch self {
            case .none: []
            case .reason: ["reason"]
            case .testsRun: ["tests_run"]
            case .both: ["reason", "tests_run"]
            }
        }
    }

    enum Pending: CaseIterable {
        /// A supervisor queue with room; a full one; no queue (a host).
        case underCap, atCap, noCap
        var pending: Int { self == .atCap ? 5 : 0 }
        var cap: Int? { self == .noCap ? nil : 5 }
    }

    static let callers: [(AgentKind, String)] = [
        (.claude, "PreToolUse"), (.claude, "PermissionRequest"), (.codex, "PreToolUse"),
        (.codex, "PermissionRequest"), (.generic, "PreToolUse"),
    ]

    struct Case {
        var verdict: Verdict
        var tier: Tier
        var missing: Missing
        var agent: AgentKind
        var event: String
        var truncated: Bool
        var pending: Pending
        var snapshot: Bool
        var testDescription: String {
            "\(verdict) \(tier) missing=\(missing) \(agent)/\(event) truncated=\(truncated) \(pending) snapshot=\(snapshot)"
        }
    }

    static let cases: [Case] = {
        var all: [Case] = []
        for verdict in Verdict.allCases {
            for tier in [Tier.continue, .expand, .commit] {
                for missing in Missing.allCases {
                    for (agent, event) in callers {
                        for truncated in [false, true] {
                            for pending in Pending.allCases {
                                for snapshot in [false, true] {
                                    all.append(
                                        Case(
                                            verdict: verdict, tier: tier, missing: missing, agent: agent, event: event,
                                            truncated: truncated, pending: pending, snapshot: snapshot))
                                }
                            }
                        }
                    }
                }
            }
        }
        return all
    }()

    /// The expected verdict written out from the rule's documentation, independently of its code.
    static func expected(_ c: Case) -> (verdict: DecisionVerdict?, limit: Bool) {
        if c.verdict == .deny { return (.deny, false) }
        let codexPre = c.agent == .codex && c.event == "PreToolUse"
        let denyingMissing = c.missing.required.filter { !(codexPre && $0 == "reason") }
        if !denyingMissing.isEmpty { return (.deny, false) }
        let asks = c.verdict == .ask || c.truncated
        if asks, let cap = c.pending.cap, c.pending.pending >= cap { return (.deny, true) }
        return asks ? (nil, false) : (.allow, false)
    }

    /// A real policy: one rule for `frob` with the case's tier and verdict, the tier requiring the
    /// case's evidence; the evidence has neither a reason nor test runs.
    static func ruling(_ c: Case) -> DecisionRule.Ruling {
        let policy = Policy(
            rules: [
                Rule(
                    id: "r-frob", tier: c.tier, decision: c.verdict, reason: "frob rule",
                    match: RuleMatch(argv: ["frob"]))
            ],
            tiers: [c.tier.rawValue: TierSettings(require: c.missing.required)])
        let evidence = Evidence(tool: "Bash", command: "frob now", hookEvent: c.event, agent: c.agent, cwd: "/w")
        let context = DecisionRule.Context(
            truncated: c.truncated, actionBytes: c.truncated ? 70_000 : nil,
            actionSHA256: c.truncated ? String(repeating: "ab", count: 32) : nil, pending: c.pending.pending,
            maxPending: c.pending.cap, snapshot: c.snapshot)
        return DecisionRule.decide(policy: policy, evidence: evidence, labels: [:], context: context)
    }

    /// All 2160 combinations in one test (one line of output, each failure names its case).
    @Test func everyCombinationDecidesAsDocumented() {
        #expect(Self.cases.count == 3 * 3 * 4 * 5 * 2 * 3 * 2)
        for c in Self.cases {
            let label = Comment(rawValue: c.testDescription)
            let ruling = Self.ruling(c)
            #expect(ruling.evaluation.verdict == c.verdict && ruling.evaluation.tier == c.tier, label)
            let (verdict, limit) = Self.expected(c)
            #expect(ruling.outcome.verdict == verdict, label)
            let rule: DecidedBy = c.snapshot ? .hostSnapshot(rule: "r-frob") : .policy(rule: "r-frob")
            switch ruling.outcome {
            case .allow(let reason, let by):
                #expect(by == rule, label)
                #expect(reason.contains("frob rule"), label)
            case .deny(let reason, let by):
                #expect(by == (limit ? .limit(.maxPendingRequests) : rule), label)
                if limit { #expect(reason.contains("already wait for a person"), label) }
            case .ask(let reason):
                if c.truncated && c.verdict == .allow {
                    #expect(reason.contains("70000 bytes") && reason.contains("sha256 abab"), label)
                }
            }
        }
    }

    @Test func aTruncatedActionIsNeverAllowedByPolicy() {
        for c in Self.cases where c.truncated {
            #expect(Self.ruling(c).outcome.verdict != .allow, "\(c.testDescription)")
        }
    }

    /// The drift issue 9 found: the same call decided by the supervisor and by a host's snapshot
    /// gives the same verdict, the host only lacking a queue (its `ask` waits for the supervisor).
    @Test func theHostSnapshotAndTheSupervisorAgree() {
        for c in Self.cases where !c.snapshot && c.pending != .atCap {
            var host = c
            host.snapshot = true
            host.pending = .noCap
            let supervisor = Self.ruling(c).outcome
            let snapshot = Self.ruling(host).outcome
            #expect(supervisor.verdict == snapshot.verdict, "\(c.testDescription)")
            #expect(supervisor.decidedBy.map(Self.asSnapshot) == snapshot.decidedBy, "\(c.testDescription)")
        }
    }

    static func asSnapshot(_ by: DecidedBy) -> DecidedBy {
        if case .policy(let rule) = by { return .hostSnapshot(rule: rule) }
        return by
    }

    @Test func codexPreToolUseWithoutAReasonIsShownNotDenied() {
        let c = Case(
            verdict: .allow, tier: .expand, missing: .reason, agent: .codex, event: "PreToolUse", truncated: false,
            pending: .noCap, snapshot: true)
        let ruling = Self.ruling(c)
        #expect(ruling.outcome.verdict == .allow)
        #expect(ruling.missingEvidence == ["reason"] && ruling.enforcedMissing.isEmpty)
    }

    @Test func noMatchingRuleIsNamedDefault() {
        let evidence = Evidence(tool: "Bash", command: "something-unknown", cwd: "/w")
        let ruling = DecisionRule.decide(
            policy: Policy(tiers: ["expand": TierSettings()]), evidence: evidence, labels: [:],
            context: .init(pending: 0, maxPending: 10))
        #expect(ruling.outcome == .ask(reason: "Bosun policy (default): \(ruling.evaluation.reason)"))
    }

    /// Every `decided_by` string Bosun writes keeps its exact form (`bosun audit verify` compares them).
    @Test func decidedByEncodingsAreStable() {
        let table: [(DecidedBy, String)] = [
            (.policy(rule: "git-read"), "policy:git-read"), (.policy(rule: "default"), "policy:default"),
            (.operators(["alice"]), "operator:alice"), (.operators(["alice", "bob"]), "operator:alice, bob"),
            (.timeout, "timeout"), (.limit(.maxPendingRequests), "limit:max_pending_requests"),
            (.limit(.storage), "limit:storage"), (.limit(.store), "limit:store"),
            (.hostSnapshot(rule: "r1"), "host-snapshot:r1"), (.hostClaim(basis: "deadline"), "host:deadline"),
            (.hostClaim(basis: "unreachable"), "host:unreachable"),
            (.hostClaim(basis: "agent-gone"), "host:agent-gone"),
            (.hostClaim(basis: "failure"), "host:failure"), (.hostClaim(basis: "undeliverable"), "host:undeliverable"),
            (.hostClaim(basis: "truncated"), "host:truncated"),
            (.host(name: "h1", basis: "snapshot:r1"), "host:h1/snapshot:r1"),
        ]
        for (typed, text) in table {
            #expect(typed.encoded == text)
            #expect(DecidedBy(parsing: text) == typed)
        }
        #expect(DecidedBy(parsing: "limit:nonsense") == nil)
        #expect(DecidedBy(parsing: "someone") == nil)
        #expect(DecidedBy.operators(["a"]).isOperator && !DecidedBy.policy(rule: "x").isOperator)
    }
}
