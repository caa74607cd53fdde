import ArgumentParser
import BosunClient
import BosunCore
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Settings every `bosun` command shares (from `--socket` or `BOSUN_SOCKET`).
enum Global {
    nonisolated(unsafe) static var socket = ControlProtocol.defaultSocket
    /// The process's environment, read when first used: `policy explain --config` reads its two
    /// variables alone (building the whole dictionary was ~2 % of that call's CPU, issue 10).
    static let environment: [String: String] = ProcessInfo.processInfo.environment

    /// One environment variable, without reading the others.
    static func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    static var client: ControlClient { ControlClient(path: socket) }
}

/// A `bosun` command that runs here and returns its exit status.
protocol LocalCommand: ParsableCommand {
    func status() throws -> Int32
}

/// The root of `bosun`'s command tree.
struct BosunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bosun",
        abstract: "Supervise coding agents across hosts (a client of bosund's control socket).",
        discussion: """
            Commands other than check, shell, completion, operators authorized-keys and \
            policy explain --config run inside bosund. Exit status: 0 ok, 1 failure, 2 usage, 3 partial, \
            69 bosund unreachable, 77 not allowed, 78 configuration error.
            """,
        version: BosunVersion.current,
        subcommands: [Check.self, ShellCommand.self, Completion.self, Operators.self, Policy.self] + RemoteCommands.all
    )

    @Option(help: "bosund's control socket (also BOSUN_SOCKET).") var socket: String?

    /// Runs `bosun ARGUMENTS` and returns the exit status.
    static func main(arguments: [String]) -> Int32 {
        Global.socket = Global.variable("BOSUN_SOCKET") ?? ControlProtocol.defaultSocket
        var argv = arguments
        while let first = argv.first, first.hasPrefix("--socket") {
            argv.removeFirst()
            if first.hasPrefix("--socket=") {
                Global.socket = String(first.dropFirst("--socket=".count))
            } else if let value = argv.first {
                Global.socket = value
                argv.removeFirst()
            } else {
                return fail("--socket expects a path", status: ExitStatus.usage)
            }
        }
        guard isLocal(argv) else {
            // The bare command and `--help` show bosund's help, which lists every command.
            return Global.client.run(
                ControlRequest(argv: argv.isEmpty ? ["--help"] : argv, width: TerminalSize.width()))
        }
        if let plain = Policy.Explain.plainArguments(argv) {
            return Policy.Explain.run(config: plain.config, tool: plain.tool, command: plain.command)
        }
        return parseAndRun(argv)
    }

    /// Whether the command line runs here rather than in bosund.
    static func isLocal(_ argv: [String]) -> Bool {
        guard let first = argv.first else { return false }
        switch first {
        case "check", "shell", "completion", "--version", "--generate-completion-script", "---completion":
            return true
        case "operators": return argv.dropFirst().first == "authorized-keys"
        case "policy":
            return argv.dropFirst().first == "explain"
                && argv.contains { $0 == "--config" || $0.hasPrefix("--config=") }
        default: return false
        }
    }

    /// Parses with argument-parser and runs; usage errors exit 2 like bosund's shell.
    static func parseAndRun(_ argv: [String]) -> Int32 {
        do {
            let command = try parseAsRoot(argv)
            if let local = command as? any LocalCommand { return try local.status() }
            var other = command
            try other.run()
            return ExitStatus.ok
        } catch {
            return report(error)
        }
    }

    /// Prints an argument-parser outcome (help, version, error) and returns its exit status (2 for usage).
    static func report(_ error: any Error) -> Int32 {
        let code = exitCode(for: error)
        let message = fullMessage(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
            return ExitStatus.ok
        }
        if !message.isEmpty { StandardStream.writeError(message + "\n") }
        return code == .validationFailure ? ExitStatus.usage : code.rawValue
    }
}
