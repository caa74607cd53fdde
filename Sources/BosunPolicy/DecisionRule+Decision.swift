public import BosunCore
public import FoundationEssentials

extension DecisionRule.Ruling {
    /// The decision policy made — by a rule on the supervisor, by a host's snapshot, or by the
    /// pending cap the rule applies — or nil when a person decides. The tier and rule are the
    /// evaluation's.
    public func decision(request requestID: RequestID, at date: Date) -> Decision? {
        guard let verdict = outcome.verdict, let decider = outcome.decidedBy else { return nil }
        return .decided(
            verdict, by: decider, request: requestID, tier: evaluation.tier, rule: evaluation.ruleID,
            reason: outcome.reason, at: date)
    }
}
