import BosunCore
public import BosunPolicy
import FoundationEssentials

extension Policy {
    /// Loads every `*.toml` in `directory`, in name order; a missing directory is `Policy.empty`.
    /// Every rule's examples are checked (what bosund does at start-up and reload), unless
    /// `examples` names a cache of policies already checked (``ExampleChecking``).
    public static func load(directory: String, examples: ExampleChecking = .always) throws(ConfigError) -> Policy {
        let fm = FileManager.default
        var isDirectory = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory) else { return .empty }
        guard isDirectory else {
            throw ConfigError(file: directory, key: nil, message: "expected a directory of policy files")
        }
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: directory)
        } catch {
            throw ConfigError(file: directory, key: nil, message: "cannot list the directory: \(error)")
        }
        var files: [(text: String, file: String)] = []
        for name in names.sorted() where name.hasSuffix(".toml") {
            let file = Paths.join(directory, name)
            files.append((try SupervisorConfig.read(file), file))
        }
        return try parse(files: files, examples: examples)
    }

    /// Parses one policy file; `file` names it in errors and in each rule's `source`.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> Policy {
        try parse(files: [(text, file)])
    }

    /// Parses several policy files in order and merges them: rules are concatenated (ids unique across
    /// files), and a later file's `[tier.X]` keys override an earlier file's.
    public static func parse(
        files: [(text: String, file: String)], examples: ExampleChecking = .always
    ) throws(ConfigError) -> Policy {
        var key: String?
        var check = true
        if case .cached(let cache) = examples {
            key = cache.key(files)
            check = !(key.map(cache.contains) ?? false)
        }
        let policy = try parse(files: files, checkExamples: check)
        if check, case .cached(let cache) = examples, let key { cache.record(key) }
        return policy
    }

    static func parse(files: [(text: String, file: String)], checkExamples: Bool) throws(ConfigError) -> Policy {
        var rules: [Rule] = []
        var sources: [String: String] = [:]
        var overrides: [Tier: TierOverride] = [:]
        for (text, file) in files {
            let parsed = try PolicyFile.parse(text, file: file, checkExamples: checkExamples)
            for rule in parsed.rules {
                if let other = sources[rule.id] {
                    throw ConfigError(
                        file: file, key: "rule[id=\(rule.id)].id",
                        message: "duplicate rule id \"\(rule.id)\" (also at \(other))")
                }
                sources[rule.id] = rule.source
                rules.append(rule)
            }
            for (tier, override) in parsed.tiers {
                overrides[tier, default: TierOverride()].merge(override)
            }
        }
        var tiers: [String: TierSettings] = [:]
        for (tier, override) in overrides {
            tiers[tier.rawValue] = override.applied(to: TierSettings.defaults(for: tier))
        }
        return Policy(rules: rules, tiers: tiers)
    }
}

/// The `[tier.X]` keys one file sets; unset keys keep the earlier file's value or the default.
struct TierOverride: Equatable {
    var approveFrom: [String]?
    var require: [String]?
    var approvers: Int?
    var ttl: Double?
    var noteRequired: Bool?

    mutating func merge(_ later: TierOverride) {
        approveFrom = later.approveFrom ?? approveFrom
        require = later.require ?? require
        approvers = later.approvers ?? approvers
        ttl = later.ttl ?? ttl
        noteRequired = later.noteRequired ?? noteRequired
    }

    func applied(to defaults: TierSettings) -> TierSettings {
        TierSettings(
            approveFrom: approveFrom ?? defaults.approveFrom, require: require ?? defaults.require,
            approvers: approvers ?? defaults.approvers, ttl: ttl ?? defaults.ttl,
            noteRequired: noteRequired ?? defaults.noteRequired)
    }
}

/// One policy file, parsed and checked (every rule's examples included).
struct PolicyFile {
    var rules: [Rule]
    var tiers: [Tier: TierOverride]

    static let tierNames = Tier.allCases.map(\.rawValue).joined(separator: ", ")
    static let verdictNames = Verdict.allCases.map(\.rawValue).joined(separator: ", ")
    static let agentNames = AgentKind.allCases.map(\.rawValue).joined(separator: ", ")

    static func parse(_ text: String, file: String, checkExamples: Bool = true) throws(ConfigError) -> PolicyFile {
        let parsed = try ConfigValue.parseTOMLWithLines(text, file: file)
        var reader = TableReader(file: file, table: parsed.table)
        // The parser's own line of each `[[rule]]` header (parsed values carry no positions).
        let lines = parsed.tableArrayLines["rule"] ?? []
        var rules: [Rule] = []
        for (position, table) in (try reader.tableArray("rule") ?? []).enumerated() {
            let source = position < lines.count ? "\(file):\(lines[position])" : file
            rules.append(try parseRule(table, source: source, checkExamples: checkExamples))
        }
        var tiers: [Tier: TierOverride] = [:]
        if var tierTables = try reader.table("tier") {
            for name in tierTables.table.keys.sorted() {
                guard let tier = Tier(rawValue: name) else {
                    throw tierTables.error(name, "unknown tier (expected one of \(tierNames))")
                }
                guard var settings = try tierTables.table(name) else { continue }
                tiers[tier] = try parseTier(&settings)
            }
            try tierTables.rejectUnknownKeys()
        }
        try reader.rejectUnknownKeys()
        return PolicyFile(rules: rules, tiers: tiers)
    }

    static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64
            && id.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
            }
    }

    static func isValidChannel(_ name: String) -> Bool {
        !name.isEmpty
            && name.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || "_-".unicodeScalars.contains($0)
            }
    }

    static func parseRule(_ table: TableReader, source: String, checkExamples: Bool = true) throws(ConfigError)
        -> Rule
    {
        // Once the id is known, later key paths name the rule by it: rule[id=git-push].match.argv[0].
        var reader = table
        if case .string(let id)? = table.table["id"], isValidID(id) {
            reader = TableReader(file: table.file, prefix: "rule[id=\(id)]", table: table.table)
        }
        guard let id = try reader.string("id") else {
            throw reader.error("id", "missing; expected a unique id like \"git-push\"")
        }
        guard isValidID(id) else {
            throw reader.error(
                "id", "expected lowercase letters, digits, '.', '_' or '-' (at most 64), found \"\(id)\"")
        }
        guard let tierName = try reader.string("tier") else {
            throw reader.error("tier", "missing; expected one of \(tierNames)")
        }
        guard let tier = Tier(rawValue: tierName) else {
            throw reader.error("tier", "expected one of \(tierNames), found \"\(tierName)\"")
        }
        guard let decisionName = try reader.string("decision") else {
            throw reader.error("decision", "missing; expected one of \(verdictNames)")
        }
        guard let decision = Verdict(rawValue: decisionName) else {
            throw reader.error("decision", "expected one of \(verdictNames), found \"\(decisionName)\"")
        }
        guard let reason = try reader.string("reason") else {
            throw reader.error("reason", "missing; expected the reason shown to the agent and to operators")
        }
        var match = RuleMatch()
        if var conditions = try reader.table("match") {
            match = try parseMatch(&conditions)
        }
        var examplesMatch: [String] = []
        var examplesNotMatch: [String] = []
        if var examples = try reader.table("examples") {
            examplesMatch = try examples.stringArray("match") ?? []
            examplesNotMatch = try examples.stringArray("not_match") ?? []
            try examples.rejectUnknownKeys()
        }
        try reader.rejectUnknownKeys()
        let rule = Rule(
            id: id, tier: tier, decision: decision, reason: reason, match: match, examplesMatch: examplesMatch,
            examplesNotMatch: examplesNotMatch, source: source)
        if checkExamples { try Self.checkExamples(rule, reader) }
        return rule
    }

    static func parseMatch(_ reader: inout TableReader) throws(ConfigError) -> RuleMatch {
        let tools = try reader.stringArray("tool", allowSingle: true) ?? []
        let argv = try reader.stringArray("argv", allowSingle: true) ?? []
        for (position, pattern) in argv.enumerated() {
            if let problem = RuleMatch.argvPatternProblem(pattern) { throw reader.error("argv[\(position)]", problem) }
        }
        let paths = try globs("paths", &reader)
        let writes = try globs("writes", &reader)
        let labels = try reader.stringTable("labels") ?? [:]
        let single = { if case .string? = reader.table["agent"] { true } else { false } }()
        var agents: [AgentKind] = []
        for (position, name) in (try reader.stringArray("agent", allowSingle: true) ?? []).enumerated() {
            guard let agent = AgentKind(rawValue: name) else {
                throw reader.error(
                    single ? "agent" : "agent[\(position)]", "expected one of \(agentNames), found \"\(name)\"")
            }
            agents.append(agent)
        }
        try reader.rejectUnknownKeys()
        return RuleMatch(tools: tools, argv: argv, paths: paths, writes: writes, labels: labels, agents: agents)
    }

    private static func globs(_ key: String, _ reader: inout TableReader) throws(ConfigError) -> [String] {
        let globs = try reader.stringArray(key, allowSingle: true) ?? []
        for (position, glob) in globs.enumerated() {
            if let problem = RuleMatch.pathGlobProblem(glob) { throw reader.error("\(key)[\(position)]", problem) }
        }
        if !globs.isEmpty && globs.allSatisfy({ $0.hasPrefix("!") }) {
            throw reader.error(key, "expected at least one glob without '!' (negated globs only exclude)")
        }
        return globs
    }

    /// Each `examples.match` must match this rule alone and each `examples.not_match` must not.
    static func checkExamples(_ rule: Rule, _ reader: TableReader) throws(ConfigError) {
        // One compiled rule for all its examples (compiling it per example was most of the check).
        let checks = rule.check(examples: rule.examplesMatch + rule.examplesNotMatch)
        for (position, example) in rule.examplesMatch.enumerated() {
            let check = checks[position]
            guard !check.matched else { continue }
            let parts = check.parts.map { "`\($0.joined(separator: " "))`" }.joined(separator: ", ")
            throw reader.error(
                "examples.match[\(position)]",
                "expected rule \(rule.id) to match \"\(example)\", but it does not "
                    + "(the example's parts: \(parts.isEmpty ? "none" : parts))")
        }
        for (position, example) in rule.examplesNotMatch.enumerated() {
            let check = checks[rule.examplesMatch.count + position]
            guard check.matched, let part = check.matchedPart else { continue }
            throw reader.error(
                "examples.not_match[\(position)]",
                "expected rule \(rule.id) not to match \"\(example)\", but it matches `\(part.joined(separator: " "))` "
                    + "and would decide \(rule.tier.rawValue)/\(rule.decision.rawValue)")
        }
    }

    static func parseTier(_ reader: inout TableReader) throws(ConfigError) -> TierOverride {
        var override = TierOverride()
        if let channels = try reader.stringArray("approve_from") {
            guard !channels.isEmpty else {
                throw reader.error("approve_from", "expected at least one channel, e.g. [\"desk\"]")
            }
            for (position, channel) in channels.enumerated() where !isValidChannel(channel) {
                throw reader.error(
                    "approve_from[\(position)]",
                    "expected a channel name (lowercase letters, digits, '_' or '-'), found \"\(channel)\"")
            }
            override.approveFrom = channels
        }
        if let require = try reader.stringArray("require") {
            for (position, field) in require.enumerated() where !Evidence.requirableFields.contains(field) {
                throw reader.error(
                    "require[\(position)]",
                    "expected one of \(Evidence.requirableFields.joined(separator: ", ")), found \"\(field)\"")
            }
            override.require = require
        }
        override.approvers = try reader.integer("approvers", in: 1...100)
        override.ttl = try reader.duration("ttl", in: 1...2_592_000)
        override.noteRequired = try reader.bool("note_required")
        try reader.rejectUnknownKeys()
        return override
    }
}
