import BosunCore
import BosunPolicy
import Testing

/// The matcher's general fixes for issue 8 finding 7, on a small policy so they hold for any policy:
/// `cd` moves relative paths, home is spelled one way, git's and gh's global options are skipped, and
/// program-running options and environment assignments are parts of their own.
@Suite struct NormalisationTests {
    static func rule(
        _ id: String, _ tier: Tier, _ decision: Verdict, argv: [String] = [], paths: [String] = [],
        writes: [String] = []
    ) -> Rule {
        Rule(
            id: id, tier: tier, decision: decision, reason: id,
            match: RuleMatch(argv: argv, paths: paths, writes: writes))
    }

    static let policy = Policy(rules: [
        rule("npmrc", .commit, .deny, paths: ["~/.npmrc"]),
        rule("push", .commit, .deny, argv: ["git push", "gh pr merge", "gh api --method"]),
        rule("outside", .expand, .ask, writes: ["/**", "~/**", "../**", "!/tmp/**"]),
        rule("home", .expand, .ask, paths: ["~/notes"]),
        rule("read", .continue, .allow, argv: ["{ls,cat,echo,cd,pushd,popd,git,gh,sed,ps}"]),
    ])

    func evaluate(_ command: String) -> Evaluation {
        Self.policy.evaluate(PolicyInput(tool: "Bash", command: command, cwd: "/home/dev/project"))
    }

    @Test func cdMovesWhereRelativePathsLead() {
        #expect(evaluate("echo x > etc/cron.d/job").ruleID == "read")
        #expect(evaluate("cd / && echo x > etc/cron.d/job").ruleID == "outside")
        #expect(evaluate("cd /etc; echo x >> hosts").ruleID == "outside")
        #expect(evaluate("cd .. && echo x > other/x").ruleID == "outside")
        #expect(evaluate("cd src && cd ../.. && echo x > y").ruleID == "outside")
        #expect(evaluate("cd \"$X\" && echo x > y").ruleID == "outside")
        #expect(evaluate("cd - && echo x > y").ruleID == "outside")
        #expect(evaluate("echo x > ~-/y").ruleID == "outside")
        #expect(evaluate("cd ~/.. && cat dev/.npmrc").ruleID == "npmrc")
        #expect(evaluate("(cd / && echo x > etc/x)").ruleID == "outside")
        #expect(evaluate("cd && cat .npmrc").ruleID == "npmrc")
        #expect(evaluate("cd ~ && cat .npmrc").ruleID == "npmrc")
        // Inside the workspace it stays a workspace path.
        #expect(evaluate("cd src && echo x > out.txt").ruleID == "read")
        #expect(evaluate("cd /home/dev/project/src && echo x > out.txt").ruleID == "read")
        #expect(evaluate("pushd /etc && popd && echo x > y").ruleID == "read")
        #expect(evaluate("pushd src && echo x > y && popd").ruleID == "read")
        // The cd itself is decided in the directory it starts from.
        #expect(evaluate("cd /tmp && echo x > y").ruleID == "read")
    }

    @Test func homeIsSpelledOneWay() {
        for spelling in [
            "~/.npmrc", "$HOME/.npmrc", "${HOME}/.npmrc", "~dev/.npmrc", "/home/dev/.npmrc", "/root/.npmrc",
            "/Users/dev/.npmrc", "../.npmrc", "/home/dev/project/../.npmrc", "~/../dev/.npmrc", "$HOME/x/../.npmrc",
        ] {
            #expect(evaluate("cat \(spelling)").ruleID == "npmrc", "\(spelling)")
        }
        // The workspace's own file is not the home directory's.
        #expect(evaluate("cat .npmrc").ruleID == "read")
        #expect(evaluate("cat /home/dev/project/.npmrc").ruleID == "read")
        // An absolute home path still matches `/**` as well as `~/…`.
        #expect(evaluate("echo x > /home/dev/notes").ruleID == "outside")
        #expect(evaluate("ls /home/dev/notes").ruleID == "home")
    }

    @Test func gitGlobalOptionsAreSkippedAndProgramOptionsSplitOut() {
        for command in [
            "git --git-dir=.git push", "git --git-dir .git push", "git -P push", "git -C a -C b push",
            "git --no-pager push", "git --work-tree=. --bare push", "git -c user.name=x push",
            "git --literal-pathspecs --no-optional-locks push", "git -c alias.p=push p",
            "git -c alias.p='!git push' p", "git -c alias.P=push p", "git -c 'alias.p=-C . push' p",
            "git -c alias.a=b -c alias.b=push a",
        ] {
            #expect(evaluate(command).ruleID == "push", "\(command)")
        }
        let parts = evaluate("git -C src -c core.pager=id --no-pager log -3").parts.map(\.argv)
        #expect(parts == [["git", "log", "-3"], ["git", "-C", "src"], ["git", "-c", "core.pager=id"]])
        // git after a cd away from the workspace root: the directory is a part, as with -C.
        #expect(
            evaluate("cd /tmp/r && git log").parts.map(\.argv) == [
                ["cd", "/tmp/r"], ["git", "log"], ["git", "-C", "/tmp/r"],
            ])
        #expect(evaluate("cd /home/dev/project && git log").parts.count == 2)
        #expect(
            evaluate("git --git-dir=/tmp/x status").parts.map(\.argv) == [
                ["git", "status"], ["git", "--git-dir", "/tmp/x"],
            ])
        #expect(evaluate("git --exec-path").parts.map(\.argv) == [["git"]])
        #expect(evaluate("git --version").parts.map(\.argv) == [["git", "--version"]])
    }

    @Test func ghRepoOptionsAndAPIMethodsAreNormalised() {
        for command in [
            "gh -R o/r pr merge 1", "gh --repo o/r pr merge 1", "gh --repo=o/r pr merge 1", "gh pr -R o/r merge 1",
            "gh api -X PUT x", "gh api -XPUT x", "gh api --method=put x", "gh api x --method PATCH",
            "gh api x -f a=b", "gh api x --raw-field=a=b", "gh api --input body.json x",
            "gh api graphql -f query='mutation { x }'", "gh api graphql -F query=@q.graphql",
        ] {
            #expect(evaluate(command).ruleID == "push", "\(command)")
        }
        for command in ["gh api x", "gh api -X GET x -f q=1", "gh api graphql -f query='query { viewer { login } }'"] {
            #expect(evaluate(command).ruleID == "read", "\(command)")
        }
        #expect(
            evaluate("gh api -XPUT repos/o/r/pulls/1/merge").parts.map(\.argv) == [
                ["gh", "api", "--method", "PUT", "repos/o/r/pulls/1/merge"]
            ])
    }

    @Test func sedScriptCommandsBecomeParts() {
        #expect(
            evaluate("sed -n '1e touch x' f").parts.map(\.argv) == [
                ["sed", "-n", "1e touch x", "f"], ["sed", "e", "touch x"], ["touch", "x"],
            ])
        #expect(evaluate("sed -n 's/a/b/e' f").parts.map(\.argv).last == ["sed", "s///e"])
        #expect(evaluate("sed e f").parts.map(\.argv).last == ["sed", "s///e"])
        #expect(evaluate("sed -n 'w /etc/x' f").ruleID == "outside")
        #expect(evaluate("sed -n 's/a/b/w ../x' f").ruleID == "outside")
        #expect(evaluate("sed -n 'r ~/.npmrc' f").ruleID == "npmrc")
        #expect(evaluate("sed -n -f s.sed f").parts.map(\.argv).last == ["sed", "--file", "s.sed"])
        #expect(evaluate("sed -n '1!{/x/e id\n}' f").parts.map(\.argv).contains(["sed", "e", "id"]))
        #expect(evaluate("sed --sandbox -n '1e id' f").parts.count == 1)
        // Scripts that only print, substitute and branch split nothing out.
        for script in [
            "1,80p", "/^func main/,/^}/p", "s/foo/bar/gp", "2~3p", "/start/,+5p", "10,20{p;}", "$!N;P;D",
            ":a;N;$!ba;s/\\n/ /g", "s|/usr|/opt|w", "y/abc/xyz/", "$a\\\nend", "/x/I,/y/Md",
        ] {
            let parts = evaluate("sed -n '\(script)' f").parts.map(\.argv)
            #expect(parts.count == 1 || script == "s|/usr|/opt|w", "\(script): \(parts)")
        }
        #expect(evaluate("sed -n 'k' f").parts.map(\.argv).last == ["sed", "?", "k"])
    }

    @Test func assignmentsAndProcessEnvironmentsAreParts() {
        #expect(evaluate("LD_PRELOAD=x ls").parts.map(\.argv) == [["ls"], ["LD_PRELOAD=x"]])
        #expect(evaluate("env A=1 B=2 ls").parts.map(\.argv) == [["ls"], ["A=1"], ["B=2"]])
        #expect(
            evaluate("export GIT_PAGER=id; git log").parts.map(\.argv) == [
                ["export", "GIT_PAGER=id"], ["GIT_PAGER=id"], ["git", "log"],
            ])
        #expect(evaluate("X=1").parts.map(\.argv) == [[], ["X=1"]])
        #expect(evaluate("ps auxeww").parts.map(\.argv) == [["ps", "auxeww"], ["ps", "e"]])
        #expect(evaluate("ps -E").parts.map(\.argv).last == ["ps", "e"])
        for command in ["ps aux", "ps -ef", "ps -C node", "ps -o pid,user,comm"] {
            #expect(evaluate(command).parts.count == 1, "\(command)")
        }
    }

    @Test func fileURLsArePaths() {
        #expect(evaluate("cat file:///home/dev/.npmrc").ruleID == "npmrc")
    }
}
