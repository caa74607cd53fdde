public import FoundationEssentials

/// The one place a ``Decision`` is built, one constructor per decider, so a call site says what
/// decided and never spells a `decided_by` string. Policy's constructor (a rule on the supervisor or
/// a host's snapshot, or the pending cap the rule applies) is `DecisionRule.Ruling.decision` in
/// BosunPolicy, on top of ``decided(_:by:request:tier:rule:reason:at:)``.
extension Decision {
    /// A verdict by a decider the caller already holds as a value (a policy outcome).
    public static func decided(
        _ verdict: DecisionVerdict, by decider: DecidedBy, request requestID: RequestID, tier: Tier, rule: String?,
        reason: String, at date: Date
    ) -> Decision {
        Decision(
            requestID: requestID, verdict: verdict, tier: tier, rule: rule, reason: reason, decidedBy: decider,
            decidedAt: date)
    }

    /// Operators decided: one who denied, or the approvers that made the quorum (names sorted).
    public static func byOperators(
        _ names: [String], _ verdict: DecisionVerdict, request requestID: RequestID, tier: Tier, rule: String?,
        reason: String, at date: Date
    ) -> Decision {
        decided(verdict, by: .operators(names), request: requestID, tier: tier, rule: rule, reason: reason, at: date)
    }

    /// The supervisor's time to live for the request ran out: `expired`, never a person's denial.
    public static func timedOut(
        request requestID: RequestID, tier: Tier, rule: String?, reason: String, at date: Date
    ) -> Decision {
        decided(.expired, by: .timeout, request: requestID, tier: tier, rule: rule, reason: reason, at: date)
    }

    /// A supervisor limit refused the request: deny.
    public static func refused(
        by limit: DecidedBy.Limit, request requestID: RequestID, tier: Tier = .expand, rule: String? = nil,
        reason: String, at date: Date
    ) -> Decision {
        decided(.deny, by: .limit(limit), request: requestID, tier: tier, rule: rule, reason: reason, at: date)
    }

    /// A host answered by itself for `basis` (its hook's claim, `host:<basis>`); the verdict follows
    /// from the basis (a deadline or a departed agent is a timeout, the rest deny).
    public static func hostClaim(
        _ basis: DecidedBy.HostBasis, request requestID: RequestID, tier: Tier = .expand, rule: String? = nil,
        reason: String, at date: Date
    ) -> Decision {
        decided(
            basis.verdict, by: .hostClaim(basis: basis.rawValue), request: requestID, tier: tier, rule: rule,
            reason: reason, at: date)
    }

    /// A host's own answer as the supervisor records it (`host:<name>/<basis>`): the host's verdict,
    /// the supervisor's tier and rule, whatever author the host claimed.
    public static func fromHost(
        _ name: HostName, basis: String, _ verdict: DecisionVerdict, request requestID: RequestID, tier: Tier,
        rule: String?, reason: String, at date: Date
    ) -> Decision {
        decided(
            verdict, by: .host(name: name.rawValue, basis: basis), request: requestID, tier: tier, rule: rule,
            reason: reason,
            at: date)
    }
}
