public import ArgumentParser
import BosunCore
import BosunHostAgent
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The host helper: one small binary on every supervised host.
struct BosunHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bosun-host",
        abstract: "Bosun's host helper: reports agent threads to the supervisor and launches supervised agents.",
        version: BosunVersion.current,
        subcommands: [Serve.self, Run.self, Status.self, Hook.self, InstallHooks.self, Doctor.self]
    )

    @Option(name: .long, help: "Spool directory (default: $BOSUN_HOST_STATE or ~/.local/state/bosun-host).")
    var state: String?

    var spool: Spool { Spool(root: state ?? Spool.defaultRoot()) }

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Speak the host protocol on stdin/stdout (run by bosund over SSH).",
            discussion:
                "The link is given up when nothing comes from the supervisor for the silence timeout (it pings every keepalive_interval), so hooks fall back to the policy snapshot."
        )
        @ParentCommand var options: BosunHost
        @Option(
            help:
                "Seconds without a message from the supervisor before the link is released (default: $BOSUN_SERVE_SILENCE_TIMEOUT, else 3 × bosund's keepalive_interval + 2 s as its welcome says, else 45)."
        )
        var silenceTimeout: Double?

        func validate() throws {
            if let silenceTimeout, !(silenceTimeout > 0 && silenceTimeout.isFinite) {
                throw ValidationError("--silence-timeout must be a positive number of seconds")
            }
        }

        func run() throws {
            let timeout = silenceTimeout ?? ServeLoop.silenceTimeout(environment: ProcessInfo.processInfo.environment)
            let status = try ServeLoop(spool: options.spool, silenceTimeout: timeout).run()
            throw ExitCode(status)
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Launch an agent as a supervised thread.", usage: "bosun-host run [--state DIR] -- <agent argv…>")
        @ParentCommand var options: BosunHost
        @Argument(parsing: .postTerminator, help: "The agent's command line.")
        var argv: [String] = []

        func validate() throws {
            guard !argv.isEmpty else { throw ValidationError("expected the agent's command after --") }
        }

        func run() throws {
            throw ExitCode(try ThreadLauncher(spool: options.spool, argv: argv).run())
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the threads this host's spool knows.")
        @ParentCommand var options: BosunHost
        @Flag(help: "One JSON object per line.") var json = false

        func run() throws {
            print(HostStatus.render(options.spool.readThreads(), json: json), terminator: "")
        }
    }
}

extension BosunHost {
    struct Hook: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Answer one agent hook call (agent JSON on stdin, answer on stdout).",
            discussion: "Deadline and grace: BOSUN_HOOK_DEADLINE, BOSUN_HOOK_UNREACHABLE_GRACE (seconds).")
        @ParentCommand var options: BosunHost
        @Argument(help: "claude or codex.") var agent: HookAgent
        @Option(help: "Answer by this many seconds at the latest (keep under the agent's hook timeout).")
        var deadline: Double?
        @Flag(help: "Only check that the hook can run (spool writable); reads no input, touches no thread.")
        var probe = false

        func run() throws {
            if probe {
                if let problem = BosunHostAgent.Doctor.spoolProblem(options.spool) {
                    StandardStream.writeError("bosun-host hook probe: spool unusable: \(problem)\n")
                    throw ExitCode(1)
                }
                print("\(BosunHostAgent.Doctor.probeAnswer) (spool \(options.spool.root))")
                return
            }
            throw ExitCode(runHook(spool: options.spool, agent: agent, deadline: deadline))
        }
    }

    struct InstallHooks: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install-hooks", abstract: "Write the agent's hook configuration to call bosun-host.")
        @Argument(help: "claude or codex.") var agent: HookAgent
        @Option(help: "user (the agent's home config) or project (the current directory).")
        var scope: HookInstaller.Scope = .user
        @Option(help: "The agent's configuration directory (overrides the scope's default).")
        var configDir: String?
        @Option(help: "Seconds the agent waits for the hook.") var timeout = 300

        func run() throws {
            let executable: String
            do {
                executable = try HookInstaller.resolveExecutable(argv0: CommandLine.arguments.first ?? "")
            } catch {
                StandardStream.writeError("bosun-host: install-hooks: \(error); nothing written\n")
                throw ExitCode(1)
            }
            let command = HookInstaller.hookCommand(executable: executable, agent: agent)
            let installer = HookInstaller(
                agent: agent, scope: scope, configDirectory: configDir, command: command, timeout: timeout)
            for path in try installer.install() { print("wrote \(path)") }
            print("hook command: \(command)")
        }
    }

    struct Doctor: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that agents on this host are supervised: hooks, hook command, spool, link, inotify.",
            discussion: "Exit status 0 when everything works, 1 when something is broken.")
        @ParentCommand var options: BosunHost
        @Flag(help: "One JSON object.") var json = false
        @Option(help: "The project whose .claude/.codex hooks to check (default: the current directory).")
        var project: String?

        func run() throws {
            var doctor = BosunHostAgent.Doctor(spool: options.spool)
            if let project { doctor.projectDirectory = project }
            let report = doctor.run()
            if json {
                print(report.json, terminator: "")
            } else {
                print(report.render(width: TerminalWidth.current()), terminator: "")
            }
            throw ExitCode(report.ok ? 0 : 1)
        }
    }
}

/// The width of the terminal on stdout, else `COLUMNS`, else 80.
enum TerminalWidth {
    static func current() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap({ Int($0) }), columns > 0 {
            return min(columns, 1000)
        }
        return 80
    }
}

extension HookAgent: ExpressibleByArgument {}
extension HookInstaller.Scope: ExpressibleByArgument {}

/// Answers one hook call: agent JSON on stdin, the answer on stdout; returns the exit status.
func runHook(spool: Spool, agent: HookAgent, deadline: Double?) -> Int32 {
    let input = Data(StandardStream.readToEnd())
    let environment = ProcessInfo.processInfo.environment
    var settings = HookSettings(environment: environment)
    if let deadline { settings.deadline = deadline }
    let answer = HookRunner(spool: spool, agent: agent, settings: settings, environment: environment).run(input: input)
    StandardStream.writeOutput(answer.stdout)
    StandardStream.writeError(answer.stderr)
    return answer.exitCode
}

/// The hook command lines `install-hooks` writes (`bosun-host [--state DIR] hook claude|codex
/// [--deadline S]`), recognised without ArgumentParser: the hook runs on every tool call, and
/// ArgumentParser's start-up (type metadata lookups) was ~12 % of its CPU time (issue 10). Any
/// other shape, including help, `--probe` and malformed values, goes through ArgumentParser.
enum HookFastPath {
    struct Call: Equatable {
        var state: String?
        var agent: HookAgent
        var deadline: Double?
    }

    static func parse(_ arguments: [String]) -> Call? {
        var words = arguments[...]
        var state: String?
        if let first = words.first, first == "--state" {
            words = words.dropFirst()
            guard let value = words.first, !value.hasPrefix("-") else { return nil }
            state = value
            words = words.dropFirst()
        } else if let first = words.first, first.hasPrefix("--state=") {
            state = String(first.dropFirst("--state=".count))
            words = words.dropFirst()
        }
        guard words.first == "hook", let name = words.dropFirst().first, let agent = HookAgent(rawValue: name) else {
            return nil
        }
        words = words.dropFirst(2)
        var deadline: Double?
        if words.first == "--deadline" {
            guard let value = words.dropFirst().first.flatMap(Double.init), value.isFinite else { return nil }
            deadline = value
            words = words.dropFirst(2)
        }
        guard words.isEmpty, state.map({ !$0.isEmpty }) ?? true else { return nil }
        return Call(state: state, agent: agent, deadline: deadline)
    }
}

SignalMask.unblockAll()
// `--version` alone, answered as ArgumentParser would but before its start-up (the conformance
// lookups of `String(describing:)` were most of the static helper's 3 ms; issue 10).
if CommandLine.arguments.dropFirst().elementsEqual(["--version"]) {
    StandardStream.writeOutput(BosunVersion.current + "\n")
    exit(0)
}
if let call = HookFastPath.parse(Array(CommandLine.arguments.dropFirst())) {
    exit(runHook(spool: Spool(root: call.state ?? Spool.defaultRoot()), agent: call.agent, deadline: call.deadline))
}
do {
    var command = try BosunHost.parseAsRoot()
    try command.run()
} catch {
    // A usage error exits 2, as in bosun and bosund (argument-parser's own default is 64).
    if BosunHost.exitCode(for: error) == .validationFailure {
        StandardStream.writeError(BosunHost.fullMessage(for: error) + "\n")
        exit(ExitStatus.usage)
    }
    BosunHost.exit(withError: error)
}
