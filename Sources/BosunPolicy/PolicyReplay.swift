public import BosunCore

/// `policy replay`: a candidate policy decided over stored requests, against what happened.
public enum PolicyReplay {
    /// Where a request went: policy allowed or denied it on arrival, or a person was asked.
    public enum Route: String, Sendable, Equatable, Encodable {
        case allow, ask, deny
    }

    /// How a stored request ended, in words for the change list.
    public enum Ending: String, Sendable, Equatable, Encodable {
        case policyAllowed = "policy allowed"
        case policyDenied = "policy denied"
        case personApproved = "a person approved"
        case personDenied = "a person denied"
        case expired = "expired unanswered"
        case otherwise = "was asked"
    }

    /// One stored request as the supervisor decided it.
    public struct Item: Sendable, Equatable {
        public var number: Int64
        public var host: String
        public var evidence: Evidence
        public var labels: [String: String]
        public var truncated: Bool
        public var route: Route
        public var ending: Ending

        public init(
            number: Int64, host: String, evidence: Evidence, labels: [String: String], truncated: Bool, route: Route,
            ending: Ending
        ) {
            self.number = number
            self.host = host
            self.evidence = evidence
            self.labels = labels
            self.truncated = truncated
            self.route = route
            self.ending = ending
        }
    }

    /// A request the candidate would have routed differently.
    public struct Change: Sendable, Equatable, Encodable {
        public var number: Int64
        public var host: String
        public var action: String
        public var was: Route
        public var ending: Ending
        public var would: Route
        /// The candidate's deciding rule (nil: no rule, or missing evidence by the default).
        public var rule: String?
        public var reason: String
        /// `would-allow what a person denied`, …
        public var kind: String
    }

    /// Every request the candidate routes differently, in request order.
    public static func changes(_ items: [Item], candidate: Policy) -> [Change] {
        items.compactMap { item in
            // The pending cap is a property of the moment, not of the policy: left out.
            let ruling = DecisionRule.decide(
                policy: candidate, evidence: item.evidence, labels: item.labels,
                context: DecisionRule.Context(truncated: item.truncated))
            let would: Route =
                switch ruling.outcome {
                case .allow: .allow
                case .deny: .deny
                case .ask: .ask
                }
            guard would != item.route else { return nil }
            return Change(
                number: item.number, host: item.host,
                action: item.evidence.command ?? ([item.evidence.tool] + item.evidence.paths).joined(separator: " "),
                was: item.route, ending: item.ending, would: would, rule: ruling.evaluation.ruleID,
                reason: ruling.outcome.reason, kind: "would \(would.rawValue) what \(item.ending.rawValue)")
        }
    }
}
