import ArgumentParser
import BosunHostAgent
import Foundation

/// The host helper: one small binary on every supervised host.
struct BosunHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bosun-host",
        abstract: "Bosun's host helper: reports agent threads to the supervisor and launches supervised agents.",
        version: ServeLoop.version,
        subcommands: [Serve.self, Run.self, Status.self]
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

BosunHost.main()
