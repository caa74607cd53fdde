import ArgumentParser
public import BosunCore
public import BosunSupervisor
import BosunTerminal
public import Foundation

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
    /// Terminal width for tables and help; nil means unknown or unlimited (pipes, files, a PTY that
    /// reports 0 columns). Always within 1...10,000 (see `TerminalWidth.normalized`).
    public var width: Int? {
        get { storedWidth }
        set { storedWidth = TerminalWidth.normalized(newValue) }
    }
    private var storedWidth: Int?
    /// Who runs the command and through which channel.
    public var actor: Operator
    /// Where streaming commands (`watch`) write as they go; nil where nothing streams.
    public var output: OutputChannel?
    public var now: Date

    public init(fleet: Fleet, width: Int?, actor: Operator, output: OutputChannel? = nil, now: Date = Date()) {
        self.fleet = fleet
        self.storedWidth = TerminalWidth.normalized(width)
        self.actor = actor
        self.output = output
        self.now = now
    }
}

/// A command of the line language.
protocol ShellCommand: ParsableCommand {
    /// The least role that may run it.
    static var requiredRole: Role { get }
    func execute(in context: ShellContext) async throws -> ShellResult
}

extension ShellCommand {
    /// Fail closed: a command is for operators unless it declares itself read-only.
    static var requiredRole: Role { .operator }
}

/// Bosun's line language: one parser and one set of commands for every surface (the `bosun` CLI
/// over the control socket now; the SSH front door later).
public struct Shell: Sendable {
    public init() {}

    /// Runs one command and emits its result on the context's output: stdout, stderr, then exit.
    public func stream(_ argv: [String], in context: ShellContext) async {
        let result = await execute(argv, in: context)
        guard let output = context.output else { return }
        if !result.stdout.isEmpty { output.emit(ControlReply(stdout: result.stdout)) }
        if !result.stderr.isEmpty { output.emit(ControlReply(stderr: result.stderr)) }
        output.emit(ControlReply(exit: result.exit))
    }

    /// Words one command line may have. The argument parser's work grows with the square of the
    /// word count (5,000 words held bosund for 23 s), and no command needs more: long text is one
    /// quoted word.
    public static let maxWords = 256

    /// Parses and runs one command line (already split into words).
    public func execute(_ argv: [String], in context: ShellContext) async -> ShellResult {
        guard argv.count <= Self.maxWords else {
            return ShellResult(
                stderr:
                    "bosun: a command line has at most \(Self.maxWords) words (this one has \(argv.count)); quote long text as one word\n",
                exit: ExitStatus.usage)
        }
        do {
            var parsed = try Root.parseAsRoot(argv)
            guard let command = parsed as? any ShellCommand else {
                // `help [command]` and the bare root: ArgumentParser answers by throwing its help.
                try parsed.run()
                return ShellResult(
                    stdout: TerminalWidth.help({ Root.helpMessage(columns: $0) }, width: context.width) + "\n",
                    exit: ExitStatus.ok)
            }
            let required = type(of: command).requiredRole
            guard context.actor.role >= required else {
                let name = type(of: command).configuration.commandName ?? "this command"
                return ShellResult(
                    stderr:
                        "bosun: \(name) needs the \(required.rawValue) role; \(context.actor.name) is a \(context.actor.role.rawValue)\n",
                    exit: ExitStatus.forbidden)
            }
            return try await command.execute(in: context)
        } catch let error as FleetError {
            return ShellResult(stderr: "bosun: \(error)\n", exit: ExitStatus.failure)
        } catch {
            var message = TerminalWidth.help({ Root.fullMessage(for: error, columns: $0) }, width: context.width)
            if !message.hasSuffix("\n") { message += "\n" }
            let code = Root.exitCode(for: error).rawValue
            if code == 0 { return ShellResult(stdout: message, exit: ExitStatus.ok) }
            // One line of error and a hint: a phone screen has no room for the full usage.
            let first = message.split(separator: "\n").first.map(String.init) ?? "bad command"
            let command =
                argv.first.map { Root.configuration.subcommands.map { $0._commandName }.contains($0) ? " \($0)" : "" }
                ?? ""
            return ShellResult(stderr: "\(first)\n(try 'help\(command)')\n", exit: ExitStatus.usage)
        }
    }

    /// The root of the command tree.
    struct Root: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bosun",
            abstract: "Supervise coding agents across hosts.",
            discussion: """
                On the supervisor's machine the bosun program also runs these itself, without bosund: \
                check --config DIR (validate a configuration), shell (this shell, interactive), \
                completion bash|zsh|fish, operators authorized-keys, policy explain --config DIR.
                """,
            subcommands: [
                Hosts.self, Threads.self, Queue.self, Show.self, Approve.self, Deny.self, Withdraw.self, Audit.self,
                SteerCommand.self, PauseCommand.self, ResumeCommand.self, Pauses.self, Watch.self, PolicyCommand.self,
                Reload.self, Stats.self, Mark.self, Export.self, Whoami.self,
                Version.self,
                // Hidden: what the interactive `bosun shell` asks besides commands (see Shell+Session).
                Complete.self, PromptFeed.self,
            ]
        )
    }

    struct Whoami: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(abstract: "Who you are to Bosun: operator, role, channel.")

        func execute(in context: ShellContext) async throws -> ShellResult {
            let actor = context.actor
            var text = "\(actor.name) (\(actor.role.rawValue)) via channel \(actor.channel)"
            if let key = actor.keyFingerprint { text += ", key \(key)" }
            if let source = actor.source { text += ", from \(source)" }
            return ShellResult(stdout: text + "\n")
        }
    }

    struct Version: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(abstract: "Show the daemon's version.")

        func execute(in context: ShellContext) async throws -> ShellResult {
            ShellResult(stdout: "bosund \(Supervisor.version), control API v\(ControlProtocol.version)\n")
        }
    }
}
