public import BosunCore

/// What evaluation looks at: the action (tool, command, paths), which agent asks, and where.
public struct PolicyInput: Sendable, Equatable {
    /// The agent's tool: `Bash`, `exec_command`, `Edit`, `mcp__github__merge`, …
    public var tool: String
    /// The shell command line, for command tools.
    public var command: String?
    /// Files the action reads or writes (Edit/Write targets, patch files).
    public var paths: [String]
    public var agent: AgentKind
    /// The host's labels (`env = "prod"`, …).
    public var labels: [String: String]
    /// The agent's working directory: paths under it are workspace paths and match relative globs;
    /// paths outside it stay absolute. Empty means relative paths are workspace paths.
    public var cwd: String

    public init(
        tool: String, command: String? = nil, paths: [String] = [], agent: AgentKind = .generic,
        labels: [String: String] = [:], cwd: String = ""
    ) {
        self.tool = tool
        self.command = command
        self.paths = paths
        self.agent = agent
        self.labels = labels
        self.cwd = cwd
    }

    public init(evidence: Evidence, labels: [String: String]) {
        self.init(
            tool: evidence.tool, command: evidence.command, paths: evidence.paths, agent: evidence.agent,
            labels: labels, cwd: evidence.cwd)
    }

    /// An example line as policy files and the corpus write them: `Tool: path …` for a file tool
    /// (`Edit: src/main.swift`), `Bash: command` or just `command` for a shell command.
    public init(example: String, agent: AgentKind = .generic, labels: [String: String] = [:], cwd: String = "") {
        let trimmed = example.drop { $0 == " " }
        if let space = trimmed.firstIndex(of: " "), trimmed[..<space].hasSuffix(":") {
            let tool = trimmed[..<trimmed.index(before: space)]
            if !tool.isEmpty, tool.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
                let rest = trimmed[space...].drop { $0 == " " }
                if Policy.isCommandTool(String(tool)) {
                    self.init(tool: String(tool), command: String(rest), agent: agent, labels: labels, cwd: cwd)
                } else {
                    let paths = rest.split(separator: " ").map(String.init)
                    self.init(tool: String(tool), paths: paths, agent: agent, labels: labels, cwd: cwd)
                }
                return
            }
        }
        self.init(tool: "Bash", command: example, agent: agent, labels: labels, cwd: cwd)
    }
}

/// The policy's answer for one action: the strictest of its parts.
public struct Evaluation: Codable, Sendable, Equatable {
    public var tier: Tier
    public var verdict: Verdict
    /// The deciding rule, or nil when no rule matched or an incomplete parse raised the result.
    public var ruleID: String?
    /// `file:line` of the deciding rule.
    public var source: String?
    public var reason: String
    /// One entry per simple command (command tools) or one for the whole action (other tools).
    public var parts: [PartEvaluation]
    /// False when the command could not be fully parsed; the result is then at least `expand`/`ask`.
    public var complete: Bool
    /// Why the parse is incomplete.
    public var problems: [String]

    public init(
        tier: Tier, verdict: Verdict, ruleID: String?, source: String?, reason: String, parts: [PartEvaluation],
        complete: Bool, problems: [String] = []
    ) {
        self.tier = tier
        self.verdict = verdict
        self.ruleID = ruleID
        self.source = source
        self.reason = reason
        self.parts = parts
        self.complete = complete
        self.problems = problems
    }

    enum CodingKeys: String, CodingKey {
        case tier, verdict, source, reason, parts, complete, problems
        case ruleID = "rule_id"
    }
}

/// How one simple command (or a whole non-command action) was decided.
public struct PartEvaluation: Codable, Sendable, Equatable {
    /// The simple command's argv; empty for a non-command tool or a redirection alone.
    public var argv: [String]
    /// Files this part writes through redirections.
    public var writes: [String]
    public var tier: Tier
    public var verdict: Verdict
    public var ruleID: String?
    public var source: String?
    public var reason: String

    public init(
        argv: [String], writes: [String] = [], tier: Tier, verdict: Verdict, ruleID: String?, source: String?,
        reason: String
    ) {
        self.argv = argv
        self.writes = writes
        self.tier = tier
        self.verdict = verdict
        self.ruleID = ruleID
        self.source = source
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case argv, writes, tier, verdict, source, reason
        case ruleID = "rule_id"
    }
}

/// The outcome of checking one example against one rule alone.
public struct ExampleCheck: Sendable, Equatable {
    public var matched: Bool
    /// The part the rule matched.
    public var matchedPart: [String]?
    /// Every part the example was split into (argv; `[Tool]` for a file tool).
    public var parts: [[String]]
    /// Why the example could not be fully parsed.
    public var problems: [String]
}
