import ArgumentParser
import BosunCore
public import BosunSupervisor
public import BosunTerminal
import Foundation

/// What the interactive shell asks the supervisor besides commands: Tab completion candidates and
/// the prompt's feed (waiting count, new asks). In process for the SSH front door, and as two
/// hidden commands (`_complete`, `_prompt`) over the control socket for the local `bosun shell`.
extension Shell {
    /// Names of the commands `help` lists, plus the shell's own words (`exit`, `clear`).
    public static var commandNames: [String] {
        Root.configuration.subcommands.filter { $0.configuration.shouldDisplay }.map { $0._commandName } + ["help"]
    }

    /// Most candidates one completion returns.
    public static let completionLimit = 200

    /// Candidates for the word `query.prefix` after `query.words`: command names first; then, by
    /// command, request numbers, `host/thread` references, host names (after `--host`).
    public static func completions(_ query: CompletionQuery, fleet: Fleet) async -> [String] {
        let prefix = query.prefix
        let words = query.words
        func matching(_ candidates: [String]) -> [String] {
            Array(candidates.filter { $0.hasPrefix(prefix) }.prefix(completionLimit))
        }
        guard let command = words.first else { return matching(commandNames + ["exit", "clear"]) }
        if command == "help" { return words.count == 1 ? matching(commandNames) : [] }
        let hosts = (try? await fleet.hosts().map(\.name.rawValue)) ?? []
        if words.last == "--host" || (words.last == "host" && ["pause", "resume"].contains(command)) {
            return matching(hosts)
        }
        switch command {
        case "approve", "deny":
            return matching(await pendingNumbers(fleet: fleet, hash: prefix.hasPrefix("#")))
        case "show":
            guard words.count == 1 else { return [] }
            if prefix.first.map({ $0.isNumber || $0 == "#" }) == true {
                return matching(await pendingNumbers(fleet: fleet, hash: prefix.hasPrefix("#")))
            }
            return matching(await threadReferences(prefix, hosts: hosts, fleet: fleet))
        case "steer":
            return words.count == 1 ? matching(await threadReferences(prefix, hosts: hosts, fleet: fleet)) : []
        case "pause", "resume":
            guard words.count == 1 else { return [] }
            return matching(["host", "all"] + (await threadReferences(prefix, hosts: hosts, fleet: fleet)))
        default:
            return []
        }
    }

    private static func pendingNumbers(fleet: Fleet, hash: Bool) async -> [String] {
        let pending = (try? await fleet.requestSummaries(status: [.pending], host: nil)) ?? []
        return pending.map { hash ? "#\($0.number)" : "\($0.number)" }
    }

    /// `host/` for each host until a host is typed, then that host's `host/thread-id`s.
    private static func threadReferences(_ prefix: String, hosts: [String], fleet: Fleet) async -> [String] {
        guard let slash = prefix.firstIndex(of: "/") else { return hosts.map { $0 + "/" } }
        let host = String(prefix[..<slash])
        guard hosts.contains(host) else { return [] }
        let threads = (try? await fleet.threads(hosts: [HostName(host)])) ?? []
        return threads.map { "\(host)/\($0.thread.id)" }
    }

    /// The number of asks waiting for a person (the prompt's `[3 waiting]`).
    public static func waitingCount(fleet: Fleet) async -> Int {
        ((try? await fleet.requestSummaries(status: [.pending], host: nil)) ?? []).count
    }

    /// Feeds a prompt: the waiting count now and after each change, and each new ask, until
    /// `emit` returns false. Subscribes before counting, so no change falls between.
    public static func promptFeed(fleet: Fleet, emit: @Sendable (PromptEvent) -> Bool) async {
        let (id, events) = await fleet.subscribe()
        var waiting = await waitingCount(fleet: fleet)
        guard emit(.waiting(waiting)) else {
            await fleet.unsubscribe(id)
            return
        }
        for await event in events where ["request", "decision", "host"].contains(event.kind) {
            if event.kind == "request", !emit(.ask(raw: "\(event.host) \(event.text)")) { break }
            let now = await waitingCount(fleet: fleet)
            if now != waiting {
                waiting = now
                if !emit(.waiting(now)) { break }
            }
        }
        await fleet.unsubscribe(id)
    }

    /// `_complete WORD… PREFIX`: completion candidates, one per line (for the local `bosun shell`).
    struct Complete: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            commandName: "_complete", abstract: "Completion candidates (for bosun shell).", shouldDisplay: false)

        @Argument(parsing: .remaining) var words: [String] = []

        func execute(in context: ShellContext) async throws -> ShellResult {
            var words = self.words
            if words.first == "--" { words.removeFirst() }
            let prefix = words.popLast() ?? ""
            let candidates = await Shell.completions(
                CompletionQuery(words: words, prefix: prefix), fleet: context.fleet)
            return ShellResult(stdout: candidates.map { TerminalText.escape($0) + "\n" }.joined())
        }
    }

    /// `_prompt`: streams `waiting N` and `ask …` lines until the client goes away (for the local
    /// `bosun shell`'s prompt).
    struct PromptFeed: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            commandName: "_prompt", abstract: "The prompt's feed (for bosun shell).", shouldDisplay: false)

        func execute(in context: ShellContext) async throws -> ShellResult {
            guard let output = context.output else {
                return ShellResult(stderr: "bosun: _prompt needs a streaming connection\n", exit: ExitStatus.failure)
            }
            let fleet = context.fleet
            let stop = Task {
                await Shell.promptFeed(fleet: fleet) { output.write($0.line) }
            }
            output.whenClosed { stop.cancel() }
            await stop.value
            return ShellResult()
        }
    }
}
