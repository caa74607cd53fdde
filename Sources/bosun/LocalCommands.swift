public import ArgumentParser
import BosunClient
import BosunConfig
import BosunCore
import BosunPolicy
import FoundationEssentials

/// `bosun check --config DIR`: validates configuration offline.
struct Check: LocalCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate configuration without a daemon.",
        discussion: """
            Validates DIR/bosund.toml, hosts/, policies/ and operators/ without a daemon, and the key files \
            and known_hosts they name. Reports every problem; exit status 78 when any is an error.
            """)

    @Option(help: "Configuration directory.") var config = SupervisorConfig.defaultDirectory

    func status() -> Int32 {
        let directory = config
        let report = SupervisorConfig.check(directory: directory)
        for problem in report.problems {
            StandardStream.writeError("bosun: \(problem)\n")
        }
        if let config = report.config {
            print("\(directory): \(config.hosts.count) host(s): \(config.hosts.map(\.name).joined(separator: ", "))")
            let examples = config.policy.rules.reduce(0) { $0 + $1.examplesMatch.count + $1.examplesNotMatch.count }
            print("\(config.policy.rules.count) policy rule(s), \(examples) example(s) verified")
            print(
                "\(config.operators.count) operator(s), \(config.operators.reduce(0) { $0 + $1.keys.count }) key(s), \(config.operators.reduce(0) { $0 + $1.unixUsers.count }) local account(s)"
            )
        }
        let errors = report.errors.count
        let warnings = report.warnings.count
        guard errors == 0 else {
            print("\(errors) error(s), \(warnings) warning(s): bosund would not run as configured")
            return ExitStatus.configuration
        }
        print(warnings == 0 ? "ok" : "ok with \(warnings) warning(s)")
        return ExitStatus.ok
    }
}

/// `bosun shell [--operator NAME --channel C]`.
struct ShellCommand: LocalCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "The same commands as an interactive shell (line editing, history, Tab completion).",
        discussion: "Reads a command file from stdin when it is not a terminal (# comments and blank lines skipped).")

    @Option(help: "Run as this operator (trusted accounts only; the OpenSSH forced-command front door).")
    var `operator`: String?
    @Option(help: "The operator's channel.") var channel: String?

    func status() -> Int32 {
        LocalShell(
            client: Global.client, operatorName: `operator`, channel: channel, environment: Global.environment
        ).run()
    }
}

/// `bosun completion bash|zsh|fish`.
struct Completion: LocalCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a completion script for bash, zsh or fish.",
        discussion: """
            bash: bosun completion bash > /etc/bash_completion.d/bosun; zsh: bosun completion zsh > "${fpath[1]}/_bosun"; \
            fish: bosun completion fish > ~/.config/fish/completions/bosun.fish. Hosts, threads and request \
            numbers are completed from bosund.
            """)

    @Argument(help: "bash, zsh or fish.") var shell: CompletionShell

    func status() -> Int32 {
        print(BosunCommand.completionScript(for: shell), terminator: "")
        return ExitStatus.ok
    }
}

extension CompletionShell: @retroactive ExpressibleByArgument {}

/// `bosun operators authorized-keys [--config DIR] [--bosun PATH]`.
struct Operators: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Operators (authorized-keys runs here; the rest in bosund).", subcommands: [AuthorizedKeys.self])

    /// authorized_keys lines for the OpenSSH forced-command front door (an alternative to bosund's
    /// own): each operator key may only run `bosun shell` as that operator on that key's channel.
    struct AuthorizedKeys: LocalCommand {
        static let configuration = CommandConfiguration(
            commandName: "authorized-keys",
            abstract: "authorized_keys lines that give each operator key `bosun shell` as that operator.")

        @Option(help: "Configuration directory.") var config = SupervisorConfig.defaultDirectory
        @Option(help: "Path of bosun on this machine.") var bosun = "/usr/local/bin/bosun"

        func status() -> Int32 {
            do {
                let operators = try OperatorConfig.loadAll(
                    directory: Paths.join(config, "operators"))
                for config in operators {
                    for key in config.keys {
                        let command =
                            "\(bosun) --socket \(ShellWords.quote(Global.socket)) shell --operator \(config.name) --channel \(key.channel)"
                        let escaped = command.replacingScalar("\"", with: "\\\"")
                        print("command=\"\(escaped)\",restrict \(key.type) \(key.base64) \(config.name)@\(key.channel)")
                    }
                }
                return ExitStatus.ok
            } catch {
                return fail("\(error)", status: ExitStatus.failure)
            }
        }
    }
}

/// `bosun policy explain --config DIR [--tool T] [--] <command…>`: explains against the files in
/// DIR/policies without a daemon (without --config, bosund explains with its loaded policy).
struct Policy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Explain a command against the policy.", subcommands: [Explain.self])

    struct Explain: LocalCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tier, decision, the deciding rule's file:line, who may approve.",
            discussion: "bosun policy explain [--config DIR] -- git status && git push")

        @Option(help: "Explain against DIR/policies here instead of in bosund.") var config: String?
        @Option(help: "The tool.") var tool = "Bash"
        @Argument(parsing: .captureForPassthrough, help: "The command.") var command: [String] = []

        func status() -> Int32 {
            var command = self.command
            if command.first == "--" { command.removeFirst() }
            return Self.run(config: config, tool: tool, command: command)
        }

        /// `bosun policy explain --config DIR [--tool T] -- <command…>` in its plain spelling, read
        /// without argument-parser (whose start-up, its type-metadata and conformance lookups, was a
        /// quarter of the call's CPU, issue 10): the options once each, values not starting with `-`,
        /// then `--` and a command. Nil for any other spelling, which argument-parser reads as before.
        static func plainArguments(_ argv: [String]) -> (config: String, tool: String, command: [String])? {
            guard argv.count > 2, argv[0] == "policy", argv[1] == "explain" else { return nil }
            var config: String?
            var tool: String?
            var i = 2
            while i < argv.count {
                let word = argv[i]
                if word == "--" {
                    let command = Array(argv[(i + 1)...])
                    // (A command starting with `--` is left to argument-parser's reading of it.)
                    guard let config, let first = command.first, first != "--" else { return nil }
                    return (config, tool ?? "Bash", command)
                }
                var name = word
                var value: String?
                if let equals = word.firstIndex(of: "=") {
                    name = String(word[..<equals])
                    value = String(word[word.index(after: equals)...])
                } else if i + 1 < argv.count {
                    value = argv[i + 1]
                    i += 1
                }
                i += 1
                guard let value, !value.isEmpty, !value.hasPrefix("-") else { return nil }
                switch name {
                case "--config" where config == nil: config = value
                case "--tool" where tool == nil: tool = value
                default: return nil
                }
            }
            return nil
        }

        static func run(config: String?, tool: String, command: [String]) -> Int32 {
            guard let config else {
                var argv = ["policy", "explain", "--tool", tool]
                if !command.isEmpty { argv += ["--"] + command }
                return Global.client.run(ControlRequest(argv: argv, width: TerminalSize.width()))
            }
            guard !command.isEmpty else {
                return fail(
                    "usage: bosun policy explain --config DIR [--tool T] -- <command…>", status: ExitStatus.usage)
            }
            // The two variables the example cache's place depends on, without the whole environment.
            var cacheEnvironment: [String: String] = [:]
            for name in ["XDG_CACHE_HOME", "HOME"] { cacheEnvironment[name] = Global.variable(name) }
            do {
                // Examples are checked once per set of policy files (and bosun build), not on every call.
                let policy = try BosunPolicy.Policy.load(
                    directory: Paths.join(config, "policies"),
                    examples: PolicyExampleCache.defaultCache(environment: cacheEnvironment).map(
                        ExampleChecking.cached)
                        ?? .always)
                let input = PolicyInput(
                    tool: tool, command: ShellWords.commandLine(command), paths: [], agent: .generic, labels: [:])
                var text = policy.explain(input)
                if !text.hasSuffix("\n") { text += "\n" }
                print(text, terminator: "")
                // As the shell's `policy explain`: 0 allow, 1 deny, 2 ask.
                switch policy.evaluate(input).verdict {
                case .allow: return ExitStatus.ok
                case .deny: return 1
                case .ask: return 2
                }
            } catch {
                return fail("\(error)", status: ExitStatus.failure)
            }
        }
    }
}
