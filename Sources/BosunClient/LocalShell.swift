import BosunCore
import BosunTerminal
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// `bosun shell [--operator NAME --channel C]`: the line shell over the control socket. With a
/// terminal on stdin it is the same prompt loop as the SSH front door's (line editing, history,
/// completion from bosund, the waiting count); otherwise it runs the lines of stdin (a command
/// file: `#` comments and blank lines are skipped) until `exit` or end of input.
public struct LocalShell {
    public var client: ControlClient
    public var operatorName: String?
    public var channel: String?
    public var environment: [String: String]

    public init(client: ControlClient, operatorName: String?, channel: String?, environment: [String: String]) {
        self.client = client
        self.operatorName = operatorName
        self.channel = channel
        self.environment = environment
    }

    public func run() -> Int32 {
        // OpenSSH forced commands pass a client's one-shot command in SSH_ORIGINAL_COMMAND.
        if let original = environment["SSH_ORIGINAL_COMMAND"], !original.isEmpty {
            return runLine(original, interrupt: nil) ?? ExitStatus.ok
        }
        if let terminal = LocalTerminal() {
            defer { terminal.restore() }
            return interactive(terminal)
        }
        return piped()
    }

    private func piped() -> Int32 {
        var status = ExitStatus.ok
        while let line = readLine() {
            guard CommandScript.isCommand(line) else { continue }
            guard let result = runLine(line, interrupt: nil) else { break }
            status = result
            if result == ExitStatus.unavailable { return result }
        }
        return status
    }

    private func interactive(_ terminal: LocalTerminal) -> Int32 {
        let client = self.client
        let operatorName = self.operatorName
        let channel = self.channel
        let loop = PromptLoop(
            terminal: terminal,
            completer: { query in
                let request = ControlRequest(
                    argv: ["_complete", "--"] + query.words + [query.prefix], operator: operatorName, channel: channel)
                guard let answer = try? client.collect(request), answer.exit == ExitStatus.ok else { return [] }
                return answer.stdout.split(separator: "\n").map(String.init)
            })
        let feed = PromptFeedConnection(
            client: client, request: ControlRequest(argv: ["_prompt"], operator: operatorName, channel: channel),
            notices: loop.notices)
        defer { feed.stop() }
        var unavailable = false
        let status = loop.run { line in
            guard let result = runLine(line, interrupt: terminal.input) else { return nil }
            if result == ExitStatus.unavailable {
                unavailable = true
                return nil
            }
            return result
        }
        return unavailable ? ExitStatus.unavailable : status
    }

    /// Runs one shell line; nil means the session should end (`exit`).
    func runLine(_ line: String, interrupt: Int32?) -> Int32? {
        let words: [String]
        do {
            words = try ShellWords.split(line)
        } catch {
            return fail("\(error)", status: ExitStatus.usage)
        }
        if words.isEmpty || !CommandScript.isCommand(line) { return ExitStatus.ok }
        if words == ["exit"] || words == ["quit"] { return nil }
        return client.run(
            ControlRequest(argv: words, width: TerminalSize.width(), operator: operatorName, channel: channel),
            interrupt: interrupt)
    }
}

/// The prompt's feed over its own control connection (`_prompt`), read on a thread of its own
/// until `stop()`. A bosund without the feed (or a refused identity) only leaves the prompt plain.
final class PromptFeedConnection: @unchecked Sendable {
    private let connection: ClientConnection?

    init(client: ControlClient, request: ControlRequest, notices: PromptNotices) {
        connection = try? ClientConnection(path: client.path)
        guard let connection else { return }
        // Without the feed the prompt only stays plain (as when bosund has none).
        DetachedThread.start {
            _ = try? client.stream(request, connection: connection) { line in
                if let event = PromptEvent(line: line) { notices.post(event) }
                return true
            }
        }
    }

    func stop() {
        connection?.shutDown()
    }
}

/// The terminal's width for tables.
public enum TerminalSize {
    /// Columns of stdout when it is a terminal (80 when it does not say); else `COLUMNS` when it
    /// holds a positive number (a pipe on a phone: `COLUMNS=40 bosun queue | less`); else nil.
    public static func width(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        guard isatty(STDOUT_FILENO) != 0 else {
            guard let columns = environment["COLUMNS"].flatMap({ Int($0) }), columns > 0 else { return nil }
            return min(columns, 10_000)
        }
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}
