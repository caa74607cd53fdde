/// The simple commands a shell command line would run, as far as a static reading can tell.
///
/// Policy evaluation matches every simple command separately, so a compound line (`a && b | c`,
/// `bash -lc '…'`, `$(…)`) cannot hide a command behind an allowed one.
public struct ShellParse: Sendable, Equatable {
    /// Every simple command's argv: assignments and wrappers (`env`, `sudo`, `nohup`, `timeout`, …)
    /// stripped, redirections removed, and commands inside substitutions and `bash -c` scripts included.
    /// A first word under a system `bin` directory (`/usr/bin/git`) is reduced to its name.
    public var commands: [[String]]
    /// False when part of the line could not be read with confidence; `commands` is then a lower bound.
    public var complete: Bool
    /// Files written by redirections (`>`, `>>`, `&>`, `>|`, `<>`), except `/dev/null` and the standard streams.
    public var redirects: [String]
    /// Why the parse is incomplete, in a few words each (empty when `complete`).
    public var problems: [String]

    public init(commands: [[String]] = [], complete: Bool = true, redirects: [String] = [], problems: [String] = []) {
        self.commands = commands
        self.complete = complete
        self.redirects = redirects
        self.problems = problems
    }
}

/// One simple command with the files its redirections read and write.
struct ShellCommand: Sendable, Equatable {
    var argv: [String]
    var reads: [String] = []
    var writes: [String] = []
    /// Words that are not arguments but may name files: assignment values, `for … in` lists.
    var mentions: [String] = []
    /// Assignments that apply to this command or the shell (`NAME=value` as written): leading ones, `env`'s.
    var assignments: [String] = []
    /// Inside `$(…)`, backquotes or `<(…)`: its output becomes words of another command.
    var substituted = false
}

/// The detailed result the evaluator works from.
struct ShellScript: Sendable, Equatable {
    var commands: [ShellCommand]
    var problems: [String]

    var complete: Bool { problems.isEmpty }
}

/// Static reading of POSIX/bash command lines, for policy decisions. No I/O, no expansion.
public enum ShellParser {
    /// Splits `command` into simple commands. Never fails: what cannot be read confidently (unbalanced
    /// quotes, `eval`, process substitution, a variable as the command name, …) makes the result incomplete.
    public static func parse(_ command: String) -> ShellParse {
        let script = script(command)
        var redirects: [String] = []
        for command in script.commands {
            for target in command.writes where !redirects.contains(target) {
                redirects.append(target)
            }
        }
        // Assignments, loop words and input redirections alone run nothing.
        let commands = script.commands.filter { !$0.argv.isEmpty || !$0.writes.isEmpty }
        return ShellParse(
            commands: commands.map(\.argv), complete: script.complete, redirects: redirects, problems: script.problems)
    }

    static func script(_ command: String, depth: Int = 0) -> ShellScript {
        var reader = ShellReader(command, depth: depth)
        reader.parseList(closer: nil)
        var seen = Set<String>()
        let problems = reader.problems.filter { seen.insert($0).inserted }
        return ShellScript(commands: reader.commands, problems: problems)
    }

    /// System directories whose programs are named by their basename (`/usr/bin/git` is `git`). A
    /// workspace script (`./ls`) keeps its path, so it cannot borrow a read-only command's rule.
    static let systemBinDirectories = [
        "/usr/local/bin/", "/usr/bin/", "/bin/", "/usr/local/sbin/", "/usr/sbin/", "/sbin/", "/opt/homebrew/bin/",
    ]

    static func commandName(_ word: String) -> String {
        guard word.startsWithCharacter(.slash) else { return word }
        for directory in systemBinDirectories where word.hasPrefix(directory) {
            let name = word.dropFirst(directory.count)
            if !name.isEmpty && !name.utf8.contains(.slash) { return String(name) }
        }
        return word
    }
}
