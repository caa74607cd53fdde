import BosunCore
import Foundation
import Testing

@testable import BosunPolicy

/// Issue 10 made evaluation faster with an index by first word, byte-set prefilters, glob lists as
/// classes and path normalisation over bytes. These tests decide every part of every action the
/// repository knows (the three corpora, every rule's examples, the fuzz corpus, and variants of them
/// that add secrets, globs, `$VAR`s and unusual spellings) again with the matchers as they were before
/// (`Reference`, below: no index, no prefilter, every rule tried in order) and expect the same
/// deciding rule for every part, and the same normalised paths.
@Suite struct MatcherDifferentialTests {
    static let suffixes = [
        "", " .env", " ~/.ssh/id_rsa", " /etc/shadow", " $GITHUB_TOKEN", " x[$(id)]", " .e*", " id_rs?",
        " ../x/.env", " /tmp/a > /etc/x", " > .git/hooks/pre-commit", " -o/etc/x", " FOO=@.env",
        " HEAD:.env", " ~/.config/gh/hosts.yml", " secrets/a/b", " *.pem", " .git/config", " /dev/tcp/h/1",
        " a/./b/../c//d/", " café/.env", " e\u{301}/x", " /\u{301}etc/passwd", " `id`",
    ]

    static var actions: [String] {
        var actions = CorpusCase.all.map(\.action) + BypassCase.all.map(\.action) + EverydayCase.all.map(\.action)
        if let policy = try? Fixtures.defaultPolicy.get() {
            for rule in policy.rules { actions += rule.examplesMatch + rule.examplesNotMatch }
        }
        let fuzz = Fixtures.repositoryRoot.appendingPathComponent("Fuzz/Corpus/shell-command").path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: fuzz)) ?? [] {
            if let data = FileManager.default.contents(atPath: fuzz + "/" + name) {
                actions.append(String(decoding: data, as: UTF8.self))
            }
        }
        return actions
    }

    @Test func everyPartIsDecidedByTheSameRuleAsBefore() throws {
        let policy = try Fixtures.defaultPolicy.get()
        let reference = policy.rules.map(Reference.Rule.init)
        var compared = 0
        // Every action in three working directories; every fourth also with each suffix (the whole
        // product took minutes on a loaded machine).
        var inputs: [(action: String, cwd: String)] = []
        for (position, action) in Self.actions.enumerated() {
            for cwd in [Fixtures.workspace, "", "/"] { inputs.append((action, cwd)) }
            if position % 4 == 0 {
                for suffix in Self.suffixes.dropFirst() { inputs.append((action + suffix, Fixtures.workspace)) }
            }
        }
        for (action, cwd) in inputs {
            let input = PolicyInput(example: action, cwd: cwd)
            let context = MatchContext(input)
            let (parts, _) = Policy.parts(of: input, context)
            let evaluation = policy.evaluate(input)
            try #require(evaluation.parts.count == parts.count)
            for (part, decided) in zip(parts, evaluation.parts) {
                let expected = reference.first { $0.applies(to: context) && $0.matches(part) }?.id
                #expect(
                    decided.ruleID == expected,
                    "\(action) in \(cwd): part \(part.argv) decided by \(decided.ruleID ?? "none"), before by \(expected ?? "none")"
                )
                compared += 1
            }
        }
        #expect(compared > 10_000)
    }

    @Test func normalisedPathsAreAsBefore() {
        var paths = [
            "", "/", "//", ".", "..", "...", "a", "a/", "/a", "/a/", "a//b", "./a", "a/.", "a/..", "../a", "/../a",
            "a/b/../../..", "~", "~/x", "~/../y", ".env", ".e*", "x/.../y", "é", "café/x", "e\u{301}/x",
            "/\u{301}x", "a/\u{301}/b", "a\r\n/b", "/home/dev/project", "/home/dev/project/", "/root",
        ]
        for action in Self.actions.prefix(300) {
            paths += action.split(separator: " ").map(String.init)
        }
        for path in paths {
            #expect(PathForm.normalize(path) == Reference.normalize(path), "normalize(\(path.debugDescription))")
            #expect(PathForm.segments(path) == path.split(separator: "/"), "segments(\(path.debugDescription))")
            #expect(PathForm.homeForm(path) == Reference.homeForm(path), "homeForm(\(path.debugDescription))")
        }
    }
}

extension MatcherDifferentialTests {
    @Test func argvPatternProblemsAreAsBefore() throws {
        var patterns = [
            "", " ", "$", "git $", "$ git", "git $ x", "{a,b}", "{a,b", "a,b}", "{", "}", "{}", "{{a}}", "{a{b}",
            "{a}b}", "x {a,}", "{,}", "git  push", "\t", "{\r\n}", "{a\r\n", "{\u{301}a}", "{a}\u{301}", "é {x}",
            "$\u{301}", "git {push", "* ** *$*TOKEN*", "{a,,b}", "{,a}", "{a,}", " {a} ", "x{a,b}", "{a,b}x", "**",
            "*x*", "{*,x}", "{}x", "git {} {", "a\r\n{b}",
        ]
        for rule in try Fixtures.defaultPolicy.get().rules { patterns += rule.match.argv }
        for pattern in patterns {
            #expect(
                RuleMatch.argvPatternProblem(pattern) == Reference.argvPatternProblem(pattern),
                "\(pattern.debugDescription)")
            let tokens = ArgvPattern(pattern).tokens
            let before = Reference.ArgvPattern(pattern).tokens
            #expect(
                tokens.count == before.count && zip(tokens, before).allSatisfy(Reference.same),
                "tokens of \(pattern.debugDescription): \(tokens) before \(before)")
        }
    }
}

/// The matchers as they were before issue 10's speed-up (main at 138699f), kept to compare against.
enum Reference {
    static func same(_ token: BosunPolicy.ArgvPattern.Token, _ before: ArgvPattern.Token) -> Bool {
        switch (token, before) {
        case (.literal(let a), .literal(let b)): a == b
        case (.wildcard(let a), .wildcard(let b)): a == b
        case (.alternatives(let a), .alternatives(let b)): a.count == b.count && zip(a, b).allSatisfy(same)
        case (.anyOne, .anyOne), (.anyRun, .anyRun), (.end, .end): true
        default: false
        }
    }

    static func argvPatternProblem(_ text: String) -> String? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        guard !words.isEmpty else { return "expected an argv pattern, found an empty string" }
        for (position, word) in words.enumerated() {
            if word == "$" && position != words.count - 1 { return "'$' must be the last token of \"\(text)\"" }
            if word.hasPrefix("{") != word.hasSuffix("}") || (word.hasPrefix("{") && word.count < 2) {
                return "unbalanced '{…}' in token \"\(word)\" of \"\(text)\""
            }
            if word.hasPrefix("{") && word.dropFirst().dropLast().contains(where: { $0 == "{" || $0 == "}" }) {
                return "nested '{…}' in token \"\(word)\" of \"\(text)\""
            }
        }
        return nil
    }

    struct Rule {
        var id: String
        var compiled: CompiledRule
        var argv: [ArgvPattern]
        var paths: GlobList
        var writes: GlobList

        init(_ rule: BosunPolicy.Rule) {
            id = rule.id
            compiled = CompiledRule(rule)
            argv = rule.match.argv.map(ArgvPattern.init)
            paths = GlobList(rule.match.paths)
            writes = GlobList(rule.match.writes)
        }

        func applies(to context: MatchContext) -> Bool { compiled.applies(to: context) }

        func matches(_ part: PolicyPart) -> Bool {
            if !argv.isEmpty && !argv.contains(where: { $0.matches(part.argv) }) { return false }
            if !paths.isEmpty && !part.paths.contains(where: paths.matches) { return false }
            if !writes.isEmpty && !part.writes.contains(where: writes.matches) { return false }
            return true
        }
    }

    static func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var stack: [Substring] = []
        for segment in path.split(separator: "/") {
            if segment == "." { continue }
            if segment == ".." {
                if let last = stack.last, last != ".." {
                    stack.removeLast()
                } else if !absolute {
                    stack.append(segment)
                }
                continue
            }
            stack.append(segment)
        }
        let joined = stack.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    static func homeForm(_ path: String) -> String {
        guard path.hasPrefix("/") else { return path }
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let skip: Int
        switch segments.first {
        case "root": skip = 1
        case "home", "Users": skip = segments.count >= 2 ? 2 : 0
        default: skip = 0
        }
        guard skip > 0 else { return path }
        let rest = segments.dropFirst(skip)
        return rest.isEmpty ? "~" : "~/" + rest.joined(separator: "/")
    }

    struct ArgvPattern {
        enum Token {
            case literal(String)
            case wildcard([UInt8])
            case alternatives([Token])
            case anyOne
            case anyRun
            case end
        }

        var tokens: [Token]

        init(_ text: String) {
            tokens = text.split(separator: " ", omittingEmptySubsequences: true).map(Self.token)
        }

        private static func token(_ word: Substring) -> Token {
            switch word {
            case "*": return .anyOne
            case "**": return .anyRun
            case "$": return .end
            case "{}": return .literal("{}")
            default:
                if word.hasPrefix("{") && word.hasSuffix("}") && word.count >= 2 {
                    let inside = word.dropFirst().dropLast()
                    return .alternatives(inside.split(separator: ",", omittingEmptySubsequences: false).map(simple))
                }
                return simple(word)
            }
        }

        private static func simple(_ word: Substring) -> Token {
            Wildcard.hasWildcard(word, questionMark: false) ? .wildcard(Array(word.utf8)) : .literal(String(word))
        }

        func matches(_ argv: [String]) -> Bool { matches(argv, token: 0, word: 0) }

        private func matches(_ argv: [String], token start: Int, word: Int) -> Bool {
            var t = start
            var w = word
            while t < tokens.count {
                switch tokens[t] {
                case .anyRun:
                    if t == tokens.count - 1 { return true }
                    for next in w...argv.count where matches(argv, token: t + 1, word: next) { return true }
                    return false
                case .end:
                    return w == argv.count
                case .anyOne:
                    guard w < argv.count else { return false }
                case let token:
                    guard w < argv.count, Self.matches(token, argv[w]) else { return false }
                }
                t += 1
                w += 1
            }
            return true
        }

        private static func matches(_ token: Token, _ word: String) -> Bool {
            switch token {
            case .literal(let literal): literal == word
            case .wildcard(let bytes): Wildcard.matches(bytes, word, questionMark: false)
            case .alternatives(let options): options.contains { matches($0, word) }
            case .anyOne, .anyRun: true
            case .end: false
            }
        }
    }

    struct Glob {
        enum Segment: Equatable {
            case anyDepth
            case literal(String)
            case pattern([UInt8])
        }

        struct Alternative {
            var absolute: Bool
            var anchored: Bool
            var segments: [Segment]
        }

        var negated: Bool
        var alternatives: [Alternative]

        init(_ text: String) {
            negated = text.hasPrefix("!")
            let body = negated ? String(text.dropFirst()) : text
            alternatives = (Wildcard.expandBraces(body) ?? [body]).map { alternative in
                let absolute = alternative.hasPrefix("/")
                let segments: [Segment] = alternative.split(separator: "/").map { segment in
                    if segment == "**" { return .anyDepth }
                    if Wildcard.hasWildcard(segment, questionMark: true) { return .pattern(Array(segment.utf8)) }
                    return .literal(String(segment))
                }
                return Alternative(
                    absolute: absolute, anchored: absolute || alternative.hasPrefix("~"), segments: segments)
            }
        }

        func matches(_ path: PathSegments, exact: Bool = false) -> Bool {
            alternatives.contains { alternative in
                if alternative.absolute != path.absolute && alternative.anchored { return false }
                if alternative.anchored { return Self.match(alternative.segments[...], path.segments[...], exact) }
                var start = path.segments.startIndex
                while true {
                    if Self.match(alternative.segments[...], path.segments[start...], exact) { return true }
                    if start == path.segments.endIndex { return false }
                    start += 1
                }
            }
        }

        private static func match(_ pattern: ArraySlice<Segment>, _ path: ArraySlice<PathSegment>, _ exact: Bool)
            -> Bool
        {
            guard let first = pattern.first else { return path.isEmpty }
            switch first {
            case .anyDepth:
                let rest = pattern.dropFirst()
                if rest.isEmpty { return true }
                var start = path.startIndex
                while true {
                    if match(rest, path[start...], exact) { return true }
                    if start == path.endIndex { return false }
                    start += 1
                }
            case .literal(let literal):
                guard let segment = path.first, segment.matches(literal: literal, exact: exact) else { return false }
                return match(pattern.dropFirst(), path.dropFirst(), exact)
            case .pattern(let bytes):
                guard let segment = path.first, segment.matches(pattern: bytes, exact: exact) else { return false }
                return match(pattern.dropFirst(), path.dropFirst(), exact)
            }
        }
    }

    struct GlobList {
        var positive: [Glob] = []
        var negative: [Glob] = []

        init(_ globs: [String]) {
            for glob in globs.map(Glob.init) {
                if glob.negated { negative.append(glob) } else { positive.append(glob) }
            }
        }

        var isEmpty: Bool { positive.isEmpty }

        func matches(_ path: PathSegments) -> Bool {
            positive.contains { $0.matches(path) } && !negative.contains { $0.matches(path, exact: true) }
        }
    }
}
