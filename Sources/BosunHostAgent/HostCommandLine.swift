import BosunCore
import FoundationEssentials

/// `bosun-host`'s command line, read without ArgumentParser (issue 10): the helper has six
/// subcommands and a handful of options; ArgumentParser was 0.5 MB of the static binary and its
/// start-up (type metadata lookups) ~12 % of a hook's CPU. Bad input is a ``HostUsageError``
/// (exit 2 with the subcommand's usage), never a trap: numbers must be finite and in range.
public enum HostCommand: Sendable, Equatable {
    case version
    /// `--help`, `-h` or `help [SUBCOMMAND]`: the text to print on stdout.
    case help(String)
    case serve(state: String?, silenceTimeout: Double?)
    case run(state: String?, argv: [String])
    case status(state: String?, json: Bool)
    case hook(state: String?, agent: HookAgent, deadline: Double?, probe: Bool)
    case installHooks(agent: HookAgent, scope: HookInstaller.Scope, configDirectory: String?, timeout: Int)
    case doctor(state: String?, json: Bool, project: String?)
    /// Queues a request's changed files for the supervisor (started detached by the hook, after
    /// its answer; not listed in the help).
    case changedFiles(state: String?, request: String, thread: String, repo: String)
}

/// A command line `bosun-host` cannot run: the message and the usage to print on stderr (exit 2).
public struct HostUsageError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public let usage: String

    public var description: String {
        "Error: \(message)\nUsage: \(usage)\n  See 'bosun-host --help' for more information.\n"
    }
}

public enum HostCommandLine {
    /// The longest hook deadline and unreachable grace accepted, in seconds (a day): beyond it a
    /// hook would outlive any agent's timeout, and the number must stay convertible to `Int`.
    public static let maxSeconds = 86_400.0

    struct Subcommand {
        let name: String
        let abstract: String
        let usage: String
        let options: [(String, String)]
    }

    static let subcommands: [Subcommand] = [
        Subcommand(
            name: "serve", abstract: "Speak the host protocol on stdin/stdout (run by bosund over SSH).",
            usage: "bosun-host [--state DIR] serve [--silence-timeout SECONDS]",
            options: [
                (
                    "--silence-timeout SECONDS",
                    "Seconds without a message from the supervisor before the link is released (default: $BOSUN_SERVE_SILENCE_TIMEOUT, else 3 × bosund's keepalive_interval + 2 s as its welcome says, else 45)."
                )
            ]),
        Subcommand(
            name: "run", abstract: "Launch an agent as a supervised thread.",
            usage: "bosun-host [--state DIR] run -- <agent argv…>", options: []),
        Subcommand(
            name: "status", abstract: "List the threads this host's spool knows.",
            usage: "bosun-host [--state DIR] status [--json]", options: [("--json", "One JSON object per line.")]),
        Subcommand(
            name: "hook", abstract: "Answer one agent hook call (agent JSON on stdin, answer on stdout).",
            usage: "bosun-host [--state DIR] hook claude|codex [--deadline SECONDS] [--probe]",
            options: [
                (
                    "--deadline SECONDS",
                    "Answer by this many seconds at the latest (keep under the agent's hook timeout; at most a day). Default: $BOSUN_HOOK_DEADLINE, else 270."
                ),
                ("--probe", "Only check that the hook can run (spool writable); reads no input, touches no thread."),
            ]),
        Subcommand(
            name: "install-hooks", abstract: "Write the agent's hook configuration to call bosun-host.",
            usage:
                "bosun-host install-hooks claude|codex [--scope user|project] [--config-dir DIR] [--timeout SECONDS]",
            options: [
                ("--scope user|project", "user (the agent's home config, default) or project (the current directory)."),
                ("--config-dir DIR", "The agent's configuration directory (overrides the scope's default)."),
                ("--timeout SECONDS", "Seconds the agent waits for the hook (default 300)."),
            ]),
        Subcommand(
            name: "doctor",
            abstract: "Check that agents on this host are supervised: hooks, hook command, spool, link, inotify.",
            usage: "bosun-host [--state DIR] doctor [--json] [--project DIR]",
            options: [
                ("--json", "One JSON object."),
                ("--project DIR", "The project whose .claude/.codex hooks to check (default: the current directory)."),
            ]),
    ]

    static let rootUsage = "bosun-host [--state DIR] <subcommand>"

    /// The help text: the whole tool's, or one subcommand's.
    public static func help(_ name: String?) -> String {
        if let name, let command = subcommands.first(where: { $0.name == name }) {
            var text = "OVERVIEW: \(command.abstract)\n\nUSAGE: \(command.usage)\n\nOPTIONS:\n"
            text +=
                "  --state DIR             Spool directory (default: $BOSUN_HOST_STATE or ~/.local/state/bosun-host).\n"
            for (option, help) in command.options { text += "  \(option)\n        \(help)\n" }
            text += "  -h, --help              Show help information.\n"
            return text
        }
        var text = """
            OVERVIEW: Bosun's host helper: reports agent threads to the supervisor and launches supervised agents.

            USAGE: \(rootUsage)

            OPTIONS:
              --state DIR             Spool directory (default: $BOSUN_HOST_STATE or ~/.local/state/bosun-host).
              --version               Show the version.
              -h, --help              Show help information.

            SUBCOMMANDS:

            """
        for command in subcommands {
            text += "  " + command.name.padding(toLength: 15) + " " + command.abstract + "\n"
        }
        text += "\n  See 'bosun-host help <subcommand>' for detailed help.\n"
        return text
    }

    /// Reads the arguments after the program name.
    public static func parse(_ arguments: [String]) throws(HostUsageError) -> HostCommand {
        var words = arguments[...]
        var state: String?
        var subcommand: String?
        var rest: [String] = []
        var terminated: [String]?
        var wantsHelp = false
        // One pass: `--state` and `--help` anywhere before `--`, the first other word names the subcommand.
        while let word = words.popFirst() {
            if word == "--" {
                terminated = Array(words)
                break
            }
            if word == "--help" || word == "-h" {
                wantsHelp = true
            } else if word == "--state" || word.hasPrefix("--state=") {
                state = try value(of: word, "--state", from: &words, usage: usage(subcommand))
                guard state?.isEmpty == false else {
                    throw HostUsageError(message: "--state needs a directory", usage: usage(subcommand))
                }
            } else if subcommand == nil, !word.hasPrefix("-") {
                subcommand = word
            } else {
                rest.append(word)
            }
        }
        if subcommand == "help" {
            guard terminated == nil, rest.count <= 1 else {
                throw HostUsageError(message: "help takes one subcommand name", usage: "bosun-host help [subcommand]")
            }
            if let topic = rest.first, !subcommands.contains(where: { $0.name == topic }) {
                throw HostUsageError(message: "Unknown subcommand '\(topic)'", usage: rootUsage)
            }
            return .help(help(rest.first))
        }
        if wantsHelp { return .help(help(subcommand)) }
        guard let name = subcommand else {
            if rest == ["--version"], terminated == nil, state == nil { return .version }
            throw HostUsageError(
                message: rest.first.map { "Unknown option '\($0)'" } ?? "Missing expected argument '<subcommand>'",
                usage: rootUsage)
        }
        if name == "changed-files" {
            guard terminated == nil, rest.count == 3, !rest.contains(where: { $0.hasPrefix("-") }) else {
                throw HostUsageError(
                    message: "changed-files takes a request id, a thread id and a repository",
                    usage: "bosun-host [--state DIR] changed-files REQUEST THREAD REPO")
            }
            return .changedFiles(state: state, request: rest[0], thread: rest[1], repo: rest[2])
        }
        guard subcommands.contains(where: { $0.name == name }) else {
            throw HostUsageError(message: "Unknown subcommand '\(name)'", usage: rootUsage)
        }
        if name != "run", let terminated {
            // `--` is only for `run`; elsewhere what follows it would be positional.
            rest += terminated
        }
        var options = Options(words: rest, usage: usage(name))
        switch name {
        case "serve":
            let timeout = try options.double("--silence-timeout")
            try options.finish(positionals: 0)
            if let timeout, !(timeout > 0 && timeout.isFinite) {
                throw HostUsageError(
                    message: "--silence-timeout must be a positive number of seconds", usage: usage(name))
            }
            return .serve(state: state, silenceTimeout: timeout)
        case "run":
            try options.finish(positionals: 0)
            guard let argv = terminated, !argv.isEmpty else {
                throw HostUsageError(message: "expected the agent's command after --", usage: usage(name))
            }
            return .run(state: state, argv: argv)
        case "status":
            let json = options.flag("--json")
            try options.finish(positionals: 0)
            return .status(state: state, json: json)
        case "hook":
            let deadline = try options.double("--deadline")
            let probe = options.flag("--probe")
            let agent = try options.agent()
            if let deadline, !(deadline > 0 && deadline <= maxSeconds) {
                throw HostUsageError(
                    message: "--deadline must be a number of seconds above 0 and at most \(Int(maxSeconds))",
                    usage: usage(name))
            }
            return .hook(state: state, agent: agent, deadline: deadline, probe: probe)
        case "install-hooks":
            let scopeText = try options.value("--scope")
            let configDirectory = try options.value("--config-dir")
            let timeoutText = try options.value("--timeout")
            let agent = try options.agent()
            var scope = HookInstaller.Scope.user
            if let scopeText {
                guard let parsed = HookInstaller.Scope(rawValue: scopeText) else {
                    throw HostUsageError(
                        message: "The value '\(scopeText)' is invalid for '--scope' (user or project)",
                        usage: usage(name))
                }
                scope = parsed
            }
            var timeout = 300
            if let timeoutText {
                guard let parsed = Int(timeoutText), parsed > 0, parsed <= Int(maxSeconds) else {
                    throw HostUsageError(
                        message: "--timeout must be a whole number of seconds from 1 to \(Int(maxSeconds))",
                        usage: usage(name))
                }
                timeout = parsed
            }
            return .installHooks(agent: agent, scope: scope, configDirectory: configDirectory, timeout: timeout)
        default:  // doctor
            let json = options.flag("--json")
            let project = try options.value("--project")
            try options.finish(positionals: 0)
            return .doctor(state: state, json: json, project: project)
        }
    }

    static func usage(_ subcommand: String?) -> String {
        subcommands.first { $0.name == subcommand }?.usage ?? rootUsage
    }

    /// The value of `--name VALUE` or `--name=VALUE`.
    static func value(
        of word: String, _ name: String, from words: inout ArraySlice<String>, usage: String
    ) throws(HostUsageError) -> String {
        if word.hasPrefix(name + "=") { return String(word.dropFirst(name.count + 1)) }
        guard let next = words.first, next != "--" else {
            throw HostUsageError(message: "Missing value for '\(name)'", usage: usage)
        }
        words = words.dropFirst()
        return next
    }

    /// A subcommand's words, taken option by option; what is left must be positionals.
    struct Options {
        var words: [String]
        let usage: String

        mutating func flag(_ name: String) -> Bool {
            guard let index = words.firstIndex(of: name) else { return false }
            words.remove(at: index)
            return true
        }

        mutating func value(_ name: String) throws(HostUsageError) -> String? {
            guard let index = words.firstIndex(where: { $0 == name || $0.hasPrefix(name + "=") }) else { return nil }
            var slice = words[(index + 1)...]
            let found = try HostCommandLine.value(of: words[index], name, from: &slice, usage: usage)
            words.removeSubrange(index..<(words.count - slice.count))
            if words.contains(where: { $0 == name || $0.hasPrefix(name + "=") }) {
                throw HostUsageError(message: "'\(name)' given more than once", usage: usage)
            }
            return found
        }

        mutating func double(_ name: String) throws(HostUsageError) -> Double? {
            guard let text = try value(name) else { return nil }
            guard let number = Double(text), number.isFinite else {
                throw HostUsageError(message: "The value '\(text)' is invalid for '\(name)'", usage: usage)
            }
            return number
        }

        /// The one positional, `claude` or `codex`.
        mutating func agent() throws(HostUsageError) -> HookAgent {
            try finish(positionals: 1)
            guard let word = words.first else {
                throw HostUsageError(message: "Missing expected argument '<agent>' (claude or codex)", usage: usage)
            }
            guard let agent = HookAgent(rawValue: word) else {
                throw HostUsageError(
                    message: "The value '\(word)' is invalid for '<agent>' (claude or codex)", usage: usage)
            }
            return agent
        }

        /// Refuses unknown options and more than `positionals` other words.
        func finish(positionals: Int) throws(HostUsageError) {
            if let unknown = words.first(where: { $0.hasPrefix("-") && $0 != "-" }) {
                throw HostUsageError(message: "Unknown option '\(unknown)'", usage: usage)
            }
            if words.count > positionals {
                throw HostUsageError(message: "Unexpected argument '\(words[positionals])'", usage: usage)
            }
        }
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
