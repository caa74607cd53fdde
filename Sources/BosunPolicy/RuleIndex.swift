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
    /// `argv[i].required`, apart so checking it touches no pattern.
    let argvRequired: [ByteSet]
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
        argvRequired = argv.map(\.required)
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

    /// Whether the rule matches `part`, trying only the argv patterns in `patterns` (the others cannot
    /// match the part's first word).
    func matches(_ part: PolicyPart, patterns: PatternSet) -> Bool {
        if !argv.isEmpty {
            var matched = false
            for position in argv.indices where patterns.contains(position) {
                // Most patterns need a byte the argv lacks (`$`, `=`, `[`): rejected without matching.
                if argvRequired[position].isSubset(of: part.argvBytes) && argv[position].matches(part.argv) {
                    matched = true
                    break
                }
            }
            if !matched { return false }
        }
        // Paths by position, read in place (not copied out with their arrays of segments).
        if !paths.isEmpty {
            guard paths.mayMatch(part.pathSummary) else { return false }
            var matched = false
            for position in part.paths.indices where paths.matches(part.paths[position]) {
                matched = true
                break
            }
            if !matched { return false }
        }
        if !writes.isEmpty {
            guard writes.mayMatch(part.writeSummary) else { return false }
            var matched = false
            for position in part.writes.indices where writes.matches(part.writes[position]) {
                matched = true
                break
            }
            if !matched { return false }
        }
        return true
    }

    func matches(_ part: PolicyPart) -> Bool { matches(part, patterns: .all) }
}

/// Which argv patterns of a rule to try: positions below 64 by bit, or all of them.
struct PatternSet: Sendable {
    var bits: UInt64
    var all: Bool

    static let all = PatternSet(bits: 0, all: true)

    init(bits: UInt64, all: Bool) {
        self.bits = bits
        self.all = all
    }

    /// `positions`, or all patterns when one is beyond 63.
    init(_ positions: [Int]) {
        bits = 0
        all = false
        for position in positions {
            guard position < 64 else {
                all = true
                return
            }
            bits |= 1 &<< UInt64(position)
        }
    }

    @inline(__always) func contains(_ position: Int) -> Bool {
        all || (position < 64 && bits & (1 &<< UInt64(position)) != 0)
    }
}

/// The compiled rules plus, per first word of a command, the rules that can match it (in rule order) and
/// which of their argv patterns can: those starting with that word and those starting with a wildcard.
struct RuleIndex: Sendable {
    struct Candidate: Sendable {
        var rule: Int
        /// The rule's argv patterns worth trying (ignored when the rule has none).
        var patterns: PatternSet
        /// Where `required` holds the bytes each of those patterns requires (empty when the rule has no
        /// argv pattern): one of them not in a part's argv, and the rule cannot match the part.
        var requiredStart = 0
        var requiredEnd = 0
        var hasArgv = false

        init(rule: Int, patterns: PatternSet) {
            self.rule = rule
            self.patterns = patterns
        }
    }

    let rules: [CompiledRule]
    /// The candidates' patterns' required bytes, in one array of plain values: a candidate whose
    /// patterns all need a byte the part lacks is passed over without touching its rule (a class:
    /// reading it retains and releases it).
    private(set) var required: [ByteSet] = []
    private var byFirstWord: [String: [Candidate]] = [:]
    /// The candidates for a first word no pattern names literally (and for an empty argv).
    private var anyFirstWord: [Candidate] = []

    /// Per rule, true when it has no tool, agent or label condition (it applies to every action).
    private let unconditional: [Bool]
    /// The positions of the other rules: those with only a tool condition, with their tool globs
    /// (`CompiledRule.tools`), and the rest.
    private let toolOnly: [ToolCondition]

    /// A rule's tool globs, with the first bytes they need (`anyFirst`: some glob is empty or starts
    /// with `*`, so any first byte may do).
    private struct ToolCondition: Sendable {
        var position: Int
        var tools: [[UInt8]]
        var firstBytes = ByteSet()
        var anyFirst = false

        init(position: Int, tools: [[UInt8]]) {
            self.position = position
            self.tools = tools
            for glob in tools {
                if let first = glob.first, first != .star { firstBytes.insert(first) } else { anyFirst = true }
            }
        }
    }
    private let otherConditional: [Int]

    init(_ rules: [Rule]) {
        self.rules = rules.map(CompiledRule.init)
        let unconditional = self.rules.map { $0.tools.isEmpty && $0.agents.isEmpty && $0.labels.isEmpty }
        self.unconditional = unconditional
        let conditional = unconditional.indices.filter { !unconditional[$0] }
        let rules = self.rules
        toolOnly = conditional.filter { rules[$0].agents.isEmpty && rules[$0].labels.isEmpty }.map {
            ToolCondition(position: $0, tools: rules[$0].tools)
        }
        otherConditional = conditional.filter { !rules[$0].agents.isEmpty || !rules[$0].labels.isEmpty }
        var specific: [String: [Candidate]] = [:]
        for (position, rule) in self.rules.enumerated() {
            var wildcard: [Int] = []
            // A rule's few first words with their patterns, searched in order rather than hashed
            // (hashing was most of building the index, which `policy explain` does on every call).
            var literal: [(word: String, patterns: [Int])] = []
            for (index, pattern) in rule.argv.enumerated() {
                if let words = pattern.firstWords {
                    for word in words {
                        if let known = literal.firstIndex(where: { $0.word == word }) {
                            literal[known].patterns.append(index)
                        } else {
                            literal.append((word, [index]))
                        }
                    }
                } else {
                    wildcard.append(index)
                }
            }
            if rule.argv.isEmpty || !wildcard.isEmpty {
                anyFirstWord.append(Candidate(rule: position, patterns: PatternSet(wildcard)))
            }
            for (word, patterns) in literal {
                // (A pattern set is a set of positions: their order does not matter.)
                specific[word, default: []].append(Candidate(rule: position, patterns: PatternSet(patterns + wildcard)))
            }
        }
        // Both lists are in rule order: merged, a rule named by the word replaces its wildcard entry.
        // In place: the words are hashed once, above.
        for slot in specific.values.indices {
            let candidates = specific.values[slot]
            var merged: [Candidate] = []
            merged.reserveCapacity(candidates.count + anyFirstWord.count)
            var named = 0
            var any = 0
            while named < candidates.count || any < anyFirstWord.count {
                if any == anyFirstWord.count
                    || (named < candidates.count && candidates[named].rule <= anyFirstWord[any].rule)
                {
                    if any < anyFirstWord.count && anyFirstWord[any].rule == candidates[named].rule { any += 1 }
                    merged.append(candidates[named])
                    named += 1
                } else {
                    merged.append(anyFirstWord[any])
                    any += 1
                }
            }
            specific.values[slot] = merged
        }
        byFirstWord = specific
        anyFirstWord = withRequired(anyFirstWord)
        for slot in byFirstWord.values.indices { byFirstWord.values[slot] = withRequired(byFirstWord.values[slot]) }
    }

    /// `candidates` with their patterns' required bytes appended to `required`.
    private mutating func withRequired(_ candidates: [Candidate]) -> [Candidate] {
        candidates.map { candidate in
            var candidate = candidate
            let rule = rules[candidate.rule]
            candidate.hasArgv = !rule.argv.isEmpty
            candidate.requiredStart = required.count
            for position in rule.argv.indices where candidate.patterns.contains(position) {
                required.append(rule.argvRequired[position])
            }
            candidate.requiredEnd = required.count
            return candidate
        }
    }

    /// Whether some pattern of `candidate` may match an argv of these bytes (false: the rule cannot
    /// match it; `CompiledRule.matches` makes the same check before matching each pattern).
    @inline(__always) func mayMatch(_ candidate: Candidate, argvBytes: ByteSet) -> Bool {
        guard candidate.hasArgv else { return true }
        for position in candidate.requiredStart..<candidate.requiredEnd
        where required[position].isSubset(of: argvBytes) {
            return true
        }
        return false
    }

    /// Per rule, whether its tool, agent and label conditions hold in `context`.
    func applicable(to context: MatchContext) -> [Bool] {
        var applicable = unconditional
        // Rules whose only condition is their tools (all of them in practice): their tool globs
        // matched over the tool name's bytes, taken out once, without reading the rules.
        let done: Bool? = context.tool.utf8.withContiguousStorageIfAvailable { tool in
            for entry in toolOnly.indices {
                // No glob starts with a wildcard or the tool's first byte: none can match.
                if let first = tool.first, !toolOnly[entry].anyFirst,
                    !ByteSet.contains(toolOnly[entry].firstBytes, first)
                {
                    applicable[toolOnly[entry].position] = false
                    continue
                }
                var holds = false
                for glob in toolOnly[entry].tools.indices
                where Wildcard.matches(toolOnly[entry].tools[glob], tool, questionMark: false) {
                    holds = true
                    break
                }
                applicable[toolOnly[entry].position] = holds
            }
            return true
        }
        if done == nil {
            for entry in toolOnly {
                applicable[entry.position] = rules[entry.position].applies(to: context)
            }
        }
        for position in otherConditional { applicable[position] = rules[position].applies(to: context) }
        return applicable
    }

    /// The rules that may match a part with this argv, in rule order.
    func candidates(for argv: [String]) -> [Candidate] {
        guard let first = argv.first else { return anyFirstWord }
        return byFirstWord[first] ?? anyFirstWord
    }
}
