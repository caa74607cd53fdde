/// Splits what a simple command does besides running its program into parts of their own, so rules see
/// them: program-running options and configuration become a part each (`git -c core.pager=…` →
/// `git -c core.pager=…`, `sed -n '1e id'` → `sed e id` plus the commands of `id`), and environment
/// assignments become a part each (`LD_PRELOAD=x ls` → `LD_PRELOAD=x`). It also removes what only
/// changes where a program works, so rules match the subcommand: git's global options before the
/// subcommand (`git -C dir --no-pager push` → `git push`) and gh's `-R/--repo` (`gh -R o/r pr merge` →
/// `gh pr merge`); `gh api`'s method is spelled one way (`-XPUT`, `--method=put` → `--method PUT`, and
/// `-f`/`--input` without a method → `--method POST`).
enum ProgramParts {
    /// Whether `expand(command)` is `[command]` itself: no assignment, and a program `expand` does not
    /// look into (most commands; the caller then makes no array and no copy of it).
    static func isPlain(_ command: ShellCommand) -> Bool {
        guard command.assignments.isEmpty else { return false }
        guard let name = command.argv.first, let first = name.utf8.first else { return true }
        // By first byte, then the names starting with it (ASCII names no other character is canonically
        // equivalent to: a word equal to one starts with its byte).
        switch first {
        case UInt8(ascii: "g"): return name != "git" && name != "gh"
        case UInt8(ascii: "s"): return name != "sed"
        case UInt8(ascii: "p"): return name != "ps"
        case UInt8(ascii: "e"): return name != "export"
        case UInt8(ascii: "d"): return name != "declare"
        case UInt8(ascii: "t"): return name != "typeset"
        case UInt8(ascii: "l"): return name != "local"
        case UInt8(ascii: "r"): return name != "readonly"
        default: return true
        }
    }

    /// The parts `command` stands for: its (normalised) self, then the parts split out of it.
    static func expand(_ command: ShellCommand) -> [ShellCommand] {
        var main = command
        var extra: [ShellCommand] = []
        for assignment in command.assignments { extra.append(assignmentPart(assignment)) }
        main.assignments = []
        switch command.argv.first {
        case "git":
            return git(main) + extra
        case "gh":
            main.argv = gh(main.argv)
        case "sed":
            extra += sed(main.argv)
        case "ps":
            if showsEnvironment(main.argv) { extra.append(ShellCommand(argv: ["ps", "e"])) }
        case "export", "declare", "typeset", "local", "readonly":
            for word in main.argv.dropFirst() where !word.hasPrefix("-") && isAssignment(word) {
                extra.append(assignmentPart(word))
            }
        default:
            break
        }
        return [main] + extra
    }

    private static func assignmentPart(_ word: String) -> ShellCommand {
        ShellCommand(argv: [word], mentions: [ShellReader.assignedValue(word)])
    }

    private static func isAssignment(_ word: String) -> Bool {
        guard let equals = word.firstIndex(of: "=") else { return false }
        var name = word[..<equals]
        if name.hasSuffix("+") { name = name.dropLast() }
        return ShellReader.isName(name.utf8)
    }

    // MARK: - git

    /// git's global options that take the next word as their value (`-C dir`, `--git-dir dir`).
    private static let gitValueOptions: Set<String> = [
        "-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env", "--attr-source",
    ]
    /// git's global options that change nothing a rule cares about.
    private static let gitPlainOptions: Set<String> = [
        "-p", "--paginate", "-P", "--no-pager", "--bare", "--literal-pathspecs", "--glob-pathspecs",
        "--noglob-pathspecs", "--icase-pathspecs", "--no-optional-locks", "--no-replace-objects", "--no-lazy-fetch",
        "--no-advice",
    ]

    /// `git [global options] [alias] subcommand …`: the subcommand with its own words, then a part per
    /// option that runs programs or reads another repository (`git -c key=value`, `git --git-dir dir`,
    /// `git --config-env name=var`, `git --exec-path=dir`; an unknown option is kept as `git OPTION`).
    /// An alias defined with `-c alias.NAME=…` is replaced by its definition; a `!` alias by its commands.
    private static func git(_ command: ShellCommand, aliases inherited: [String: String] = [:], depth: Int = 0)
        -> [ShellCommand]
    {
        let argv = command.argv
        var options: [ShellCommand] = []
        var aliases = inherited
        var i = 1
        while i < argv.count, argv[i].hasPrefix("-"), argv[i] != "--version", argv[i] != "--help" {
            var word = argv[i]
            var value: String?
            if let equals = word.firstIndex(of: "="), word.hasPrefix("--") {
                value = String(word[word.index(after: equals)...])
                word = String(word[..<equals])
                i += 1
            } else if gitValueOptions.contains(word) {
                value = i + 1 < argv.count ? argv[i + 1] : ""
                i += 2
            } else {
                i += 1
            }
            switch word {
            case _ where gitPlainOptions.contains(word):
                continue
            case "-C":
                // The repository git reads (config, attributes, hooks) is where it runs.
                // A directory only known at run time may be any repository.
                let directory = value ?? ""
                let known = !directory.utf8.contains(where: { $0 == .dollar || $0 == .backquote })
                options.append(
                    ShellCommand(
                        argv: ["git", "-C", known ? directory : PathForm.unknownDirectory],
                        mentions: [known ? directory : PathForm.unknownDirectory]))
            case "-c":
                let setting = value ?? ""
                options.append(
                    ShellCommand(argv: ["git", "-c", setting], mentions: [ShellReader.assignedValue(setting)]))
                if setting.lowercased().hasPrefix("alias.") {
                    let rest = setting.dropFirst("alias.".count)
                    if let equals = rest.firstIndex(of: "=") {
                        aliases[rest[..<equals].lowercased()] = String(rest[rest.index(after: equals)...])
                    }
                }
            case "--exec-path" where value == nil:
                // `git --exec-path` alone prints the directory.
                continue
            default:
                options.append(
                    ShellCommand(argv: ["git", word] + (value.map { [$0] } ?? []), mentions: value.map { [$0] } ?? []))
            }
        }
        var main = command
        main.argv = ["git"] + argv[min(i, argv.count)...]
        guard main.argv.count > 1, let definition = aliases[main.argv[1].lowercased()] else { return [main] + options }
        guard depth < 8 else { return [main, ShellCommand(argv: ["git", "-c", "alias loop"])] + options }
        if definition.hasPrefix("!") {
            // A shell alias: `sh -c 'definition "$@"' alias args…`.
            var commands = ShellParser.script(String(definition.dropFirst()), depth: 1).commands
            if commands.isEmpty { commands = [ShellCommand(argv: ["sh", "-c", String(definition.dropFirst())])] }
            commands[0].reads += main.reads
            commands[0].writes += main.writes
            commands[0].mentions += main.mentions + Array(main.argv.dropFirst(2))
            return commands.flatMap(expand) + options
        }
        // The definition's words replace the alias, and may themselves start with global options.
        let words = definition.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        main.argv = ["git"] + words + main.argv.dropFirst(2)
        return git(main, aliases: aliases, depth: depth + 1) + options
    }

    // MARK: - gh

    /// Removes `-R/--repo OWNER/REPO` and spells `gh api`'s method one way.
    static func gh(_ input: [String]) -> [String] {
        var argv: [String] = []
        var i = 0
        while i < input.count {
            let word = input[i]
            if word == "--" {
                argv += input[i...]
                break
            }
            if word == "-R" || word == "--repo" {
                i += 2
                continue
            }
            if word.hasPrefix("--repo=") || (word.hasPrefix("-R") && word.count > 2) {
                i += 1
                continue
            }
            argv.append(word)
            i += 1
        }
        guard argv.count > 1, argv[1] == "api" else { return argv }
        return ghAPI(argv)
    }

    /// `gh api …` with every method option removed and, unless the request is a GET (or HEAD),
    /// `--method METHOD` after `api`. Fields (`-f`, `-F`, `--field`, `--raw-field`) and `--input` make a
    /// POST when no method is given; a GraphQL request is a read unless a field holds a mutation or
    /// comes from a file.
    private static func ghAPI(_ argv: [String]) -> [String] {
        var rest: [String] = []
        var method: String?
        var hasBody = false
        var mutation = false
        var endpoint: String?
        var i = 2
        func field(_ value: String) {
            hasBody = true
            let text = ShellReader.assignedValue(value)
            if text.lowercased().contains("mutation") || text.hasPrefix("@") { mutation = true }
        }
        while i < argv.count {
            let word = argv[i]
            let next = i + 1 < argv.count ? argv[i + 1] : ""
            switch word {
            case "-X", "--method":
                method = next
                i += 2
                continue
            case "-f", "-F", "--field", "--raw-field":
                field(next)
                rest += [word, next]
                i += 2
                continue
            case "--input":
                hasBody = true
                mutation = true
                rest += [word, next]
                i += 2
                continue
            default:
                break
            }
            if word.hasPrefix("--method=") {
                method = String(word.dropFirst("--method=".count))
            } else if word.hasPrefix("-X") {
                method = String(word.dropFirst(2).drop { $0 == "=" })
            } else {
                if word.hasPrefix("--field=") || word.hasPrefix("--raw-field=") {
                    field(String(word.drop { $0 != "=" }.dropFirst()))
                } else if word.hasPrefix("--input=") {
                    hasBody = true
                    mutation = true
                } else if (word.hasPrefix("-f") || word.hasPrefix("-F")) && word.count > 2 {
                    field(String(word.dropFirst(2)))
                } else if !word.hasPrefix("-") && endpoint == nil {
                    endpoint = word
                }
                rest.append(word)
            }
            i += 1
        }
        var effective = method?.uppercased()
        if effective == nil && hasBody {
            let graphQL = endpoint == "graphql" || endpoint == "/graphql"
            effective = graphQL && !mutation ? nil : "POST"
        }
        guard let effective, effective != "GET", effective != "HEAD" else { return ["gh", "api"] + rest }
        return ["gh", "api", "--method", effective] + rest
    }

    // MARK: - ps

    /// Options of ps that take the next word as their value.
    private static let psValueOptions: Set<String> = [
        "-C", "-G", "-U", "-g", "-p", "-q", "-s", "-t", "-u", "-o", "-O", "-k", "-N",
        "--pid", "--ppid", "--sid", "--tty", "--user", "--User", "--group", "--Group", "--format", "--sort", "--cols",
        "--columns", "--rows", "--width",
    ]

    /// Whether `ps` shows processes' environments: a BSD-style option word with `e` (`ps auxeww`, `ps e`),
    /// or `-E` (macOS).
    static func showsEnvironment(_ argv: [String]) -> Bool {
        var i = 1
        while i < argv.count {
            let word = argv[i]
            if psValueOptions.contains(word) {
                i += 2
                continue
            }
            if word.hasPrefix("--") {
                i += 1
                continue
            }
            if word.hasPrefix("-") {
                if word.contains("E") { return true }
            } else if word.contains("e") {
                return true
            }
            i += 1
        }
        return false
    }
}
