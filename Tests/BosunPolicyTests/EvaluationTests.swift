import BosunConfig
import BosunCore
import BosunPolicy
import Foundation
import Testing

@Suite struct EvaluationTests {
    static func rule(
        _ id: String, _ tier: Tier, _ decision: Verdict, argv: [String] = [], tools: [String] = [],
        paths: [String] = [], writes: [String] = [], labels: [String: String] = [:], agents: [AgentKind] = []
    ) -> Rule {
        Rule(
            id: id, tier: tier, decision: decision, reason: "reason of \(id)",
            match: RuleMatch(tools: tools, argv: argv, paths: paths, writes: writes, labels: labels, agents: agents),
            source: "test.toml:\(id.count)")
    }

    static let policy = Policy(rules: [
        rule("push", .commit, .deny, argv: ["git push"]),
        rule("secrets", .commit, .deny, paths: [".env", "!.env.example"]),
        rule("outside", .expand, .ask, writes: ["/**", "!/tmp/**"]),
        rule("rm", .expand, .ask, argv: ["rm"]),
        rule("odd", .continue, .ask, argv: ["odd"]),
        rule("high", .commit, .allow, argv: ["high"]),
        rule("read", .continue, .allow, argv: ["{ls,cat,echo}", "git status"]),
        rule("edit", .continue, .allow, tools: ["Edit", "Write"]),
        rule("mcp", .expand, .ask, tools: ["mcp__*"]),
    ])

    func evaluate(_ command: String, tool: String = "Bash", cwd: String = "") -> Evaluation {
        Self.policy.evaluate(PolicyInput(tool: tool, command: command, cwd: cwd))
    }

    @Test func theFirstMatchingRuleDecidesAPart() {
        let evaluation = evaluate("ls -la")
        #expect(evaluation.verdict == .allow && evaluation.tier == .continue)
        #expect(evaluation.ruleID == "read")
        #expect(evaluation.source == "test.toml:4")
        #expect(evaluation.reason == "reason of read")
        #expect(evaluation.parts.count == 1)
        #expect(evaluation.complete)
    }

    @Test func theStrictestPartDecidesTheWhole() {
        #expect(evaluate("ls; rm x").ruleID == "rm")
        #expect(evaluate("rm x && git push").ruleID == "push")
        #expect(evaluate("git status | cat && echo $(git push)").verdict == .deny)
        // The verdict counts before the tier: continue/ask beats commit/allow.
        let mixed = evaluate("high && odd")
        #expect(mixed.ruleID == "odd")
        #expect(mixed.verdict == .ask && mixed.tier == .continue)
        // Equal strictness: the first such part.
        #expect(evaluate("rm a; rm b").parts.map(\.ruleID) == ["rm", "rm"])
        #expect(evaluate("ls; git push; rm x").parts.map(\.verdict) == [.allow, .deny, .ask])
    }

    @Test func anUnmatchedPartIsExpandAsk() {
        let evaluation = evaluate("ls && terraform apply")
        #expect(evaluation.tier == .expand && evaluation.verdict == .ask)
        #expect(evaluation.ruleID == nil)
        #expect(evaluation.reason == "no rule matches terraform")
        #expect(evaluation.parts[1].reason == "no rule matches terraform")
    }

    @Test func anIncompleteParseNeverAllows() {
        let unbalanced = evaluate("ls 'x")
        #expect(unbalanced.tier == .expand && unbalanced.verdict == .ask)
        #expect(unbalanced.ruleID == nil && unbalanced.source == nil)
        #expect(!unbalanced.complete)
        #expect(unbalanced.reason.contains("could not be fully parsed (unbalanced single quote)"))
        #expect(unbalanced.parts.first?.verdict == .allow)
        #expect(evaluate("eval ls").verdict == .ask)
        #expect(evaluate("$CMD").verdict == .ask)
        // A stricter part keeps its rule; the reason also names the parse problem.
        let denied = evaluate("git push; echo \"x")
        #expect(denied.verdict == .deny && denied.ruleID == "push")
        #expect(denied.reason.hasPrefix("reason of push; also, the command could not be fully parsed"))
        // continue/ask is raised to expand/ask.
        let odd = evaluate("odd 'x")
        #expect(odd.tier == .expand && odd.verdict == .ask && odd.ruleID == nil)
    }

    @Test func emptyCommandsAsk() {
        let evaluation = evaluate("   ")
        #expect(evaluation.verdict == .ask && evaluation.tier == .expand)
        #expect(evaluation.reason == "the command is empty")
    }

    @Test func commandToolsAreRecognisedCaseInsensitively() {
        for tool in ["Bash", "bash", "exec_command", "shell", "local_shell", "SHELL"] {
            #expect(evaluate("git push", tool: tool).verdict == .deny, "\(tool)")
        }
        // Another tool's "command" is not a shell command.
        #expect(evaluate("git push", tool: "Task").reason == "no rule matches tool Task")
    }

    @Test func pathsMatchOperandsAndRedirections() {
        #expect(evaluate("cat .env").ruleID == "secrets")
        #expect(evaluate("cat config/.env").ruleID == "secrets")
        #expect(evaluate("cat .env.example").ruleID == "read")
        #expect(evaluate("cat .env.example .env").ruleID == "secrets")
        #expect(evaluate("cat < .env").ruleID == "secrets")
        #expect(evaluate("echo x > .env").ruleID == "secrets")
        #expect(evaluate("cat --file=.env").ruleID == "secrets")
        #expect(evaluate("echo .env").ruleID == "read")
        #expect(evaluate("ls https://x/.env").ruleID == "read")
    }

    @Test func writesMatchRedirectionTargetsAndEditPaths() {
        #expect(evaluate("echo x > /etc/hosts").ruleID == "outside")
        #expect(evaluate("echo x > /tmp/log").ruleID == "read")
        #expect(evaluate("cat /etc/hosts").ruleID == "read")
        let cwd = "/home/dev/repo"
        func edit(_ path: String) -> String? {
            Self.policy.evaluate(PolicyInput(tool: "Edit", paths: [path], cwd: cwd)).ruleID
        }
        #expect(edit("/home/dev/repo/src/a.swift") == "edit")
        #expect(edit("src/a.swift") == "edit")
        #expect(edit("/home/dev/other/a.swift") == "outside")
        #expect(edit("../other/a.swift") == "outside")
        #expect(edit("/home/dev/repo/../repo2/x") == "outside")
        #expect(edit("/home/dev/repo/config/.env") == "secrets")
        #expect(evaluate("echo x > ../x", cwd: cwd).ruleID == "outside")
        #expect(evaluate("echo x > sub/../x", cwd: cwd).ruleID == "read")
    }

    @Test func nonCommandToolsMatchByToolAndPaths() {
        let write = Self.policy.evaluate(PolicyInput(tool: "Write", paths: ["notes.md"]))
        #expect(write.ruleID == "edit")
        #expect(write.parts.map(\.argv) == [[]])
        #expect(Self.policy.evaluate(PolicyInput(tool: "MCP__github__merge")).ruleID == "mcp")
        let unknown = Self.policy.evaluate(PolicyInput(tool: "Teleport"))
        #expect(unknown.tier == .expand && unknown.verdict == .ask)
        #expect(unknown.reason == "no rule matches tool Teleport")
    }

    @Test func labelsAndAgentsRestrictWhereARuleApplies() {
        let policy = Policy(rules: [
            Self.rule("prod-ssh", .commit, .deny, argv: ["ssh"], labels: ["env": "prod*"]),
            Self.rule("codex-ssh", .continue, .allow, argv: ["ssh"], agents: [.codex]),
            Self.rule("ssh", .expand, .ask, argv: ["ssh"]),
        ])
        func decide(_ labels: [String: String], _ agent: AgentKind) -> String? {
            policy.evaluate(PolicyInput(tool: "Bash", command: "ssh host", agent: agent, labels: labels)).ruleID
        }
        #expect(decide(["env": "prod-eu"], .codex) == "prod-ssh")
        #expect(decide(["env": "staging"], .codex) == "codex-ssh")
        #expect(decide([:], .claude) == "ssh")
        #expect(decide(["env": "prod"], .generic) == "prod-ssh")
        #expect(decide(["team": "prod"], .generic) == "ssh")
    }

    @Test func aRuleWithArgvAndPathsNeedsBoth() {
        let policy = Policy(rules: [Self.rule("cp-etc", .expand, .ask, argv: ["cp"], paths: ["/etc/**"])])
        #expect(policy.evaluate(PolicyInput(tool: "Bash", command: "cp a /etc/x")).ruleID == "cp-etc")
        #expect(policy.evaluate(PolicyInput(tool: "Bash", command: "cp a b")).ruleID == nil)
        #expect(policy.evaluate(PolicyInput(tool: "Bash", command: "cat /etc/x")).ruleID == nil)
    }

    @Test(arguments: [
        ("git push", "git push origin main", true),
        ("git push", "git pull", false),
        ("git push $", "git push", true),
        ("git push $", "git push origin", false),
        ("git {push,fetch}", "git fetch", true),
        ("git * main", "git push main", true),
        ("git * main", "git main", false),
        ("kubectl ** apply", "kubectl -n prod apply -f x", true),
        ("kubectl ** apply", "kubectl apply", true),
        ("kubectl ** apply", "kubectl get applyments", false),
        ("make test_*", "make test_unit", true),
        ("make test_*", "make test", false),
        ("* ** *$*TOKEN*", "curl -H \"x: $GH_TOKEN\"", true),
        ("{rm,rmdir} ** {-*r*,-*R*}", "rm -f -R x", true),
        ("$", "> out", true),
        ("$", "ls > out", false),
        ("git", "/usr/bin/git status", true),
        ("git", "./git status", false),
        ("find ** -exec {}", "find . -exec {} ;", true),
    ])
    func argvPatterns(pattern: String, command: String, matches: Bool) {
        let rule = Self.rule("r", .continue, .allow, argv: [pattern])
        #expect(rule.check(example: command).matched == matches)
    }

    @Test func ruleExampleChecks() {
        let rule = Self.rule("push", .commit, .deny, argv: ["git push"])
        let check = rule.check(example: "git status && git push -f")
        #expect(check.matched)
        #expect(check.matchedPart == ["git", "push", "-f"])
        #expect(check.parts == [["git", "status"], ["git", "push", "-f"]])
        let edit = Self.rule("edit", .continue, .allow, tools: ["Edit"], paths: ["src/**"])
        #expect(edit.check(example: "Edit: src/a.swift").matched)
        #expect(!edit.check(example: "Edit: docs/a.md").matched)
        #expect(!edit.check(example: "Write: src/a.swift").matched)
        #expect(!edit.check(example: "cat src/a.swift").matched)
    }

    @Test func inputFromEvidence() {
        let evidence = Evidence(
            tool: "Bash", command: "git push", paths: ["x"], agent: .codex, cwd: "/repo")
        let input = PolicyInput(evidence: evidence, labels: ["env": "dev"])
        #expect(
            input
                == PolicyInput(
                    tool: "Bash", command: "git push", paths: ["x"], agent: .codex, labels: ["env": "dev"], cwd: "/repo"
                ))
        #expect(PolicyInput(example: "Edit: a b") == PolicyInput(tool: "Edit", paths: ["a", "b"]))
        #expect(PolicyInput(example: "exec_command: ls -la") == PolicyInput(tool: "exec_command", command: "ls -la"))
        #expect(PolicyInput(example: "echo a: b") == PolicyInput(tool: "Bash", command: "echo a: b"))
    }

    @Test func thePolicyRoundTripsThroughJSON() throws {
        let policy = try Fixtures.defaultPolicy.get()
        let data = try JSONEncoder().encode(policy)
        let decoded = try JSONDecoder().decode(Policy.self, from: data)
        #expect(decoded == policy)
        #expect(decoded.tiers == policy.tiers)
        for example in CorpusCase.all.prefix(80) {
            let input = PolicyInput(example: example.action, cwd: Fixtures.workspace)
            #expect(decoded.evaluate(input) == policy.evaluate(input), "\(example.action)")
        }
        let evaluation = policy.evaluate(PolicyInput(tool: "Bash", command: "ls && git push"))
        let roundTripped = try JSONDecoder().decode(Evaluation.self, from: JSONEncoder().encode(evaluation))
        #expect(roundTripped == evaluation)
        let json = String(decoding: data, as: UTF8.self)
        #expect(json.contains("\"approve_from\"") && json.contains("\"examples_match\""))
    }

    @Test func theEmptyPolicyAsksForEverything() throws {
        #expect(Policy.empty.rules.isEmpty)
        let evaluation = Policy.empty.evaluate(PolicyInput(tool: "Bash", command: "ls"))
        #expect(evaluation.tier == .expand && evaluation.verdict == .ask)
        #expect(Policy.empty.settings(for: .commit).approvers == 2)
        #expect(TierSettings.defaults(for: .steer) == TierSettings())
        #expect(TierSettings.defaults(for: .expand).require == ["reason"])
    }

    @Test func explainNamesRuleSourcePartsEvidenceAndApprovers() throws {
        let policy = try Fixtures.defaultPolicy.get()
        let text = policy.explain(PolicyInput(tool: "Bash", command: "git status && git push origin main"))
        #expect(text.contains("tier:      commit"))
        #expect(text.contains("decision:  deny"))
        #expect(text.contains("rule:      git-push (\(Fixtures.policiesDirectory)/default.toml:"))
        #expect(text.contains("continue/allow  git status"))
        #expect(text.contains("commit/deny     git push origin main"))
        #expect(text.contains("evidence:  requires reason"))
        #expect(text.contains("from desk, cli; 2 approvers; expires after 30m; note required"))
        let unparsed = policy.explain(PolicyInput(tool: "Bash", command: "ls 'x"))
        #expect(unparsed.contains("rule:      none"))
        #expect(unparsed.contains("parse:     incomplete (unbalanced single quote)"))
        let edit = policy.explain(PolicyInput(tool: "Edit", paths: ["src/a.go"]))
        #expect(edit.contains("action:    Edit: src/a.go"))
        #expect(edit.contains("rule:      edit-workspace"))
    }
}
