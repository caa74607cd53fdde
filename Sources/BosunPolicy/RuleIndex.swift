import BosunCore

/// A rule with its patterns compiled, shared by reference so evaluation copies no rule data.
final class CompiledRule: Sendable {
    let id: String
    let tier: Tier
    let decision: Verdict
    let reason: String
    let source: String
    let tools: [[UInt8]]
    let argv: [ArgvPattern]
    let paths: PathGlobList
    let writes: PathGlobList
    let labels: [(name: String, value: String, pattern: [UInt8])]
    let agents: [AgentKind]
    init(_ rule: Rule) {
        id = rule.id
        tier = rule.tier
        decision = rule.decision
        reason = rule.reason
        source = rule.source
        tools = rule.match.tools.map { Array($0.lowercased().utf8) }
        argv = rule.match.argv.map(ArgvPattern.init)
        paths = PathGlobList(rule.match.paths)
        writes = PathGlobList(rule.match.writes)
        labels = rule.match.labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value, Array($0.value.utf8)) }
        agents = rule.match.agents
    }

    /// The conditions that do not depend on the part: tool, agent, labels.
    func applies(to context: MatchContext) -> Bool {
        if !tools.isEmpty && !tools.contains(where: { Wildcard.matches($0, context.tool, questionMark: false) }) {
            return false
        }
        if !agents.isEmpty && !agents.contains(context.agent) { return false }
        for label in labels {
            guard let actual = context.labels[label.name] else { return false }
            if label.value != actual && !Wildcard.matches(label.pattern, actual, questionMark: false) { return false }
        }
        return true
    }

    /// Whether the rule matches `part`, trying only the argv patterns at `patterns` (the others cannot
    /// match the part's first word).
    func matches(_ part: PolicyPart, patterns: [Int]) -> Bool {
        if !argv.isEmpty && !patterns.contains(where: { argv[$0].matches(part.argv) }) { return false }
        if !paths.isEmpty && !part.paths.contains(where: paths.matches) { return false }
        if !writes.isEmpty && !part.writes.contains(where: writes.matches) { return false }
        return true
    }

    func matches(_ part: PolicyPart) -> Bool { matches(part, patterns: Array(argv.indices)) }
}

/// The compiled rules plus, per first word of a command, the rules that can match it (in rule order) and
/// which of their argv patterns can: those starting with that word and those starting with a wildcard.
struct RuleIndex: Sendable {
    struct Candidate: Sendable {
        var rule: Int
        /// Positions of the rule's argv patterns worth trying (ignored when the rule has none).
        var patterns: [Int]
    }

    let rules: [CompiledRule]
    private var byFirstWord: [String: [Candidate]] = [:]
    /// The candidates for a first word no pattern names literally (and for an empty argv).
    private var anyFirstWord: [Candidate] = []

    init(_ rules: [Rule]) {
        self.rules = rules.map(CompiledRule.init)
        var specific: [String: [Candidate]] = [:]
        for (position, rule) in self.rules.enumerated() {
            var wildcard: [Int] = []
            var literal: [String: [Int]] = [:]
            for (index, pattern) in rule.argv.enumerated() {
                if let words = pattern.firstWords {
                    for word in words { literal[word, default: []].append(index) }
                } else {
                    wildcard.append(index)
                }
            }
            if rule.argv.isEmpty || !wildcard.isEmpty {
                anyFirstWord.append(Candidate(rule: position, patterns: wildcard))
            }
            for (word, patterns) in literal {
                specific[word, default: []].append(Candidate(rule: position, patterns: (patterns + wildcard).sorted()))
            }
        }
        for (word, candidates) in specific {
            let named = Set(candidates.map(\.rule))
            byFirstWord[word] = (candidates + anyFirstWord.filter { !named.contains($0.rule) }).sorted {
                $0.rule < $1.rule
            }
        }
    }

    /// The rules that may match a part with this argv, in rule order.
    func candidates(for argv: [String]) -> [Candidate] {
        guard let first = argv.first else { return anyFirstWord }
        return byFirstWord[first] ?? anyFirstWord
    }
}
