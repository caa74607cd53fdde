import BosunCore
import BosunPolicy
import BosunTestSupport
import Testing

/// Random command lines built from shell syntax: parsing and evaluation must never crash, and an
/// incomplete parse must never be allowed.
@Suite struct RobustnessTests {
    static let pieces = [
        "ls", "git", "push", "rm", "-rf", "/", ".env", " ", " ", " ", "'", "\"", "\\", "$", "$(", ")", "(", "`", "{",
        "}", ",", ";", "&&", "||", "|", "&", "\n", ">", ">>", "<", "<<", "<<'EOF'", "EOF", "2>&1", "*", "?", "[", "]",
        "=", "FOO=", "bash -c ", "sudo ", "env ", "xargs ", "find . -exec ", "\\;", "#", "$((", "))", "[[", "]]",
        "for ",
        " in ", "do ", "done", "case ", "esac", "eval ", "~", "..", "ä", "\t",
    ]

    @Test func randomCommandLinesNeverCrashAndNeverAllowIncompleteParses() throws {
        var generator = SeededGenerator(state: 42)
        let policy = try Fixtures.defaultPolicy.get()
        for _ in 0..<10_000 {
            let count = Int.random(in: 1...24, using: &generator)
            var command = ""
            for _ in 0..<count { command += Self.pieces.randomElement(using: &generator) ?? "" }
            let parse = ShellParser.parse(command)
            #expect(parse.complete == parse.problems.isEmpty, "\(command)")
            let evaluation = policy.evaluate(PolicyInput(tool: "Bash", command: command, cwd: "/w"))
            if !evaluation.complete {
                #expect(evaluation.verdict != .allow && evaluation.tier >= .expand, "\(command)")
            }
            _ = CommandAnalysis.analyze(command)
        }
    }

    /// Pieces that reach the matcher's program parts: git/gh global options and aliases, sed scripts,
    /// cd tracking, home spellings, assignments, ps options.
    static let programPieces = [
        "git ", "gh ", "sed ", "cd ", "pushd ", "popd", "ps ", "export ", "time ", "env ", " ", " ", "-c ", "-C ",
        "--git-dir=", "alias.x=", "'!", "x ", "push", "api ", "-X", "-f ", "--method=", "-R ", "graphql ", "-n ",
        "-e ", "-i", "--expression=", "'", "1e ", "s/a/b/", "w ", "r ", "e", "{", "}", ";", "!", "\\", "/", "$",
        "~", "~x/", "$HOME", "${HOME}", "/home/u/", "/root/", "..", ".git/", "auxeww", "LD_PRELOAD=", "-o", "&&",
        "\n", ">", "y/", "p", ":a", "b", "\"", "=", "ä",
    ]

    @Test func randomProgramOptionsNeverCrashAndNeverAllowIncompleteParses() throws {
        var generator = SeededGenerator(state: 7)
        let policy = try Fixtures.defaultPolicy.get()
        for _ in 0..<10_000 {
            let count = Int.random(in: 1...20, using: &generator)
            var command = ""
            for _ in 0..<count { command += Self.programPieces.randomElement(using: &generator) ?? "" }
            let evaluation = policy.evaluate(PolicyInput(tool: "Bash", command: command, cwd: "/home/u/w"))
            if !evaluation.complete {
                #expect(evaluation.verdict != .allow && evaluation.tier >= .expand, "\(command)")
            }
            _ = CommandAnalysis.analyze(command)
        }
    }

    @Test func hugeInputsStayLinear() {
        let long = String(repeating: "echo a && ", count: 5_000) + "ls"
        #expect(ShellParser.parse(long).commands.count == 5_001)
        let quotes = String(repeating: "'a'\"b\"", count: 20_000)
        #expect(ShellParser.parse("echo " + quotes).commands.count == 1)
        let braces = String(repeating: "{", count: 50_000) + "a,b" + String(repeating: "}", count: 50_000)
        #expect(!ShellParser.parse("echo " + braces).complete)
        let policy = Policy(rules: [])
        let script = String(repeating: "s/a/b/g;", count: 20_000) + "1e id"
        let sed = policy.evaluate(PolicyInput(tool: "Bash", command: "sed -n '\(script)' f"))
        #expect(sed.parts.map(\.argv).contains(["sed", "e", "id"]))
        let git = "git " + String(repeating: "-C d ", count: 10_000) + "push"
        #expect(policy.evaluate(PolicyInput(tool: "Bash", command: git)).parts.first?.argv == ["git", "push"])
    }
}
