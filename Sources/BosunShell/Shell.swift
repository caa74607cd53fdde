import ArgumentParser
import BosunCore
import BosunStore
import BosunSupervisor
import Foundation

/// The result of one shell command.
public struct ShellResult: Sendable, Equatable {
    public var stdout: String
    public var stderr: String
    public var exit: Int32

    public init(stdout: String = "", stderr: String = "", exit: Int32 = ExitStatus.ok) {
        self.stdout = stdout
        self.stderr = stderr
        self.exit = exit
    }
}

/// What a shell command runs against: the supervisor, and facts about the caller.
public struct ShellContext: Sendable {
    public var fleet: Fleet
    /// Terminal width for tables; nil means unlimited (pipes, files).
    public var width: Int?
    /// Who runs the command and through which channel.
    public var actor: Actor
    public var now: Date

    public init(fleet: Fleet, width: Int?, actor: Actor, now: Date = Date()) {
        self.fleet = fleet
        self.width = width
        self.actor = actor
        self.now = now
    }
}

/// A command of the line language.
protocol ShellCommand: ParsableCommand {
    func execute(in context: ShellContext) async throws -> ShellResult
}

/// Bosun's line language: one parser and one set of commands for every surface (the `bosun` CLI
/// over the control socket now; the SSH front door later).
public struct Shell: Sendable {
    public init() {}

    /// Parses and runs one command line (already split into words).
    public func execute(_ argv: [String], in context: ShellContext) async -> ShellResult {
        do {
            var parsed = try Root.parseAsRoot(argv)
            guard let command = parsed as? any ShellCommand else {
                // `help [command]` and the bare root: ArgumentParser answers by throwing its help.
                try parsed.run()
                return ShellResult(stdout: Root.helpMessage(columns: context.width) + "\n", exit: ExitStatus.ok)
            }
            return try await command.execute(in: context)
        } catch let error as StoreError {
            return ShellResult(stderr: "bosun: \(error)\n", exit: ExitStatus.failure)
        } catch {
            var message = Root.fullMessage(for: error, columns: context.width)
            if !message.hasSuffix("\n") { message += "\n" }
            let code = Root.exitCode(for: error).rawValue
            if code == 0 { return ShellResult(stdout: message, exit: ExitStatus.ok) }
            return ShellResult(stderr: message, exit: ExitStatus.usage)
        }
    }

    /// The root of the command tree.
    struct Root: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bosun",
            abstract: "Supervise coding agents across hosts.",
            subcommands: [
                Hosts.self, Threads.self, Queue.self, Show.self, Approve.self, Deny.self, Audit.self,
                PolicyCommand.self, Version.self,
            ]
        )
    }

    struct Version: ShellCommand {
        static let configuration = CommandConfiguration(abstract: "Show the daemon's version.")

        func execute(in context: ShellContext) async throws -> ShellResult {
            ShellResult(stdout: "bosund \(Supervisor.version), control API v\(ControlProtocol.version)\n")
        }
    }
}
