extension ShellReader {
    static let shells: Set<String> = ["bash", "sh", "zsh", "dash", "ksh", "ash", "mksh"]
    /// No longer name is in `shells`: most command names are rejected without hashing them.
    static let longestShell = shells.map(\.utf8.count).max() ?? 0

    /// Turns one simple command's words into the commands that actually run: leading assignments are
    /// dropped, wrappers (`env`, `sudo`, `nohup`, `time`, `nice`, `timeout`, `xargs`, …) are peeled off,
    /// `bash -c` scripts and `eval` arguments are read, and `find -exec` commands are split out.
    /// `sudo`/`doas` stay visible as a command of their own (so policy sees the change of user), and
    /// `xargs`/`find -exec` stay whole (so policy sees `xargs rm` and `find … -exec rm`).
    /// Assignment values become the first command's `mentions` (they may name files used later).
    mutating func unwrap(_ input: ArraySlice<ShellWord>, hops: Int = 0) -> [ShellCommand] {
        var words = input
        var mentions: [String] = []
        var assignments: [String] = []
        while let first = words.first, first.assignment {
            mentions.append(Self.assignedValue(first.text))
            assignments.append(first.text)
            words.removeFirst()
        }
        var commands = words.isEmpty ? [] : unwrapCommand(words, hops: hops)
        if !mentions.isEmpty {
            if commands.isEmpty { commands = [ShellCommand(argv: [])] }
            commands[0].mentions += mentions
            commands[0].assignments = assignments + commands[0].assignments
        }
        return commands
    }

    static func assignedValue(_ word: String) -> String {
        guard let equals = word.firstIndex(of: "=") else { return word }
        return String(word[word.index(after: equals)...])
    }

    private mutating func unwrapCommand(_ words: ArraySlice<ShellWord>, hops: Int) -> [ShellCommand] {
        guard let first = words.first else { return [] }
        let start = words.startIndex
        var argv = words.map(\.text)
        argv[0] = ShellParser.commandName(first.text)
        if first.expanded { problems.append("the command name is not literal (\(first.text))") }
        guard hops < 16 else {
            problems.append("too many wrapper commands")
            return [ShellCommand(argv: argv)]
        }
        // Most commands are no wrapper: known without comparing the name with each case below.
        guard Self.mayBeWrapper(argv[0]) else { return [ShellCommand(argv: argv)] }
        func inner(from offset: Int) -> ArraySlice<ShellWord> { words[(start + offset)...] }

        switch argv[0] {
        case "env":
            var i = Self.operandIndex(argv, from: 1, short: "uCS", long: ["--unset", "--chdir", "--split-string"])
            if argv[1..<i].contains(where: { $0.hasPrefix("-S") || $0.hasPrefix("--split-string") }) {
                problems.append("env -S")
            }
            if !Self.optionValues(argv[1..<i], short: "C", long: "--chdir").isEmpty {
                // The command's relative paths lead somewhere this reading does not follow.
                problems.append("env --chdir")
            }
            var mentions: [String] = []
            var assignments: [String] = []
            while i < argv.count && argv[i].utf8.contains(.equals) && !argv[i].hasPrefix("-") {
                mentions.append(Self.assignedValue(argv[i]))
                assignments.append(argv[i])
                i += 1
            }
            var commands = i < argv.count ? unwrap(inner(from: i), hops: hops + 1) : [ShellCommand(argv: argv)]
            if commands.isEmpty { commands = [ShellCommand(argv: [])] }
            commands[0].mentions += mentions
            commands[0].assignments = assignments + commands[0].assignments
            return commands
        case "sudo", "doas":
            var i = Self.operandIndex(
                argv, from: 1, short: "ughpCDrtTUR",
                long: [
                    "--user", "--group", "--host", "--prompt", "--close-from", "--chdir", "--role", "--type",
                    "--command-timeout", "--other-user", "--chroot",
                ])
            while i < argv.count && words[start + i].assignment { i += 1 }
            guard i < argv.count else { return [ShellCommand(argv: argv)] }
            return [ShellCommand(argv: Array(argv[..<i]))] + unwrap(inner(from: i), hops: hops + 1)
        case "nohup", "builtin", "setsid":
            return unwrapOperand(argv, Self.operandIndex(argv, from: 1), inner, hops)
        case "exec":
            let i = Self.operandIndex(argv, from: 1, short: "a")
            return i < argv.count ? unwrap(inner(from: i), hops: hops + 1) : []
        case "command":
            if argv.count > 1 && (argv[1] == "-v" || argv[1] == "-V") { return [ShellCommand(argv: argv)] }
            return unwrapOperand(argv, Self.operandIndex(argv, from: 1), inner, hops)
        case "time":
            let i = Self.operandIndex(argv, from: 1, short: "fo", long: ["--format", "--output"])
            var commands = unwrapOperand(argv, i, inner, hops)
            // GNU time -o FILE writes its report there.
            let outputs = Self.optionValues(argv[1..<min(i, argv.count)], short: "o", long: "--output")
            if !outputs.isEmpty {
                if commands.isEmpty { commands = [ShellCommand(argv: [])] }
                commands[0].writes += outputs
            }
            return commands
        case "nice":
            return unwrapOperand(
                argv, Self.operandIndex(argv, from: 1, short: "n", long: ["--adjustment"]), inner, hops)
        case "timeout":
            let i = Self.operandIndex(argv, from: 1, short: "sk", long: ["--signal", "--kill-after"])
            return unwrapOperand(argv, i + 1, inner, hops)
        case "stdbuf":
            return unwrapOperand(
                argv, Self.operandIndex(argv, from: 1, short: "ioe", long: ["--input", "--output", "--error"]), inner,
                hops)
        case "ionice":
            return unwrapOperand(argv, Self.operandIndex(argv, from: 1, short: "cnP"), inner, hops)
        case "xargs":
            let i = Self.operandIndex(
                argv, from: 1, short: "ILnPsdEa",
                long: ["--max-args", "--max-procs", "--max-chars", "--delimiter", "--arg-file", "--max-lines"])
            guard i < argv.count else { return [ShellCommand(argv: argv)] }
            return [ShellCommand(argv: argv)] + unwrap(inner(from: i), hops: hops + 1)
        case "eval":
            problems.append("eval")
            return nested(argv.dropFirst().joined(separator: " "))
        case "find":
            return unwrapFind(argv, words, hops)
        case let name where name.utf8.count <= Self.longestShell && Self.shells.contains(name):
            return unwrapShell(argv, words, hops)
        default:
            return [ShellCommand(argv: argv)]
        }
    }

    /// The names `unwrapCommand`'s switch unwraps besides `shells`.
    static let wrapperNames = [
        "env", "sudo", "doas", "nohup", "builtin", "setsid", "exec", "command", "time", "nice", "timeout", "stdbuf",
        "ionice", "xargs", "eval", "find",
    ]

    /// Per ASCII first byte, a bit per length (in bytes) of the names `unwrapCommand` unwraps
    /// (`wrapperNames` and `shells`: ASCII letters, 2 to 7 of them).
    private static let wrapperShapes: [UInt16] = {
        var shapes = [UInt16](repeating: 0, count: 128)
        for name in wrapperNames + shells.sorted() {
            let bytes = Array(name.utf8)
            if let first = bytes.first, first < 128, bytes.count < 16 {
                shapes[Int(first)] |= 1 &<< UInt16(bytes.count)
            }
        }
        return shapes
    }()

    /// False when `name` is none of the names `unwrapCommand` unwraps: a string equal to one of them
    /// has its very bytes (ASCII letters no other character is canonically equivalent to), so its first
    /// byte and length are one of theirs.
    static func mayBeWrapper(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard let first = utf8.first, first < 128, utf8.count < 16 else { return false }
        return wrapperShapes[Int(first)] & (1 &<< UInt16(utf8.count)) != 0
    }

    private mutating func unwrapOperand(
        _ argv: [String], _ operand: Int, _ inner: (Int) -> ArraySlice<ShellWord>, _ hops: Int
    ) -> [ShellCommand] {
        operand < argv.count ? unwrap(inner(operand), hops: hops + 1) : [ShellCommand(argv: argv)]
    }

    /// `bash -c 'script'` (also `-lc`, `-ec`, `-o pipefail -c`, …): the script's commands; without
    /// `-c` the shell itself is the command (a script file or stdin).
    private mutating func unwrapShell(_ argv: [String], _ words: ArraySlice<ShellWord>, _ hops: Int) -> [ShellCommand] {
        var i = 1
        var command = false
        while i < argv.count {
            let word = argv[i]
            if word == "--" || word == "-" {
                i += 1
                break
            }
            if word.hasPrefix("--") {
                i += word == "--rcfile" || word == "--init-file" ? 2 : 1
                continue
            }
            guard (word.hasPrefix("-") || word.hasPrefix("+")) && word.count > 1 else { break }
            let letters = word.dropFirst()
            if letters.contains("c") { command = true }
            i += letters.contains("o") || letters.contains("O") ? 2 : 1
        }
        guard command else { return [ShellCommand(argv: argv)] }
        guard i < argv.count else {
            problems.append("\(argv[0]) -c without a script")
            return []
        }
        return nested(words[words.startIndex + i].text)
    }

    /// `find … -exec cmd … ;` is the find itself (whole, so policy can see `-exec rm`) plus each exec'd command.
    private mutating func unwrapFind(_ argv: [String], _ words: ArraySlice<ShellWord>, _ hops: Int) -> [ShellCommand] {
        var executed: [ShellCommand] = []
        var i = 1
        while i < argv.count {
            let word = argv[i]
            guard word == "-exec" || word == "-execdir" || word == "-ok" || word == "-okdir" else {
                i += 1
                continue
            }
            var end = i + 1
            while end < argv.count && argv[end] != ";" && argv[end] != "+" { end += 1 }
            if end >= argv.count { problems.append("find \(word) without ';' or '+'") }
            let start = words.startIndex
            executed += unwrap(words[(start + i + 1)..<(start + min(end, argv.count))], hops: hops + 1)
            i = end + 1
        }
        return [ShellCommand(argv: argv)] + executed
    }

    /// The values given to one option among `options` (`-o FILE`, `-oFILE`, `--output FILE`, `--output=FILE`).
    static func optionValues(_ options: ArraySlice<String>, short: Character, long: String) -> [String] {
        var values: [String] = []
        var i = options.startIndex
        while i < options.endIndex {
            let word = options[i]
            let next = i + 1 < options.endIndex ? options[i + 1] : nil
            if word == long || word == "-\(short)" {
                if let next { values.append(next) }
                i += 2
                continue
            }
            if word.hasPrefix(long + "=") {
                values.append(String(word.dropFirst(long.count + 1)))
            } else if !word.hasPrefix("--"), word.hasPrefix("-"), let position = word.dropFirst().firstIndex(of: short)
            {
                let value = word[word.index(after: position)...]
                if value.isEmpty, let next {
                    values.append(next)
                    i += 1
                } else if !value.isEmpty {
                    values.append(String(value))
                }
            }
            i += 1
        }
        return values
    }

    /// The index of the first operand in `argv[from...]`, skipping options. `short` lists the option
    /// letters that take a value (attached or as the next word), `long` the long options that take
    /// the next word as their value.
    static func operandIndex(_ argv: [String], from: Int, short: String = "", long: Set<String> = []) -> Int {
        var i = from
        while i < argv.count {
            let word = argv[i]
            if word == "--" { return i + 1 }
            if word.hasPrefix("--") {
                i += word.utf8.contains(.equals) || !long.contains(word) ? 1 : 2
                continue
            }
            guard word.hasPrefix("-"), word.count > 1 else { return i }
            var step = 1
            let letters = word.dropFirst()
            if let position = letters.firstIndex(where: { short.contains($0) }) {
                if letters.index(after: position) == letters.endIndex { step = 2 }
            }
            i += step
        }
        return i
    }
}
