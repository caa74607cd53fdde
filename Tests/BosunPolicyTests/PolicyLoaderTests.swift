import BosunConfig
import BosunCore
import BosunPolicy
import Foundation
import Testing

struct MalformedPolicy: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var key: String?
    var fragment: String

    var testDescription: String { name }
}

@Suite struct PolicyLoaderTests {
    static let file = "policies/10-team.toml"

    static let validRule = """
        [[rule]]
        id = "git-push"
        tier = "commit"
        decision = "deny"
        reason = "use the PR path"
        match.argv = ["git push"]
        examples.match = ["git push origin main"]
        examples.not_match = ["git status"]
        """

    @Test func parsesRulesTiersAndSources() throws {
        let text = """
            # team policy

            [tier.commit]
            approvers = 3
            ttl = "2h"

            \(Self.validRule)

            [[rule]]
            id = "edits"
            tier = "continue"
            decision = "allow"
            reason = "workspace edits"
            match.tool = "Edit"
            match.paths = ["src/**", "!src/generated/**"]
            match.labels = { env = "dev" }
            match.agent = ["claude", "codex"]
            examples.match = ["Edit: src/a.swift"]
            examples.not_match = ["Edit: src/generated/b.swift", "Edit: docs/x.md"]
            """
        let policy = try Policy.parse(text, file: Self.file)
        #expect(policy.rules.map(\.id) == ["git-push", "edits"])
        #expect(policy.rules.map(\.source) == ["\(Self.file):7", "\(Self.file):16"])
        let edits = policy.rules[1]
        #expect(edits.match.tools == ["Edit"])
        #expect(edits.match.labels == ["env": "dev"])
        #expect(edits.match.agents == [.claude, .codex])
        #expect(edits.tier == .continue && edits.decision == .allow)
        let commit = policy.settings(for: .commit)
        #expect(commit.approvers == 3)
        #expect(commit.ttl == 7200)
        #expect(commit.approveFrom == ["desk", "cli"])
        #expect(commit.noteRequired)
        #expect(policy.settings(for: .expand) == TierSettings.defaults(for: .expand))
    }

    @Test func laterFilesOverrideTierKeysAndKeepRuleOrder() throws {
        let first = """
            [tier.commit]
            approvers = 3
            note_required = false

            \(Self.validRule)
            """
        let second = """
            [tier.commit]
            approvers = 4

            [[rule]]
            id = "ls"
            tier = "continue"
            decision = "allow"
            reason = "listing"
            match.argv = ["ls"]
            """
        let policy = try Policy.parse(files: [(first, "policies/00-a.toml"), (second, "policies/10-b.toml")])
        #expect(policy.rules.map(\.id) == ["git-push", "ls"])
        #expect(policy.rules[1].source == "policies/10-b.toml:4")
        let commit = policy.settings(for: .commit)
        #expect(commit.approvers == 4)
        #expect(commit.noteRequired == false)
        #expect(commit.ttl == 1800)
    }

    @Test func duplicateIDsAcrossFilesAreRejected() {
        #expect {
            _ = try Policy.parse(files: [(Self.validRule, "policies/a.toml"), (Self.validRule, "policies/b.toml")])
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.file == "policies/b.toml" && error.key == "rule[id=git-push].id"
                && error.message.contains("duplicate rule id \"git-push\" (also at policies/a.toml:1)")
        }
    }

    @Test func loadsADirectoryInNameOrder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bosun-policy-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.validRule.write(
            to: directory.appendingPathComponent("20-push.toml"), atomically: true, encoding: .utf8)
        try "[tier.expand]\napprovers = 2\n".write(
            to: directory.appendingPathComponent("10-tiers.toml"), atomically: true, encoding: .utf8)
        try "not toml at all [".write(
            to: directory.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        let policy = try Policy.load(directory: directory.path)
        #expect(policy.rules.map(\.source) == [directory.appendingPathComponent("20-push.toml").path + ":1"])
        #expect(policy.settings(for: .expand).approvers == 2)
        #expect(try Policy.load(directory: directory.appendingPathComponent("missing").path) == .empty)
    }

    /// A rule's `source` line is its `[[rule]]` header's as the TOML parser reads it (issue 10: it
    /// was found by scanning the text again, line by line, which a quoted header name or an odd count of
    /// `'''` inside a multi-line string misled: later rules named the wrong line or only the file).
    @Test func ruleSourcesAreTheParsersHeaderLines() throws {
        let text = #"""
            [[rule]]
            id = "first"
            tier = "continue"
            decision = "allow"
            reason = """
                a multi-line reason quoting ''' once
                [[rule]]
                """
            match.argv = ["ls"]

              [[ "rule" ]]  # a quoted name is the same array
            id = "second"
            tier = "continue"
            decision = "allow"
            reason = "r"
            match.argv = ["pwd"]

            [[rule]]
            id = "third"
            tier = "continue"
            decision = "allow"
            reason = "r"
            match.argv = ["id"]
            """#
        let policy = try Policy.parse(text, file: "p.toml")
        #expect(policy.rules.map(\.id) == ["first", "second", "third"])
        #expect(policy.rules.map(\.source) == ["p.toml:1", "p.toml:11", "p.toml:18"])
    }

    /// Every rule of the default policy names the line of its own `[[rule]]` header.
    @Test func defaultPolicySourcesNameEachRulesHeader() throws {
        let policy = try Fixtures.defaultPolicy.get()
        let lines = try String(contentsOfFile: Fixtures.policiesDirectory + "/default.toml", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        for rule in policy.rules {
            let number = try #require(Int(rule.source.split(separator: ":").last ?? ""))
            #expect(lines[number - 1].trimmingCharacters(in: .whitespaces) == "[[rule]]", "\(rule.id)")
            #expect(lines[number].contains("\"\(rule.id)\""), "\(rule.id)")
        }
    }

    @Test func theDefaultPolicyLoadsAndEveryRuleHasExamples() throws {
        let policy = try Fixtures.defaultPolicy.get()
        #expect(policy.rules.count >= 25)
        for rule in policy.rules {
            #expect(!rule.examplesMatch.isEmpty, "\(rule.id) has no examples.match")
            #expect(!rule.examplesNotMatch.isEmpty, "\(rule.id) has no examples.not_match")
            #expect(rule.source.hasPrefix(Fixtures.policiesDirectory + "/default.toml:"))
        }
        #expect(Set(policy.rules.map(\.id)).count == policy.rules.count)
        #expect(policy.settings(for: .commit) == TierSettings.defaults(for: .commit))
    }

    static let malformed: [MalformedPolicy] = [
        MalformedPolicy(
            name: "bad tier", text: validRule.replacingOccurrences(of: "\"commit\"", with: "\"urgent\""),
            key: "rule[id=git-push].tier", fragment: "expected one of steer, continue, expand, commit, found \"urgent\""
        ),
        MalformedPolicy(
            name: "bad decision", text: validRule.replacingOccurrences(of: "\"deny\"", with: "\"block\""),
            key: "rule[id=git-push].decision", fragment: "expected one of allow, ask, deny, found \"block\""),
        MalformedPolicy(
            name: "missing decision", text: validRule.replacingOccurrences(of: "decision = \"deny\"\n", with: ""),
            key: "rule[id=git-push].decision", fragment: "missing"),
        MalformedPolicy(
            name: "unknown rule key", text: validRule + "\nseverity = 3",
            key: "rule[id=git-push].severity", fragment: "unknown key"),
        MalformedPolicy(
            name: "unknown match key", text: validRule.replacingOccurrences(of: "match.argv", with: "match.args"),
            key: "rule[id=git-push].match.args", fragment: "unknown key"),
        MalformedPolicy(
            name: "unknown top-level key", text: "rules = []\n" + validRule, key: "rules", fragment: "unknown key"),
        MalformedPolicy(
            name: "argv not strings",
            text: validRule.replacingOccurrences(of: "[\"git push\"]", with: "[\"git push\", 3]"),
            key: "rule[id=git-push].match.argv[1]", fragment: "expected a string, found an integer"),
        MalformedPolicy(
            name: "argv a table", text: validRule.replacingOccurrences(of: "[\"git push\"]", with: "{ a = 1 }"),
            key: "rule[id=git-push].match.argv", fragment: "expected a string or an array of strings, found a table"),
        MalformedPolicy(
            name: "bad argv pattern",
            text: validRule.replacingOccurrences(of: "[\"git push\"]", with: "[\"git $ push\"]"),
            key: "rule[id=git-push].match.argv[0]", fragment: "'$' must be the last token"),
        MalformedPolicy(
            name: "unbalanced alternatives",
            text: validRule.replacingOccurrences(of: "[\"git push\"]", with: "[\"git {push,fetch\"]"),
            key: "rule[id=git-push].match.argv[0]", fragment: "unbalanced"),
        MalformedPolicy(
            name: "bad path glob", text: validRule + "\nmatch.paths = [\"src/{a,b\"]",
            key: "rule[id=git-push].match.paths[0]", fragment: "unbalanced"),
        MalformedPolicy(
            name: "only negated globs", text: validRule + "\nmatch.paths = [\"!x\"]",
            key: "rule[id=git-push].match.paths", fragment: "at least one glob without '!'"),
        MalformedPolicy(
            name: "bad agent", text: validRule + "\nmatch.agent = \"gpt\"",
            key: "rule[id=git-push].match.agent", fragment: "expected one of codex, claude, generic, found \"gpt\""),
        MalformedPolicy(
            name: "labels not strings", text: validRule + "\nmatch.labels = { env = 1 }",
            key: "rule[id=git-push].match.labels.env", fragment: "expected a string, found an integer"),
        MalformedPolicy(
            name: "missing reason",
            text: validRule.replacingOccurrences(of: "reason = \"use the PR path\"\n", with: ""),
            key: "rule[id=git-push].reason", fragment: "missing"),
        MalformedPolicy(
            name: "empty reason", text: validRule.replacingOccurrences(of: "\"use the PR path\"", with: "\"\""),
            key: "rule[id=git-push].reason", fragment: "non-empty"),
        MalformedPolicy(
            name: "missing id", text: validRule.replacingOccurrences(of: "id = \"git-push\"\n", with: ""),
            key: "rule[0].id", fragment: "missing"),
        MalformedPolicy(
            name: "bad id", text: validRule.replacingOccurrences(of: "\"git-push\"", with: "\"Git Push\""),
            key: "rule[0].id", fragment: "expected lowercase letters"),
        MalformedPolicy(
            name: "second rule indexed", text: validRule + "\n[[rule]]\nid = 5",
            key: "rule[1].id", fragment: "expected a string, found an integer"),
        MalformedPolicy(
            name: "duplicate id in one file", text: validRule + "\n" + validRule,
            key: "rule[id=git-push].id", fragment: "duplicate rule id"),
        MalformedPolicy(
            name: "failing match example",
            text: validRule.replacingOccurrences(
                of: "[\"git push origin main\"]", with: "[\"git push\", \"git fetch\"]"),
            key: "rule[id=git-push].examples.match[1]",
            fragment:
                "expected rule git-push to match \"git fetch\", but it does not (the example's parts: `git fetch`)"),
        MalformedPolicy(
            name: "failing not_match example",
            text: validRule.replacingOccurrences(of: "[\"git status\"]", with: "[\"git status && git push -f\"]"),
            key: "rule[id=git-push].examples.not_match[0]",
            fragment: "it matches `git push -f` and would decide commit/deny"),
        MalformedPolicy(
            name: "examples not an array",
            text: validRule.replacingOccurrences(
                of: "examples.match = [\"git push origin main\"]", with: "examples.match = \"git push\""),
            key: "rule[id=git-push].examples.match", fragment: "expected an array of strings, found a string"),
        MalformedPolicy(
            name: "unknown examples key", text: validRule + "\nexamples.matches = [\"x\"]",
            key: "rule[id=git-push].examples.matches", fragment: "unknown key"),
        MalformedPolicy(
            name: "rule not a table array", text: "rule = \"x\"", key: "rule", fragment: "expected [[rule]] tables"),
        MalformedPolicy(
            name: "unknown tier table", text: "[tier.urgent]\napprovers = 1", key: "tier.urgent",
            fragment: "unknown tier (expected one of steer, continue, expand, commit)"),
        MalformedPolicy(
            name: "approvers zero", text: "[tier.commit]\napprovers = 0", key: "tier.commit.approvers",
            fragment: "expected an integer in 1…100, found 0"),
        MalformedPolicy(
            name: "approvers a string", text: "[tier.commit]\napprovers = \"two\"", key: "tier.commit.approvers",
            fragment: "found a string"),
        MalformedPolicy(
            name: "bad require field", text: "[tier.expand]\nrequire = [\"reason\", \"motive\"]",
            key: "tier.expand.require[1]", fragment: "expected one of reason, command, paths"),
        MalformedPolicy(
            name: "bad ttl string", text: "[tier.expand]\nttl = \"soon\"", key: "tier.expand.ttl",
            fragment: "expected a duration like 90, \"30m\""),
        MalformedPolicy(
            name: "ttl zero", text: "[tier.expand]\nttl = 0", key: "tier.expand.ttl", fragment: "found 0.0"),
        MalformedPolicy(
            name: "note_required not a bool", text: "[tier.commit]\nnote_required = \"yes\"",
            key: "tier.commit.note_required", fragment: "expected true or false, found a string"),
        MalformedPolicy(
            name: "empty approve_from", text: "[tier.commit]\napprove_from = []", key: "tier.commit.approve_from",
            fragment: "at least one channel"),
        MalformedPolicy(
            name: "bad channel", text: "[tier.commit]\napprove_from = [\"Desk Top\"]",
            key: "tier.commit.approve_from[0]", fragment: "expected a channel name"),
        MalformedPolicy(
            name: "unknown tier key", text: "[tier.commit]\nquorum = 2", key: "tier.commit.quorum",
            fragment: "unknown key"),
        MalformedPolicy(name: "TOML syntax", text: "[[rule]\nid = 1", key: nil, fragment: "line 1"),
    ]

    @Test(arguments: malformed)
    func malformedPoliciesNameFileKeyAndExpectation(_ example: MalformedPolicy) {
        do {
            let policy = try Policy.parse(example.text, file: Self.file)
            Issue.record("expected an error, got \(policy.rules.count) rules")
        } catch {
            #expect(error.file == Self.file)
            #expect(error.key == example.key, "\(error)")
            #expect(error.message.contains(example.fragment), "\(error)")
        }
    }

    @Test func durationStrings() throws {
        for (text, seconds) in [
            ("90", 90.0), ("\"45s\"", 45), ("\"30m\"", 1800), ("\"2h\"", 7200), ("\"1h30m\"", 5400), ("\"1d\"", 86400),
            ("12.5", 12.5),
        ] {
            let policy = try Policy.parse("[tier.continue]\nttl = \(text)", file: Self.file)
            #expect(policy.settings(for: .continue).ttl == seconds, "ttl = \(text)")
        }
    }
}
