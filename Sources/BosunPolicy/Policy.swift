public import BosunCore

/// The central, tiered policy: ordered rules plus per-tier approval settings. Sent to hosts as a JSON
/// snapshot, so evaluation gives the same answer on the supervisor and on a host.
public struct Policy: Codable, Sendable {
    /// In order: files by name, rules in file order. The first rule that matches a part decides it.
    public var rules: [Rule] { didSet { index = RuleIndex(rules) } }
    /// Per-tier settings keyed by the tier's raw value; a tier absent here has its defaults.
    public var tiers: [String: TierSettings]

    /// Which rules can match a command, by its first word.
    private(set) var index: RuleIndex

    public init(rules: [Rule] = [], tiers: [String: TierSettings] = [:]) {
        self.rules = rules
        self.tiers = tiers
        index = RuleIndex(rules)
    }

    enum CodingKeys: String, CodingKey {
        case rules, tiers
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            rules: try container.decode([Rule].self, forKey: .rules),
            tiers: try container.decodeIfPresent([String: TierSettings].self, forKey: .tiers) ?? [:])
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rules, forKey: .rules)
        try container.encode(tiers, forKey: .tiers)
    }

    /// No rules: every action is `expand`/`ask`.
    public static let empty = Policy()

    /// The settings for `tier`: the configured ones, else the defaults.
    public func settings(for tier: Tier) -> TierSettings {
        tiers[tier.rawValue] ?? TierSettings.defaults(for: tier)
    }
}

extension Policy: Equatable {
    public static func == (lhs: Policy, rhs: Policy) -> Bool { lhs.rules == rhs.rules && lhs.tiers == rhs.tiers }
}

/// Who may approve a request of one tier, with what evidence, and for how long.
public struct TierSettings: Codable, Sendable, Equatable {
    /// Operator channels whose votes count (`desk`, `mobile`, `cli`, …).
    public var approveFrom: [String]
    /// Evidence fields that must be present (names from `Evidence.requirableFields`).
    public var require: [String]
    /// Distinct operators needed (quorum, at least 1).
    public var approvers: Int
    /// How long a pending request waits for operators, in seconds.
    public var ttl: Double
    /// Whether an approving operator must write a note.
    public var noteRequired: Bool

    public init(
        approveFrom: [String] = ["desk", "mobile", "cli"], require: [String] = [], approvers: Int = 1,
        ttl: Double = 3600, noteRequired: Bool = false
    ) {
        self.approveFrom = approveFrom
        self.require = require
        self.approvers = approvers
        self.ttl = ttl
        self.noteRequired = noteRequired
    }

    /// The documented defaults: `expand` needs a reason; `commit` needs a reason, two desk or CLI
    /// approvers, a note, and expires after 30 minutes.
    public static func defaults(for tier: Tier) -> TierSettings {
        switch tier {
        case .steer, .continue: TierSettings()
        case .expand: TierSettings(require: ["reason"])
        case .commit:
            TierSettings(
                approveFrom: ["desk", "cli"], require: ["reason"], approvers: 2, ttl: 1800, noteRequired: true)
        }
    }

    enum CodingKeys: String, CodingKey {
        case require, approvers, ttl
        case approveFrom = "approve_from"
        case noteRequired = "note_required"
    }
}

/// One `[[rule]]`: when `match` holds for a part of an action, that part gets `tier` and `decision`.
public struct Rule: Codable, Sendable, Equatable {
    /// Unique across all policy files: lowercase letters, digits, `.`, `_`, `-`.
    public var id: String
    public var tier: Tier
    public var decision: Verdict
    /// Shown to the agent and to operators.
    public var reason: String
    public var match: RuleMatch
    /// Command lines (or `Tool: path …`) this rule must match; checked at load.
    public var examplesMatch: [String]
    /// Command lines (or `Tool: path …`) this rule must not match; checked at load.
    public var examplesNotMatch: [String]
    /// `file:line` of the rule's `[[rule]]` header.
    public var source: String

    public init(
        id: String, tier: Tier, decision: Verdict, reason: String, match: RuleMatch = RuleMatch(),
        examplesMatch: [String] = [], examplesNotMatch: [String] = [], source: String = ""
    ) {
        self.id = id
        self.tier = tier
        self.decision = decision
        self.reason = reason
        self.match = match
        self.examplesMatch = examplesMatch
        self.examplesNotMatch = examplesNotMatch
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case id, tier, decision, reason, match, source
        case examplesMatch = "examples_match"
        case examplesNotMatch = "examples_not_match"
    }
}

/// When a rule applies. Every condition that is present must hold; an empty condition holds always.
public struct RuleMatch: Codable, Sendable, Equatable {
    /// Tool names or globs (`Bash`, `Edit`, `mcp__*`), case-insensitive.
    public var tools: [String]
    /// Argv patterns (see `policies/default.toml`); any one must match the part's argv.
    public var argv: [String]
    /// Path globs; some path of the part must match: tool paths, operands (not options, URLs, or
    /// `echo`/`printf` text), redirection sources and targets, assignment values and `for … in` words.
    public var paths: [String]
    /// Path globs; some path the part writes (redirect targets, Edit/Write/apply_patch paths) must match.
    public var writes: [String]
    /// Host labels that must all be present with these values (`*` wildcards allowed in values).
    public var labels: [String: String]
    /// Agents the rule applies to; empty means all.
    public var agents: [AgentKind]

    public init(
        tools: [String] = [], argv: [String] = [], paths: [String] = [], writes: [String] = [],
        labels: [String: String] = [:], agents: [AgentKind] = []
    ) {
        self.tools = tools
        self.argv = argv
        self.paths = paths
        self.writes = writes
        self.labels = labels
        self.agents = agents
    }

    /// Why `pattern` is not a usable argv pattern, or nil.
    public static func argvPatternProblem(_ pattern: String) -> String? { ArgvPattern.problem(pattern) }

    /// Why `glob` is not a usable path glob, or nil.
    public static func pathGlobProblem(_ glob: String) -> String? { PathGlob.problem(glob) }

    enum CodingKeys: String, CodingKey {
        case tools, argv, paths, writes, labels, agents
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            tools: try container.decodeIfPresent([String].self, forKey: .tools) ?? [],
            argv: try container.decodeIfPresent([String].self, forKey: .argv) ?? [],
            paths: try container.decodeIfPresent([String].self, forKey: .paths) ?? [],
            writes: try container.decodeIfPresent([String].self, forKey: .writes) ?? [],
            labels: try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:],
            agents: try container.decodeIfPresent([AgentKind].self, forKey: .agents) ?? [])
    }
}
