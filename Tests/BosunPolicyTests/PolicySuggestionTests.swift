import BosunConfig
import BosunCore
import BosunPolicy
import Foundation
import Testing

/// `policy suggest` (issue 12): never a rule for commit-tier asks, commands a commit- or
/// expand-tier rule matches, or destructive commands; a suggested file passes the policy check.
@Suite struct PolicySuggestionTests {
    static func asked(
        _ number: Int64, _ command: String, tier: Tier = .expand, outcome: AskedRequest.Outcome = .approved,
        labels: [String: String] = ["fleet": "local", "rack": "a"], agent: AgentKind = .claude
    ) -> AskedRequest {
        AskedRequest(
            number: number, tool: "Bash", command: command, agent: agent, labels: labels, repo: "/home/dev/project",
            cwd: Fixtures.workspace, tier: tier, outcome: outcome)
    }

    /// Commands no suggestion may ever cover: every case of the policy corpus that a commit- or
    /// expand-tier rule decides, every must-not-allow bypass, and destructive commands no rule knows.
    static let forbidden: [(command: String, tier: Tier)] = {
        var cases: [(String, Tier)] = []
        let policy = try? Fixtures.defaultPolicy.get()
        for example in CorpusCase.all {
            let evaluation = policy?.evaluate(PolicyInput(example: example.action, cwd: Fixtures.workspace))
            guard let evaluation, evaluation.ruleID != nil, evaluation.tier >= .expand else { continue }
            cases.append((example.action, evaluation.tier))
        }
        if let file = Bundle.module.url(forResource: "must-not-allow", withExtension: "tsv", subdirectory: "Corpus"),
            let text = try? String(contentsOf: file, encoding: .utf8)
        {
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.count >= 3 else { continue }
                cases.append(
                    (fields[2].replacingOccurrences(of: "⏎", with: "\n"), fields[0] == "commit" ? .commit : .expand))
            }
        }
        for command in [
            "frobctl delete --all", "frobctl destroy cluster", "mytool --force", "mytool reset --hard",
            "db-admin drop users",
            "cachetool purge", "cachetool prune", "pkgtool uninstall web", "mytool wipe", "diskutil erase disk2",
            "svc stop api", "svc down", "mytool -rf out", "frob push origin", "frob rebase main", "frob clean",
            "frob remove item", "shred notes.txt", "frob --force-with-lease", "tool exec script",
        ] {
            cases.append((command, .expand))
        }
        return cases
    }()

    @Test func corpusIsLarge() {
        #expect(Self.forbidden.count >= 100, "only \(Self.forbidden.count) forbidden commands")
        #expect(Self.forbidden.filter { $0.tier == .commit }.count >= 50)
    }

    @Test func nothingIsSuggestedForForbiddenCommands() throws {
        let policy = try Fixtures.defaultPolicy.get()
        var suggested: [String] = []
        for (index, item) in Self.forbidden.enumerated() {
            // Asked five times, always approved: as strong a case for a rule as history can make.
            let history = (0..<5).map { Self.asked(Int64(index * 10 + $0), item.command, tier: item.tier) }
            let (suggestions, _) = PolicySuggester.suggest(history, policy: policy, minCount: 1)
            if !suggestions.isEmpty { suggested.append(item.command) }
        }
        #expect(suggested.isEmpty, "suggested rules for: \(suggested)")
        // And all at once: no proposed rule matches any of them.
        let history = Self.forbidden.enumerated().flatMap { index, item in
            (0..<3).map { Self.asked(Int64(index * 10 + $0), item.command, tier: item.tier) }
        }
        let (suggestions, _) = PolicySuggester.suggest(history, policy: policy, minCount: 1)
        #expect(suggestions.isEmpty, "\(suggestions.map(\.rule.id))")
    }

    @Test func narrowestRuleForRepeatedApprovalsPassesTheCheck() throws {
        let policy = try Fixtures.defaultPolicy.get()
        let history = [
            Self.asked(1, "frobnicate-lint --fast src"), Self.asked(2, "frobnicate-lint --fast lib"),
            Self.asked(3, "frobnicate-lint --fast src"),
            Self.asked(4, "frobnicate-lint --fast docs", labels: ["fleet": "local", "rack": "b"]),
            // A code runner, however often approved.
            Self.asked(8, "make docs"), Self.asked(9, "make docs"), Self.asked(10, "make docs"),
            Self.asked(5, "frobnicate-lint --slow src", outcome: .refused),
            // Two approvals only: under the minimum.
            Self.asked(6, "widget-gen build"), Self.asked(7, "widget-gen build"),
        ]
        let (suggestions, _) = PolicySuggester.suggest(history, policy: policy, minCount: 3)
        #expect(suggestions.count == 1)
        let suggestion = try #require(suggestions.first)
        #expect(suggestion.rule.id == "suggested-frobnicate-lint")
        #expect(suggestion.rule.tier == .continue && suggestion.rule.decision == .allow)
        #expect(suggestion.rule.match.argv == ["frobnicate-lint --fast {docs,lib,src} $"])
        #expect(suggestion.rule.match.labels == ["fleet": "local"], "rack differs between the asking hosts")
        #expect(suggestion.rule.match.tools == ["Bash"])
        #expect(suggestion.rule.match.agents == [.claude])
        #expect(suggestion.requests == [1, 2, 3, 4])
        #expect(
            suggestion.rule.examplesMatch == [
                "frobnicate-lint --fast src", "frobnicate-lint --fast lib", "frobnicate-lint --fast docs",
            ])
        #expect(suggestion.rule.examplesNotMatch == ["frobnicate-lint --slow src"])
        #expect(suggestion.toml.contains("# repositories: /home/dev/project"))

        // The policy part of `bosun check`: the file parses, its examples check, ids stay unique.
        let defaults = try FileManager.default.contentsOfDirectory(atPath: Fixtures.policiesDirectory).sorted()
            .filter { $0.hasSuffix(".toml") }.map { name in
                let path = Fixtures.policiesDirectory + "/" + name
                return (text: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "", file: path)
            }
        let merged = try Policy.parse(files: defaults + [(suggestion.toml, "zz-suggested.toml")])
        #expect(merged.rules.last?.id == "suggested-frobnicate-lint")
        let allowed = merged.evaluate(
            PolicyInput(
                tool: "Bash", command: "frobnicate-lint --fast lib", paths: [], agent: .claude,
                labels: ["fleet": "local", "rack": "b"]))
        #expect(allowed.verdict == .allow && allowed.ruleID == "suggested-frobnicate-lint")
        for command in [
            "frobnicate-lint --fast lib extra", "frobnicate-lint --slow src", "frobnicate-lint --fast tests",
        ] {
            let other = merged.evaluate(
                PolicyInput(tool: "Bash", command: command, paths: [], agent: .claude, labels: ["fleet": "local"]))
            #expect(other.verdict != .allow, "\(command) must stay an ask")
        }
    }

    @Test func aRuleThatWouldCoverADenialIsNotProposed() throws {
        let policy = try Fixtures.defaultPolicy.get()
        var history = (1...6).map { Self.asked(Int64($0), "frobnicate-lint --target t\($0 % 3)") }
        // The same command once denied: a rule allowing it would undo a person's decision.
        history.append(Self.asked(7, "frobnicate-lint --target t2", outcome: .refused))
        // Too many different values for a narrow pattern: no `*` is ever proposed.
        history += (11...16).map { Self.asked(Int64($0), "widget-gen --name n\($0)") }
        let (suggestions, skipped) = PolicySuggester.suggest(history, policy: policy, minCount: 3)
        #expect(suggestions.isEmpty)
        #expect(skipped.contains { $0.action == "frobnicate-lint" && $0.reason.contains("#7") }, "\(skipped)")
        #expect(skipped.contains { $0.action == "widget-gen" && $0.reason.contains("too varied") }, "\(skipped)")
    }

    @Test func tomlTextIsEscaped() throws {
        let policy = try Fixtures.defaultPolicy.get()
        let history = (1...3).map { Self.asked(Int64($0), "frobnicate-lint --fast", labels: ["team": "a\"b\\c\n"]) }
        let (suggestions, _) = PolicySuggester.suggest(history, policy: policy, minCount: 3)
        let suggestion = try #require(suggestions.first)
        let parsed = try Policy.parse(suggestion.toml, file: "s.toml")
        #expect(parsed.rules.first?.match.labels == ["team": "a\"b\\c\n"])
    }
}

/// `policy replay`: the policy in force changes nothing; a stricter one changes exactly what it should.
@Suite struct PolicyReplayTests {
    /// Every corpus command as the default policy decided it (asks: a person approved).
    static func history(_ policy: Policy) -> [PolicyReplay.Item] {
        CorpusCase.all.enumerated().map { index, example in
            let input = PolicyInput(example: example.action, cwd: Fixtures.workspace)
            let evidence = Evidence(
                tool: input.tool, command: input.command, paths: input.paths, purpose: "corpus", agent: .claude,
                cwd: Fixtures.workspace)
            let ruling = DecisionRule.decide(policy: policy, evidence: evidence, labels: [:], context: .init())
            let route: PolicyReplay.Route =
                switch ruling.outcome {
                case .allow: .allow
                case .deny: .deny
                case .ask: .ask
                }
            return PolicyReplay.Item(
                number: Int64(index + 1), host: "h1", evidence: evidence, labels: [:], truncated: false, route: route,
                ending: route == .allow ? .policyAllowed : route == .deny ? .policyDenied : .personApproved)
        }
    }

    @Test func thePolicyInForceChangesNothing() throws {
        let policy = try Fixtures.defaultPolicy.get()
        let items = Self.history(policy)
        #expect(items.count >= 200)
        #expect(PolicyReplay.changes(items, candidate: policy).isEmpty)
    }

    @Test func aStricterCandidateShowsExactlyTheExpectedChanges() throws {
        let policy = try Fixtures.defaultPolicy.get()
        let items = Self.history(policy)
        // Stricter: git's read commands are asked instead of allowed.
        var stricter = policy
        stricter.rules = policy.rules.map { rule in
            var rule = rule
            if rule.id == "git-read" { rule.decision = .ask }
            return rule
        }
        let changes = PolicyReplay.changes(items, candidate: stricter)
        // Expected: exactly the allowed commands one of whose parts the git-read rule decided.
        let expected = items.filter { item in
            item.route == .allow
                && policy.evaluate(PolicyInput(evidence: item.evidence, labels: [:])).parts.contains {
                    $0.ruleID == "git-read"
                }
        }.map(\.number)
        #expect(!expected.isEmpty)
        #expect(changes.map(\.number) == expected)
        #expect(
            changes.allSatisfy { $0.was == .allow && $0.would == .ask && $0.kind == "would ask what policy allowed" })
    }
}
