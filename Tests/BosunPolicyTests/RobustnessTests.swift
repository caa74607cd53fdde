import BosunCore
import BosunPolicy
import Testing

/// Random command lines built from shell syntax: parsing and evaluation must never crash, and an
/// incomplete parse must never be allowed.
@Suite struct RobustnessTests {
    /// A small deterministic generator (SplitMix64), so failures reproduce.
    struct Generator: RandomNumberGenerator {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let pieces = [
        "ls", "git", "push", "rm", "-rf", "/", ".env", " ", " ", " ", "'", "\"", "\\", "$", "$(", ")", "(", "`", "{",
        "}", ",", ";", "&&", "||", "|", "&", "\n", ">", ">>", "<", "<<", "<<'EOF'", "EOF", "2>&1", "*", "?", "[", "]",
        "=", "FOO=", "bash -c ", "sudo ", "env ", "xargs ", "find . -exec ", "\\;", "#", "$((", "))", "[[", "]]",
        "for ",
        " in ", "do ", "done", "case ", "esac", "eval ", "~", "..", "ä", "\t",
    ]

    @Test func randomCommandLinesNeverCrashAndNeverAllowIncompleteParses() throws {
        var generator = Generator(state: 42)
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

    @Test func hugeInputsStayLinear() {
        let long = String(repeating: "echo a && ", count: 5_000) + "ls"
        #expect(ShellParser.parse(long).commands.count == 5_001)
        let quotes = String(repeating: "'a'\"b\"", count: 20_000)
        #expect(ShellParser.parse("echo " + quotes).commands.count == 1)
        let braces = String(repeating: "{", count: 50_000) + "a,b" + String(repeating: "}", count: 50_000)
        #expect(!ShellParser.parse("echo " + braces).complete)
    }
}
