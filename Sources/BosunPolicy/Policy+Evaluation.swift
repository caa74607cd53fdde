import BosunCore

/// What rules match against: one simple command, or a whole non-command action.
struct PolicyPart {
    var argv: [String]
    /// Every path of the part, normalised: tool paths, path-like words, redirect sources and targets,
    /// assignment values and loop words. (Constant: `pathSummary` is made from it.)
    let paths: [PathSegments]
    /// The paths the part writes, normalised. (Constant: `writeSummary` is made from it.)
    let writes: [PathSegments]
    /// The redirect targets as written, for display.
    var writeTargets: [String]
    /// The bytes of the argv's words.
    var argvBytes: ByteSet
    /// The bytes of all `paths` and of all `writes`, and whether some path of each has glob characters:
    /// a glob list none of whose alternatives' required bytes are all there matches none of them.
    var pathSummary: PathSummary
    var writeSummary: PathSummary

    init(argv: [String], paths: [PathSegments], writes: [PathSegments], writeTargets: [String]) {
        self.argv = argv
        self.paths = paths
        self.writes = writes
        self.writeTargets = writeTargets
        argvBytes = ByteSet()
        for word in argv { argvBytes.insert(contentsOf: word.utf8) }
        pathSummary = PathSummary(paths)
        writeSummary = PathSummary(writes)
    }
}

/// The union of some paths' bytes, and whether one of them has glob characters.
struct PathSummary: Sendable {
    var bytes = ByteSet()
    var hasPattern = false

    init(_ paths: [PathSegments]) {
        for position in paths.indices {
            bytes.formUnion(paths[position].bytes)
            if paths[position].hasPattern { hasPattern = true }
        }
    }
}

/// The parts of the input that do not change from part to part.
struct MatchContext {
    var tool: String
    var agent: AgentKind
    var labels: [String: String]
    var root: String?
    var inputPaths: [PathSegments]
    var writesInputPaths: Bool

    init(_ input: PolicyInput) {
        tool = Policy.lowercased(input.tool)
        agent = input.agent
        labels = input.labels
        root = PathForm.root(input.cwd)
        let root = root
        inputPaths =
            input.paths.isEmpty
            ? []
            : input.paths.flatMap { path in
                PathForm.forms(PathForm.resolve(path, root: root, directory: .workspace)).map(PathSegments.init)
            }
        writesInputPaths = Policy.isLowercasedFileWriteTool(tool)
    }
}

extension Policy {
    /// Tools whose `command` is a shell command line (compared case-insensitively).
    public static let commandTools: Set<String> = ["bash", "exec_command", "shell", "local_shell"]
    /// Tools whose paths are written (compared case-insensitively).
    public static let fileWriteTools: Set<String> = ["edit", "multiedit", "write", "notebookedit", "apply_patch"]

    public static func isCommandTool(_ tool: String) -> Bool { isLowercasedCommandTool(lowercased(tool)) }

    /// `commandTools.contains(tool)` for an already lowercased name, without hashing it (this runs for
    /// every evaluation; `FastPathTests` keeps the two lists in step).
    static func isLowercasedCommandTool(_ tool: String) -> Bool {
        switch tool {
        case "bash", "exec_command", "shell", "local_shell": true
        default: false
        }
    }

    /// `fileWriteTools.contains(tool)` for an already lowercased name, without hashing it.
    static func isLowercasedFileWriteTool(_ tool: String) -> Bool {
        // By first byte first (ASCII names no other character is canonically equivalent to).
        switch tool.utf8.first {
        case UInt8(ascii: "e"): tool == "edit"
        case UInt8(ascii: "m"): tool == "multiedit"
        case UInt8(ascii: "w"): tool == "write"
        case UInt8(ascii: "n"): tool == "notebookedit"
        case UInt8(ascii: "a"): tool == "apply_patch"
        default: false
        }
    }

    /// `text.lowercased()`; an ASCII name without capitals (most tool names the hooks send after the
    /// first) is returned as it is, and other ASCII is lowered by bytes, without Unicode's tables.
    static func lowercased(_ text: String) -> String {
        let ascii: String?? = text.utf8.withContiguousStorageIfAvailable { bytes -> String? in
            var capitals = false
            for byte in bytes {
                if byte >= 0x80 { return nil }
                if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { capitals = true }
            }
            guard capitals else { return text }
            return String(unsafeUninitializedCapacity: bytes.count) { target in
                for (position, byte) in zip(target.indices, bytes) {
                    target[position] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
                }
                return min(target.count, bytes.count)
            }
        }
        if let ascii, let ascii { return ascii }
        return text.lowercased()
    }

    /// Decides `input`: every part is decided by the first rule that matches it (no rule: `expand`/`ask`);
    /// the strictest part decides the whole (verdict first, then tier); an incomplete parse never allows.
    public func evaluate(_ input: PolicyInput) -> Evaluation {
        let context = MatchContext(input)
        let applicable = index.applicable(to: context)
        let (parts, problems) = Self.parts(of: input, context)
        let evaluations = parts.map { part in evaluate(part, applicable, tool: input.tool) }
        guard !evaluations.isEmpty else {
            return Evaluation(
                tier: .expand, verdict: .ask, ruleID: nil, source: nil, reason: "the command is empty", parts: [],
                complete: problems.isEmpty, problems: problems)
        }
        var strictest = 0
        for position in evaluations.indices.dropFirst()
        where (evaluations[position].verdict, evaluations[position].tier)
            > (evaluations[strictest].verdict, evaluations[strictest].tier)
        {
            strictest = position
        }
        // The deciding part's fields read in place, and the result built once (copying the part and
        // then the whole evaluation was 3 % of an evaluation).
        var tier = evaluations[strictest].tier
        var verdict = evaluations[strictest].verdict
        var ruleID = evaluations[strictest].ruleID
        var source = evaluations[strictest].source
        var reason = evaluations[strictest].reason
        if !problems.isEmpty {
            let why = "the command could not be fully parsed (\(problems.joined(separator: "; ")))"
            if verdict < .ask || tier < .expand {
                verdict = max(verdict, .ask)
                tier = max(tier, .expand)
                ruleID = nil
                source = nil
                reason = why
            } else {
                reason += "; also, \(why)"
            }
        }
        return Evaluation(
            tier: tier, verdict: verdict, ruleID: ruleID, source: source, reason: reason, parts: evaluations,
            complete: problems.isEmpty, problems: problems)
    }

    func evaluate(_ part: PolicyPart, _ applicable: [Bool], tool: String) -> PartEvaluation {
        let candidates = index.candidates(for: part.argv)
        // By position, the rule read in place rather than copied out for each candidate.
        for position in candidates.indices
        where applicable[candidates[position].rule]
            && index.mayMatch(candidates[position], argvBytes: part.argvBytes)
        {
            let number = candidates[position].rule
            guard index.rules[number].matches(part, patterns: candidates[position].patterns) else { continue }
            let rule = index.rules[number]
            return PartEvaluation(
                argv: part.argv, writes: part.writeTargets, tier: rule.tier, verdict: rule.decision, ruleID: rule.id,
                source: rule.source, reason: rule.reason)
        }
        let reason: String
        if let name = part.argv.first {
            reason = "no rule matches \(name)"
        } else if let target = part.writeTargets.first {
            reason = "no rule matches the redirection to \(target)"
        } else {
            reason = "no rule matches tool \(tool)"
        }
        return PartEvaluation(
            argv: part.argv, writes: part.writeTargets, tier: .expand, verdict: .ask, ruleID: nil, source: nil,
            reason: reason)
    }

    /// The parts of an action and, for a command, why its parse is incomplete.
    static func parts(of input: PolicyInput, _ context: MatchContext) -> ([PolicyPart], [String]) {
        guard let command = input.command, isLowercasedCommandTool(context.tool) else {
            let part = PolicyPart(
                argv: [], paths: context.inputPaths, writes: context.writesInputPaths ? context.inputPaths : [],
                writeTargets: [])
            return ([part], [])
        }
        let script = ShellParser.script(command)
        var directory = DirectoryTracker(root: context.root)
        var parts: [PolicyPart] = []
        parts.reserveCapacity(script.commands.count)
        for command in script.commands {
            if ProgramParts.isPlain(command) {
                parts.append(part(command, context, directory))
            } else {
                for piece in ProgramParts.expand(command) {
                    parts.append(part(piece, context, directory))
                }
            }
            if command.argv.first == "git", let elsewhere = directory.elsewhere {
                // git after a cd reads the repository (config, attributes, hooks) of that directory.
                parts.append(part(ShellCommand(argv: ["git", "-C", elsewhere]), context, directory))
            }
            directory.observe(command.argv)
        }
        return (parts, script.problems)
    }

    /// One part: its argv and every path it names, resolved in the directory it runs in.
    private static func part(_ command: ShellCommand, _ context: MatchContext, _ directory: DirectoryTracker)
        -> PolicyPart
    {
        var paths = context.inputPaths
        // Room for one form of every word (a second, `~` form is rare): grown once, not word by word.
        paths.reserveCapacity(
            paths.count + command.argv.count + command.reads.count + command.mentions.count + command.writes.count)
        // echo/printf operands are text, unless their output becomes another command's words.
        let text = !command.substituted && command.argv.first.map(isTextCommand) == true
        if !text {
            for word in command.argv.dropFirst() {
                forEachPathWord(word) { directory.appendForms($0, to: &paths) }
            }
        }
        for path in command.reads { directory.appendForms(path, to: &paths) }
        for mention in command.mentions {
            forEachPathWord(mention) { directory.appendForms($0, to: &paths) }
        }
        var writes: [PathSegments] = []
        for target in command.writes { directory.appendForms(target, to: &writes) }
        paths += writes
        return PolicyPart(argv: command.argv, paths: paths, writes: writes, writeTargets: command.writes)
    }

    /// Commands whose operands are text, never files: their words are not matched as paths.
    static let textCommands: Set<String> = ["echo", "printf"]

    /// `textCommands.contains(name)`, without hashing the name (this runs for every part).
    static func isTextCommand(_ name: String) -> Bool { name == "echo" || name == "printf" }

    /// The path a word may name: any operand except URLs; for `--opt=value`, the value.
    static func pathWord(_ word: String) -> String? {
        // Most words start with neither `-` nor `f`: no prefix below can hold (no character other than
        // `-` and `f` themselves is canonically equivalent to them), only the URL check is left.
        switch word.utf8.first {
        case nil: return nil
        case UInt8(ascii: "-"), UInt8(ascii: "f"): break
        default: return isURL(word) ? nil : word
        }
        if let reading = word.utf8.withContiguousStorageIfAvailable({ optionValue(word, $0) }),
            case .some(let value) = reading
        {
            return value
        }
        if word.hasPrefix("file://") { return String(word.dropFirst("file://".count)) }
        if word.hasPrefix("-") {
            guard let equals = word.firstIndex(of: "=") else {
                // A short option with its value attached: `-o/etc/x`, `-C../other`, `-f~/x`.
                let value = word.dropFirst(2)
                guard !word.hasPrefix("--"), ["/", "~", "../", "$HOME", "${HOME}"].contains(where: value.hasPrefix)
                else { return nil }
                return String(value)
            }
            let value = word[word.index(after: equals)...]
            return value.isEmpty || isURL(value) ? nil : String(value)
        }
        return isURL(word) ? nil : word
    }

    /// Where `forEachPathWord`'s second value starts in `path`'s bytes (after the first `:`, then the
    /// last `=`, then a leading `@`), for ASCII without a carriage return (every byte a character):
    /// `.some(nil)` when there is none, `.none` for any other path, which takes the general way.
    private static func extraValueStart(_ bytes: UnsafeBufferPointer<UInt8>) -> Int?? {
        var colon: Int?
        var special = false
        for position in bytes.indices {
            let byte = bytes[position]
            if byte >= 0x80 || byte == .carriageReturn { return nil }
            if byte == .equals || byte == .colon || byte == .at { special = true }
            if byte == .colon && colon == nil { colon = position }
        }
        guard special else { return .some(nil) }
        var start = colon.map { $0 + 1 } ?? 0
        if let equals = bytes[start...].lastIndex(of: .equals) { start = equals + 1 }
        if start < bytes.count && bytes[start] == .at { start += 1 }
        // The value is a proper suffix (so not the path itself) unless it starts at 0; empty: none.
        return start > 0 && start < bytes.count ? .some(start) : .some(nil)
    }

    /// `pathWord(word)` by bytes for an option (`-…`) in ASCII without a carriage return (every byte
    /// then a character of its own, so `firstIndex(of: "=")`, `dropFirst(2)` and `hasPrefix` are the
    /// bytes'): `.some(pathWord(word))`; `.none` for any other word, which takes the general way
    /// (compared in `FastPathTests`).
    private static func optionValue(_ word: String, _ bytes: UnsafeBufferPointer<UInt8>) -> String?? {
        guard bytes.first == .dash else { return nil }
        var equals: Int?
        for position in bytes.indices {
            let byte = bytes[position]
            if byte >= 0x80 || byte == .carriageReturn { return nil }
            if byte == .equals && equals == nil { equals = position }
        }
        let utf8 = word.utf8
        guard let equals else {
            // A short option with its value attached: `-o/etc/x`, `-C../other`, `-f~/x`.
            guard bytes.count > 2, bytes[1] != .dash else { return .some(nil) }
            let value = UnsafeBufferPointer(rebasing: bytes[2...])
            for prefix in Self.attachedValuePrefixes where value.starts(with: prefix) {
                return .some(String(word[utf8.index(utf8.startIndex, offsetBy: 2)...]))
            }
            return .some(nil)
        }
        let value = UnsafeBufferPointer(rebasing: bytes[(equals + 1)...])
        if value.isEmpty || isURL(bytes: value) { return .some(nil) }
        return .some(String(word[utf8.index(utf8.startIndex, offsetBy: equals + 1)...]))
    }

    /// What a short option's attached value starts with when it is taken for a path.
    private static let attachedValuePrefixes: [[UInt8]] = ["/", "~", "../", "$HOME", "${HOME}"].map { Array($0.utf8) }

    /// Whether the text contains `://` (a URL, not a path).
    static func isURL(_ text: some StringProtocol) -> Bool {
        // From contiguous storage when there is one (iterating `UTF8View` costs several times more).
        if let found = text.utf8.withContiguousStorageIfAvailable({ isURL(bytes: $0) }) { return found }
        return isURL(bytes: text.utf8)
    }

    private static func isURL(bytes: some Sequence<UInt8>) -> Bool {
        var colon = 0
        for byte in bytes {
            if byte == UInt8(ascii: ":") {
                colon = 1
            } else if byte == .slash && colon > 0 {
                if colon == 2 { return true }
                colon = 2
            } else {
                colon = 0
            }
        }
        return false
    }

    /// The paths a word may name: `pathWord`, plus the value of `name=value`, a path behind curl's `@`
    /// (`-d @.env`, `file=@.env`) and the path of `rev:path` or `host:path` (`git show HEAD:.env`).
    static func pathWords(_ word: String) -> [String] {
        var paths: [String] = []
        forEachPathWord(word) { paths.append($0) }
        return paths
    }

    /// Calls `body` with each of `pathWords(word)`, in order, without collecting them.
    static func forEachPathWord(_ word: String, _ body: (String) -> Void) {
        guard let path = pathWord(word) else { return }
        body(path)
        if let reading = path.utf8.withContiguousStorageIfAvailable({ extraValueStart($0) }),
            case .some(let start) = reading
        {
            let utf8 = path.utf8
            if let start { body(String(path[utf8.index(utf8.startIndex, offsetBy: start)...])) }
            return
        }
        let special: (UInt8) -> Bool = { $0 == .equals || $0 == .colon || $0 == .at }
        guard
            path.utf8.withContiguousStorageIfAvailable({ $0.contains(where: special) })
                ?? path.utf8.contains(where: special)
        else { return }
        var value = Substring(path)
        if let colon = value.firstIndex(of: ":") { value = value[value.index(after: colon)...] }
        if let equals = value.lastIndex(of: "=") { value = value[value.index(after: equals)...] }
        if value.hasPrefix("@") { value = value.dropFirst() }
        if !value.isEmpty && value != Substring(path) { body(String(value)) }
    }
}

extension Rule {
    /// Checks one example against this rule alone, assuming its labels and agent hold: the rule matches
    /// the example when it matches any of its parts.
    public func check(example: String) -> ExampleCheck { check(example: example, CompiledRule(self)) }

    /// `check(example:)` for each of `examples`, compiling the rule once.
    public func check(examples: [String]) -> [ExampleCheck] {
        let compiled = CompiledRule(self)
        return examples.map { check(example: $0, compiled) }
    }

    private func check(example: String, _ compiled: CompiledRule) -> ExampleCheck {
        var input = PolicyInput(example: example, agent: match.agents.first ?? .generic, labels: match.labels)
        if input.command != nil, let tool = match.tools.first(where: Policy.isCommandTool) { input.tool = tool }
        let context = MatchContext(input)
        let (parts, problems) = Policy.parts(of: input, context)
        let rendered = parts.map { $0.argv.isEmpty ? [input.tool] + $0.writeTargets.map { "> \($0)" } : $0.argv }
        guard compiled.applies(to: context) else {
            return ExampleCheck(matched: false, matchedPart: nil, parts: rendered, problems: problems)
        }
        for (part, shown) in zip(parts, rendered) where compiled.matches(part) {
            return ExampleCheck(matched: true, matchedPart: shown, parts: rendered, problems: problems)
        }
        return ExampleCheck(matched: false, matchedPart: nil, parts: rendered, problems: problems)
    }
}

/// A rule that never decides: an earlier rule decides every one of its `examples.match`.
public struct ShadowedRule: Sendable, Equatable {
    public var rule: String
    public var source: String
    /// The earlier rules that decide its examples, in order of first appearance.
    public var by: [String]
}

extension Policy {
    /// Rules whose every `examples.match` is decided by an earlier rule (the first matching rule
    /// decides a part): they can be deleted, or moved before the rule that hides them. Each example is
    /// judged on the part this rule matches, as `check(example:)` reads it.
    public func shadowedRules() -> [ShadowedRule] {
        var shadowed: [ShadowedRule] = []
        for rule in rules where !rule.examplesMatch.isEmpty {
            let compiled = CompiledRule(rule)
            var by: [String] = []
            var hidden = true
            for example in rule.examplesMatch {
                var input = PolicyInput(
                    example: example, agent: rule.match.agents.first ?? .generic, labels: rule.match.labels)
                if input.command != nil, let tool = rule.match.tools.first(where: Policy.isCommandTool) {
                    input.tool = tool
                }
                let context = MatchContext(input)
                let applicable = index.applicable(to: context)
                let (parts, _) = Policy.parts(of: input, context)
                guard let part = parts.first(where: { compiled.matches($0) }),
                    let decider = evaluate(part, applicable, tool: input.tool).ruleID, decider != rule.id
                else {
                    hidden = false
                    break
                }
                if !by.contains(decider) { by.append(decider) }
            }
            if hidden, !by.isEmpty { shadowed.append(ShadowedRule(rule: rule.id, source: rule.source, by: by)) }
        }
        return shadowed
    }
}
