public import ArgumentParser
import BosunClient
import BosunConfig
import BosunCore
import BosunPolicy
import Foundation

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
            FileHandle.standardError.write(Data("bosun: \(problem)\n".utf8))
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
                    directory: (config as NSString).appendingPathComponent("operators"))
                for config in operators {
                    for key in config.keys {
                        let command =
                            "\(bosun) --socket \(ShellWords.quote(Global.socket)) shell --operator \(config.name) --channel \(key.channel)"
                        let escaped = command.replacingOccurrences(of: "\"", with: "\\\"")
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
            guard let config else {
                var argv = ["policy", "explain", "--tool", tool]
                if !command.isEmpty { argv += ["--"] + command }
                return Global.client.run(ControlRequest(argv: argv, width: TerminalSize.width()))
            }
            guard !command.isEmpty else {
                return fail(
                    "usage: bosun policy explain --config DIR [--tool T] -- <command…>", status: ExitStatus.usage)
            }
            do {
                // Examples are checked once per set of policy files (and bosun build), not on every call.
                let policy = try BosunPolicy.Policy.load(
                    directory: (config as NSString).appendingPathComponent("policies"),
                    examples: PolicyExampleCache.defaultCache().map(ExampleChecking.cached) ?? .always)
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
