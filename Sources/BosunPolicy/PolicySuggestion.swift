public import BosunCore

/// One request a person was asked about, as `policy suggest` sees it.
public struct AskedRequest: Sendable, Equatable {
    public var number: Int64
    public var tool: String
    public var command: String?
    public var agent: AgentKind
    /// The labels of the host it came from.
    public var labels: [String: String]
    public var repo: String?
    public var cwd: String
    public var tier: Tier
    /// How it ended: a person allowed it, or it was denied or expired (anything else: still pending).
    public var outcome: Outcome

    public enum Outcome: String, Sendable, Equatable {
        case approved, refused, pending
    }

    public init(
        number: Int64, tool: String, command: String?, agent: AgentKind, labels: [String: String], repo: String?,
        cwd: String, tier: Tier, outcome: Outcome
    ) {
        self.number = number
        self.tool = tool
        self.command = command
        self.agent = agent
        self.labels = labels
        self.repo = repo
        self.cwd = cwd
        self.tier = tier
        self.outcome = outcome
    }
}

/// A proposed allow rule, with the asks it covers and its policy-file text.
public struct PolicySuggestion: Sendable, Equatable, Encodable {
    public var rule: Rule
    /// The requests it would have allowed.
    public var requests: [Int64]
    /// Repositories the asks came from (a rule cannot match a repository; shown for review).
    public var repos: [String]
    /// The `[[rule]]` table, ready for a policy file.
    public var toml: String

    enum CodingKeys: String, CodingKey {
        case id, argv, tool, labels, agent, requests, repos, toml
        case examplesMatch = "examples_match"
        case examplesNotMatch = "examples_not_match"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rule.id, forKey: .id)
        try c.encode(rule.match.argv, forKey: .argv)
        try c.encode(rule.match.tools, forKey: .tool)
        try c.encode(rule.match.labels, forKey: .labels)
        try c.encode(rule.match.agents.map(\.rawValue), forKey: .agent)
        try c.encode(rule.examplesMatch, forKey: .examplesMatch)
        try c.encode(rule.examplesNotMatch, forKey: .examplesNotMatch)
        try c.encode(requests, forKey: .requests)
        try c.encode(repos, forKey: .repos)
        try c.encode(toml, forKey: .toml)
    }
}

/// A group of asks that got no suggestion, and why.
public struct SkippedSuggestion: Sendable, Equatable, Encodable {
    public var action: String
    public var count: Int
    public var reason: String
}

/// `policy suggest`: for asks asked at least N times and always approved, the narrowest allow
/// rule that covers them (README "Review analytics"). Never for the commit tier, a command any
/// commit- or expand-tier rule matches (or any rule at all: the suggestion would not take
/// effect after it), a destructive command, or one that touches the network or credentials.
public enum PolicySuggester {
    /// Words that make a command destructive wherever they appear in its argv.
    static let destructiveWords: Set<String> = [
        "rm", "rmdir", "unlink", "shred", "dd", "mkfs", "truncate", "kill", "pkill", "killall", "reboot", "shutdown",
        "halt", "poweroff", "wipefs", "fdisk", "parted", "delete", "destroy", "drop", "purge", "uninstall", "remove",
        "wipe", "erase", "reset", "clean", "prune", "format", "--force", "-f", "--hard", "--delete", "-delete",
        "--prune", "--no-preserve-root", "--force-with-lease", "-rf", "-fr", "-r", "-R", "--recursive", "rebase",
        "push", "--mirror", "overwrite", "--overwrite", "terminate", "stop", "down", "revoke", "exec", "eval",
    ]

    /// Programs that run code, edit files or reach other systems by design, whatever their
    /// arguments: interpreters, shells, compilers, build tools, package managers, editors,
    /// archivers, databases, remote and container tools, wrappers.
    static let codeRunners: Set<String> = [
        "sh", "bash", "zsh", "dash", "fish", "ksh", "csh", "tcsh", "python", "python2", "python3", "node", "deno",
        "bun",
        "ruby", "perl", "php", "lua", "swift", "swiftc", "java", "javac", "kotlin", "scala", "go", "gcc", "g++", "cc",
        "c++", "clang", "clang++", "ld", "rustc", "cargo", "make", "cmake", "ninja", "bazel", "gradle", "mvn", "ant",
        "npm", "npx", "yarn", "pnpm", "pip", "pip3", "pipx", "uv", "poetry", "gem", "bundle", "composer", "apt",
        "apt-get", "dpkg", "yum", "dnf", "brew", "tar", "zip", "unzip", "gzip", "gunzip", "7z", "vim", "vi", "nvim",
        "emacs", "nano", "ed", "ex", "sed", "awk", "gawk", "find", "xargs", "env", "sudo", "doas", "su", "nohup",
        "timeout", "watch", "sqlite3", "psql", "mysql", "mongo", "redis-cli", "docker", "podman", "kubectl", "helm",
        "terraform", "ansible", "ssh", "scp", "sftp", "rsync", "curl", "wget", "nc", "git", "gh", "eval", "exec",
        "source", ".", "osascript", "open", "xdg-open", "crontab", "at", "systemctl", "service", "launchctl",
        // Read a project file that can name a program to run (.ackrc --pager, LESSOPEN, MANPAGER).
        "ack", "less", "more", "man",
    ]

    /// Why `command` may never be suggested, or nil. `parts`: its simple commands' argv.
    public static func unsafeReason(_ command: String, parts: [[String]]) -> String? {
        for argv in parts {
            if let program = argv.first.map(base), codeRunners.contains(program) {
                return "\(program) runs code or changes files by design"
            }
            for word in argv.dropFirst() {
                let value = word.firstIndex(of: "=").map { String(word[word.index(after: $0)...]) } ?? word
                if value.hasPrefix("/") || value.hasPrefix("~") || value.hasPrefix("..") || value.contains("/../")
                    || value.hasPrefix("$")
                {
                    return "names a path outside the workspace (\(word))"
                }
            }
        }
        let facts = CommandAnalysis.analyze(command)
        if let effect = facts.sideEffects.first { return "destructive or writing (\(effect))" }
        if let net = facts.network.first { return "touches the network (\(net))" }
        if let secret = facts.credentials.first { return "touches credentials (\(secret))" }
        for argv in parts {
            if let word = argv.first(where: { destructiveWords.contains(Self.base($0)) }) {
                return "destructive word '\(word)'"
            }
            if argv.contains(where: { $0.hasPrefix("-") && $0.contains("force") }) { return "forces" }
        }
        return nil
    }

    static func base(_ word: String) -> String {
        word.split(separator: "/").last.map(String.init) ?? word
    }

    /// The simple commands of a shell command as policy sees them, and whether the parse is complete.
    public static func parts(_ command: String, tool: String = "Bash") -> (parts: [[String]], complete: Bool) {
        let input = PolicyInput(tool: tool, command: command, paths: [], agent: .generic, labels: [:])
        let (parts, problems) = Policy.parts(of: input, MatchContext(input))
        return (parts.map(\.argv), problems.isEmpty)
    }

    /// Suggestions for `history` under `policy`, for groups of at least `minCount` asks.
    public static func suggest(_ history: [AskedRequest], policy: Policy, minCount: Int) -> (
        suggestions: [PolicySuggestion], skipped: [SkippedSuggestion]
    ) {
        struct Candidate {
            var request: AskedRequest
            var argv: [String]
        }
        var groups: [String: [Candidate]] = [:]
        var skipped: [SkippedSuggestion] = []
        var unusable: [String: (count: Int, reason: String)] = [:]
        // Commands repeat (35,000 asks hold a few hundred distinct ones): each is parsed once, and
        // of refused asks with the same command and labels only the first is checked.
        struct Said: Hashable {
            var tool: String
            var command: String
        }
        var parsed: [Said: (parts: [[String]], complete: Bool)] = [:]
        func parts(_ command: String, tool: String) -> (parts: [[String]], complete: Bool) {
            let said = Said(tool: tool, command: command)
            if let known = parsed[said] { return known }
            let result = Self.parts(command, tool: tool)
            parsed[said] = result
            return result
        }
        struct Refusal: Hashable {
            var tool: String
            var command: String?
            var labels: [String: String]
        }
        var seenRefusals = Set<Refusal>()
        let refused = history.filter {
            $0.outcome == .refused
                && seenRefusals.insert(Refusal(tool: $0.tool, command: $0.command, labels: $0.labels)).inserted
        }
        // Groups of the approved asks; a refused ask of the same program only keeps the rule from covering it.
        for request in history where request.outcome == .approved {
            guard let command = request.command, Policy.isCommandTool(request.tool) else { continue }
            let (parts, complete) = parts(command, tool: request.tool)
            guard let argv = parts.first, !argv.isEmpty else { continue }
            let key = Self.key(argv)
            guard complete, parts.count == 1 else {
                unusable[key, default: (0, "")].count += 1
                unusable[key]?.reason = "a compound or incompletely parsed command"
                continue
            }
            groups[key, default: []].append(Candidate(request: request, argv: argv))
        }
        var suggestions: [PolicySuggestion] = []
        var usedIDs = Set(policy.rules.map(\.id))
        for key in groups.keys.sorted() {
            guard let group = groups[key] else { continue }
            guard group.count >= minCount else { continue }
            func skip(_ reason: String) {
                skipped.append(SkippedSuggestion(action: key, count: group.count, reason: reason))
            }
            if let commit = group.first(where: { $0.request.tier == .commit }) {
                skip("commit tier (#\(commit.request.number))")
                continue
            }
            var reason: String?
            var checked = Set<Said>()
            for candidate in group {
                // A repeated command (its argv follows from it and the tool) was found safe already.
                guard let command = candidate.request.command,
                    checked.insert(Said(tool: candidate.request.tool, command: command)).inserted
                else { continue }
                if let unsafe = unsafeReason(command, parts: [candidate.argv]) {
                    reason = "\(unsafe) (#\(candidate.request.number))"
                    break
                }
                if let rule = policy.rules.first(where: { $0.check(example: command).matched }) {
                    reason =
                        rule.tier >= .expand
                        ? "a \(rule.tier.rawValue)-tier rule matches it (\(rule.id), #\(candidate.request.number))"
                        : "rule \(rule.id) already decides it (#\(candidate.request.number))"
                    break
                }
            }
            if let reason {
                skip(reason)
                continue
            }
            guard
                var rule = Self.rule(for: group.map(\.argv), requests: group.map(\.request), usedIDs: usedIDs, key: key)
            else {
                skip("too varied for a narrow pattern (more than four values, or words a pattern cannot hold)")
                continue
            }
            // Nothing a person refused may be covered; nearby refusals become examples it must not match.
            if let covered = refused.first(where: { request in
                request.command.map { rule.check(example: $0).matched && Self.labelsHold(rule, request.labels) }
                    ?? false
            }) {
                skip("the narrowest rule would also allow #\(covered.number), which was denied or expired")
                continue
            }
            let program = group.first?.argv.first ?? ""
            var notMatch: [String] = []
            for request in refused {
                guard let command = request.command, notMatch.count < 3, !notMatch.contains(command),
                    parts(command, tool: request.tool).parts.contains(where: { $0.first == program })
                else { continue }
                notMatch.append(command)
            }
            rule.examplesNotMatch = notMatch
            // The examples must hold as the loader checks them; a rule that fails is not proposed.
            guard rule.examplesMatch.allSatisfy({ rule.check(example: $0).matched }),
                rule.examplesNotMatch.allSatisfy({ !rule.check(example: $0).matched })
            else {
                skip("the examples do not check")
                continue
            }
            usedIDs.insert(rule.id)
            let repos = Array(Set(group.compactMap(\.request.repo))).sorted()
            suggestions.append(
                PolicySuggestion(
                    rule: rule, requests: group.map(\.request.number), repos: repos,
                    toml: Self.toml(rule, requests: group.map(\.request.number), repos: repos)))
        }
        for (key, value) in unusable.sorted(by: { $0.key < $1.key }) where value.count >= minCount {
            skipped.append(SkippedSuggestion(action: key, count: value.count, reason: value.reason))
        }
        return (suggestions, skipped.sorted { ($0.action, $0.reason) < ($1.action, $1.reason) })
    }

    /// The program and, when it is a plain word, its subcommand.
    static func key(_ argv: [String]) -> String {
        guard let first = argv.first else { return "" }
        if argv.count > 1, isPlain(argv[1]) { return "\(base(first)) \(argv[1])" }
        return base(first)
    }

    static func isPlain(_ word: String) -> Bool {
        guard let head = word.unicodeScalars.first, ("a"..."z").contains(head) else { return false }
        return word.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_".unicodeScalars.contains($0)
        }
    }

    /// A word an argv pattern can hold literally (no wildcard, alternative or anchor syntax).
    static func isLiteral(_ word: String) -> Bool {
        !word.isEmpty && word.count <= 128
            && word.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || "._/:=@+-%^".unicodeScalars.contains($0)
            }
    }

    static func labelsHold(_ rule: Rule, _ labels: [String: String]) -> Bool {
        rule.match.labels.allSatisfy { labels[$0.key] == $0.value }
    }

    /// The narrowest rule covering `argvs`: each position every argv has is literal where they
    /// agree, `{a,b}` where at most four plain values differ (more: no rule, never a `*`); `$`
    /// ends the pattern when every argv has the same length. Scoped to the labels every host shares, the tools and
    /// agents seen.
    static func rule(for argvs: [[String]], requests: [AskedRequest], usedIDs: Set<String>, key: String) -> Rule? {
        guard let shortest = argvs.map(\.count).min(), shortest > 0 else { return nil }
        var tokens: [String] = []
        for position in 0..<shortest {
            let values = Array(Set(argvs.map { $0[position] })).sorted()
            if values.count == 1, isLiteral(values[0]) {
                tokens.append(values[0])
            } else if values.count <= 4, values.allSatisfy({ isLiteral($0) && !$0.contains(",") }) {
                tokens.append("{" + values.joined(separator: ",") + "}")
            } else {
                return nil
            }
        }
        if Set(argvs.map(\.count)).count == 1 { tokens.append("$") }
        let pattern = tokens.joined(separator: " ")
        guard RuleMatch.argvPatternProblem(pattern) == nil else { return nil }
        var labels = requests.first?.labels ?? [:]
        for request in requests.dropFirst() {
            labels = labels.filter { request.labels[$0.key] == $0.value }
        }
        labels = labels.filter { !$0.value.contains("*") }
        let tools = Array(Set(requests.map(\.tool))).sorted()
        let agents = Array(Set(requests.map(\.agent))).sorted { $0.rawValue < $1.rawValue }
        var examples: [String] = []
        for request in requests {
            if let command = request.command, !examples.contains(command), examples.count < 5 {
                examples.append(command)
            }
        }
        var id =
            "suggested-"
            + String(
                String.UnicodeScalarView(
                    key.lowercased().unicodeScalars.map {
                        ("a"..."z").contains($0) || ("0"..."9").contains($0) || "._".unicodeScalars.contains($0)
                            ? $0 : "-"
                    }
                ).prefix(48))
        if usedIDs.contains(id) {
            var n = 2
            while usedIDs.contains("\(id)-\(n)") { n += 1 }
            id = "\(id)-\(n)"
        }
        return Rule(
            id: id, tier: .continue, decision: .allow,
            reason: "asked \(requests.count) times and always approved by a person (bosun policy suggest)",
            match: RuleMatch(tools: tools, argv: [pattern], labels: labels, agents: agents), examplesMatch: examples,
            examplesNotMatch: [], source: "suggested")
    }

    /// The rule as a `[[rule]]` table.
    static func toml(_ rule: Rule, requests: [Int64], repos: [String]) -> String {
        func quoted(_ text: String) -> String { TOMLText.quote(text) }
        func array(_ items: [String]) -> String { "[" + items.map(quoted).joined(separator: ", ") + "]" }
        var text = "# asked \(requests.count) times, always approved: "
        text += requests.prefix(20).map { "#\($0)" }.joined(separator: ", ") + (requests.count > 20 ? ", …" : "") + "\n"
        if !repos.isEmpty {
            text += "# repositories: " + repos.map { TOMLText.comment($0) }.joined(separator: ", ") + "\n"
        }
        text += "[[rule]]\n"
        text += "id = \(quoted(rule.id))\n"
        text += "tier = \"\(rule.tier.rawValue)\"\n"
        text += "decision = \"\(rule.decision.rawValue)\"\n"
        text += "reason = \(quoted(rule.reason))\n"
        text += "match.tool = \(array(rule.match.tools))\n"
        text += "match.argv = \(array(rule.match.argv))\n"
        if !rule.match.agents.isEmpty { text += "match.agent = \(array(rule.match.agents.map(\.rawValue)))\n" }
        if !rule.match.labels.isEmpty {
            text +=
                "match.labels = { "
                + rule.match.labels.sorted { $0.key < $1.key }.map { "\(quoted($0.key)) = \(quoted($0.value))" }
                .joined(separator: ", ") + " }\n"
        }
        text += "examples.match = \(array(rule.examplesMatch))\n"
        if !rule.examplesNotMatch.isEmpty { text += "examples.not_match = \(array(rule.examplesNotMatch))\n" }
        return text
    }
}

/// TOML text for generated files.
enum TOMLText {
    /// A basic string: quotes, backslashes and control characters escaped.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Text safe inside a `#` comment: one line, printable.
    static func comment(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map {
                    $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) ? "?" : $0
                }
            ).prefix(200))
    }
}
