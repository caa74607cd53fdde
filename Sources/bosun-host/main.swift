import ArgumentParser
import BosunCore
import BosunHostAgent
import Foundation

/// The host helper: one small binary on every supervised host.
struct BosunHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bosun-host",
        abstract: "Bosun's host helper: reports agent threads to the supervisor and launches supervised agents.",
        version: ServeLoop.version,
        subcommands: [Serve.self, Run.self, Status.self, Hook.self, InstallHooks.self]
    )

    @Option(name: .long, help: "Spool directory (default: $BOSUN_HOST_STATE or ~/.local/state/bosun-host).")
    var state: String?

    var spool: Spool { Spool(root: state ?? Spool.defaultRoot()) }

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Speak the host protocol on stdin/stdout (run by bosund over SSH).")
        @ParentCommand var options: BosunHost

        func run() throws {
            let status = try ServeLoop(spool: options.spool).run()
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

        func run() throws {
            let input = FileHandle.standardInput.readDataToEndOfFile()
            let environment = ProcessInfo.processInfo.environment
            var settings = HookSettings(environment: environment)
            if let deadline { settings.deadline = deadline }
            let answer = HookRunner(spool: options.spool, agent: agent, settings: settings, environment: environment)
                .run(input: input)
            FileHandle.standardOutput.write(Data(answer.stdout.utf8))
            FileHandle.standardError.write(Data(answer.stderr.utf8))
            throw ExitCode(answer.exitCode)
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
            let executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
            let installer = HookInstaller(
                agent: agent, scope: scope, configDirectory: configDir,
                command: "\(executable) hook \(agent.rawValue)", timeout: timeout)
            for path in try installer.install() { print("wrote \(path)") }
        }
    }
}

extension HookAgent: ExpressibleByArgument {}
extension HookInstaller.Scope: ExpressibleByArgument {}

SignalMask.unblockAll()
BosunHost.main()
