public import BosunCore

/// The one rule that turns a policy evaluation into what happens to a request. The supervisor
/// (`Fleet.receive`) and a host's snapshot (`HookRunner.snapshotDecision`) both call it, so the two
/// cannot drift: the same policy, evidence, labels and context give the same outcome.
///
/// In order:
/// 1. a policy `deny` denies (by the rule);
/// 2. evidence the tier requires and the request lacks denies (by the rule) — except a missing
///    `reason` on Codex's PreToolUse, whose input has no description: that is shown to the person
///    deciding instead;
/// 3. an `allow` of an action the decider saw only part of (`truncated`) becomes `ask`: policy
///    cannot allow what it did not see, a person can;
/// 4. an `ask` over the host's pending cap denies (`limit:max_pending_requests`);
/// 5. `allow` allows (by the rule); `ask` waits for a person.
public enum DecisionRule {
    /// What surrounds one request besides the policy and its evidence.
    public struct Context: Sendable, Equatable {
        /// The evidence is the start of a longer action (the host cut it to fit the link).
        public var truncated: Bool
        /// Whole action's length and SHA-256, when truncated (shown in the ask's reason).
        public var actionBytes: Int?
        public var actionSHA256: String?
        /// Requests from this host already waiting for a person.
        public var pending: Int
        /// The cap on `pending` (`links.max_pending_requests`); nil where there is no queue (a host).
        public var maxPending: Int?
        /// The host decides from its last policy snapshot (no supervisor link).
        public var snapshot: Bool

        public init(
            truncated: Bool = false, actionBytes: Int? = nil, actionSHA256: String? = nil, pending: Int = 0,
            maxPending: Int? = nil, snapshot: Bool = false
        ) {
            self.truncated = truncated
            self.actionBytes = actionBytes
            self.actionSHA256 = actionSHA256
            self.pending = pending
            self.maxPending = maxPending
            self.snapshot = snapshot
        }

        /// The supervisor's context for a request as a host sent it.
        public static func supervisor(_ request: ApprovalRequest, pending: Int, maxPending: Int) -> Context {
            Context(
                truncated: request.truncated, actionBytes: request.actionBytes, actionSHA256: request.actionSHA256,
                pending: pending, maxPending: maxPending)
        }

        /// A host's snapshot context: it evaluates the whole action it holds, and has no queue.
        public static let hostSnapshot = Context(snapshot: true)
    }

    /// What happens to the request.
    public enum Outcome: Sendable, Equatable {
        case allow(reason: String, decidedBy: DecidedBy)
        case deny(reason: String, decidedBy: DecidedBy)
        /// A person decides; `reason` says why policy did not.
        case ask(reason: String)

        /// The final verdict, or nil while a person has to decide.
        public var verdict: DecisionVerdict? {
            switch self {
            case .allow: .allow
            case .deny: .deny
            case .ask: nil
            }
        }

        public var decidedBy: DecidedBy? {
            switch self {
            case .allow(_, let by), .deny(_, let by): by
            case .ask: nil
            }
        }

        public var reason: String {
            switch self {
            case .allow(let reason, _), .deny(let reason, _), .ask(let reason): reason
            }
        }
    }

    /// The policy's evaluation of one request plus the outcome.
    public struct Ruling: Sendable, Equatable {
        public var evaluation: Evaluation
        public var settings: TierSettings
        /// Required evidence the request lacks (all of it, including what is only shown).
        public var missingEvidence: [String]
        /// The part of `missingEvidence` that denies.
        public var enforcedMissing: [String]
        public var outcome: Outcome

        /// `policy:<rule>` or, on a host, `host-snapshot:<rule>`.
        public var ruleName: String { DecidedBy.ruleName(evaluation.ruleID) }
    }

    /// Evaluates the policy and decides in one step.
    public static func decide(
        policy: Policy, evidence: Evidence, labels: [String: String], context: Context
    ) -> Ruling {
        let evaluation = policy.evaluate(PolicyInput(evidence: evidence, labels: labels))
        return decide(evaluation: evaluation, policy: policy, evidence: evidence, context: context)
    }

    /// Decides from an evaluation already made (the supervisor counts pending requests only for an `ask`).
    public static func decide(
        evaluation: Evaluation, policy: Policy, evidence: Evidence, context: Context
    ) -> Ruling {
        let settings = policy.settings(for: evaluation.tier)
        let missing = evidence.missing(settings.require)
        let enforced = enforcedMissing(missing, evidence: evidence)
        let outcome = decide(
            verdict: evaluation.verdict, tier: evaluation.tier, rule: evaluation.ruleID,
            policyReason: evaluation.reason,
            enforcedMissing: enforced, context: context)
        return Ruling(
            evaluation: evaluation, settings: settings, missingEvidence: missing, enforcedMissing: enforced,
            outcome: outcome)
    }

    /// Codex's PreToolUse input carries no description, so it cannot state a reason there: a
    /// missing reason is shown to the person deciding instead of denying outright.
    public static func enforcedMissing(_ missing: [String], evidence: Evidence) -> [String] {
        evidence.agent == .codex && evidence.hookEvent == "PreToolUse" ? missing.filter { $0 != "reason" } : missing
    }

    /// Whether the outcome depends on the pending count (so the caller must count).
    public static func needsPendingCount(verdict: Verdict, truncated: Bool) -> Bool {
        verdict == .ask || (verdict == .allow && truncated)
    }

    /// The table itself, on plain values.
    public static func decide(
        verdict: Verdict, tier: Tier, rule: String?, policyReason: String, enforcedMissing: [String], context: Context
    ) -> Outcome {
        let name = DecidedBy.ruleName(rule)
        let byRule: DecidedBy = context.snapshot ? .hostSnapshot(rule: name) : .policy(rule: name)
        if verdict == .deny {
            return .deny(reason: "Bosun policy (\(name)): \(policyReason)", decidedBy: byRule)
        }
        if !enforcedMissing.isEmpty {
            let article = tier == .expand ? "an" : "a"
            return .deny(
                reason:
                    "Bosun: \(article) \(tier.rawValue)-tier action needs evidence that is missing: \(enforcedMissing.joined(separator: ", ")). Supply it (e.g. state why in the tool call's description) and try again.",
                decidedBy: byRule)
        }
        var askReason = "Bosun policy (\(name)): \(policyReason)"
        var effective = verdict
        if verdict == .allow && context.truncated {
            effective = .ask
            let size = context.actionBytes.map { "\($0) bytes" } ?? "too large"
            let digest = context.actionSHA256.map { ", sha256 \($0)" } ?? ""
            askReason =
                "Bosun: policy (\(name)) would allow this, but the action was cut to fit the link (\(size)\(digest)); policy cannot allow what it did not see in full, so a person decides."
        }
        if effective == .ask, let cap = context.maxPending, context.pending >= cap {
            return .deny(
                reason:
                    "Bosun: \(context.pending) requests from this host already wait for a person; denied until the queue drains.",
                decidedBy: .limit(.maxPendingRequests))
        }
        if effective == .allow {
            let reason =
                context.snapshot
                ? "Bosun policy snapshot (\(name)), supervisor unreachable: \(policyReason)"
                : "Bosun policy (\(name)): \(policyReason)"
            return .allow(reason: reason, decidedBy: byRule)
        }
        return .ask(reason: askReason)
    }
}
