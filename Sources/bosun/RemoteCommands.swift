import ArgumentParser
import BosunClient
import BosunCore

/// A command that runs inside bosund. Its arguments are bosund's to parse (its shell is the one
/// grammar of every surface): here it exists for `bosun --help` and the completion scripts, whose
/// argument completion asks bosund (`_complete`) for hosts, threads and request numbers.
protocol RemoteCommandName {
    static var name: String { get }
    static var abstract: String { get }
}

/// The shell's completion of the word being typed (`words` as the shell passes them: the command
/// line, `index` the word being completed), from bosund's `_complete`.
@Sendable func completeRemote(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
    var before = Array(words.prefix(max(0, min(index, words.count))))
    if let first = before.first, first == "bosun" || first.hasSuffix("/bosun") { before.removeFirst() }
    while let first = before.first, first.hasPrefix("--socket") {
        before.removeFirst(first == "--socket" ? min(2, before.count) : 1)
    }
    let request = ControlRequest(argv: ["_complete", "--"] + before + [prefix])
    guard let answer = try? Global.client.collect(request), answer.exit == ExitStatus.ok else { return [] }
    return answer.stdout.split(separator: "\n").map(String.init)
}

struct Remote<Name: RemoteCommandName>: LocalCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: Name.name, abstract: Name.abstract)
    }

    @Argument(
        parsing: .captureForPassthrough, help: "Arguments, as bosund's shell takes them.",
        completion: .custom(completeRemote))
    var words: [String] = []

    func status() -> Int32 {
        Global.client.run(ControlRequest(argv: [Name.name] + words, width: TerminalSize.width()))
    }
}

/// bosund's commands, as its `help` lists them (a test keeps the two lists equal).
enum RemoteCommands {
    enum Hosts: RemoteCommandName {
        static let name = "hosts"
        static let abstract = "Link state, last seen, round-trip time, threads, hooks."
    }
    enum Threads: RemoteCommandName {
        static let name = "threads"
        static let abstract = "Agent threads across hosts."
    }
    enum Queue: RemoteCommandName {
        static let name = "queue"
        static let abstract = "Requests waiting for a person, oldest first."
    }
    enum Show: RemoteCommandName {
        static let name = "show"
        static let abstract = "A request with its evidence, or a thread with its steering messages."
    }
    enum Approve: RemoteCommandName {
        static let name = "approve"
        static let abstract = "Approve a request."
    }
    enum Deny: RemoteCommandName {
        static let name = "deny"
        static let abstract = "Deny a request, with a reason."
    }
    enum Audit: RemoteCommandName {
        static let name = "audit"
        static let abstract = "The audit log; audit verify checks its hash chain."
    }
    enum Steer: RemoteCommandName {
        static let name = "steer"
        static let abstract = "Send guidance to a thread; it arrives at the thread's next hook."
    }
    enum Pause: RemoteCommandName {
        static let name = "pause"
        static let abstract = "Pause a thread, a host or every host."
    }
    enum Resume: RemoteCommandName {
        static let name = "resume"
        static let abstract = "Resume what a pause holds."
    }
    enum Watch: RemoteCommandName {
        static let name = "watch"
        static let abstract = "Stream fleet events until Ctrl-C."
    }
    enum Reload: RemoteCommandName {
        static let name = "reload"
        static let abstract = "Reload policies/ (admins)."
    }
    enum Whoami: RemoteCommandName {
        static let name = "whoami"
        static let abstract = "Who you are to Bosun: operator, role, channel."
    }
    enum Version: RemoteCommandName {
        static let name = "version"
        static let abstract = "Show the daemon's version."
    }
    enum Withdraw: RemoteCommandName {
        static let name = "withdraw"
        static let abstract = "Take back your own vote on a request that still waits."
    }
    enum Pauses: RemoteCommandName {
        static let name = "pauses"
        static let abstract = "Active pauses: who, when, scope, soft or hard, what each holds."
    }
    enum Stats: RemoteCommandName {
        static let name = "stats"
        static let abstract = "Review analytics: response times, volume, failures, rework, noisiest prompts."
    }
    enum Mark: RemoteCommandName {
        static let name = "mark"
        static let abstract = "Mark a request as an incident or a near miss."
    }
    enum Export: RemoteCommandName {
        static let name = "export"
        static let abstract = "Export requests as an evaluation set (JSON lines)."
    }

    static let all: [any ParsableCommand.Type] = [
        Remote<Hosts>.self, Remote<Threads>.self, Remote<Queue>.self, Remote<Show>.self, Remote<Approve>.self,
        Remote<Deny>.self, Remote<Audit>.self, Remote<Steer>.self, Remote<Pause>.self, Remote<Resume>.self,
        Remote<Watch>.self, Remote<Reload>.self, Remote<Whoami>.self, Remote<Version>.self, Remote<Withdraw>.self,
        Remote<Pauses>.self, Remote<Stats>.self, Remote<Mark>.self, Remote<Export>.self,
    ]

    /// The names, with `policy` (explain runs in bosund unless given --config).
    static var names: [String] { all.map { $0._commandName } + ["policy"] }
}
