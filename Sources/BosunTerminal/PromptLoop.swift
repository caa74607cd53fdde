import Synchronization

/// What a terminal gave the prompt loop.
public enum TerminalInput: Sendable, Equatable {
    /// Bytes typed (or pasted).
    case data([UInt8])
    /// `PromptNotices` has something to show (or the wait ended without input).
    case woken
    /// The terminal is gone, the input ended, or the session must end.
    case eof
}

/// The terminal a prompt loop runs on: the SSH front door's channel, or the local TTY.
public protocol PromptTerminal: AnyObject {
    /// Blocks until input arrives, `PromptNotices` wakes the terminal, or the input ends.
    func read() -> TerminalInput
    /// Writes text as it is (the editor's output already uses CRLF where needed).
    func write(_ text: String)
    /// Current width in columns; nil when unknown.
    var columns: Int? { get }
    /// Makes a blocked `read()` return `.woken`; called from other threads.
    var waker: @Sendable () -> Void { get }
}

/// Something the supervisor tells an idle prompt.
public enum PromptEvent: Sendable, Equatable {
    /// This many asks wait for a person.
    case waiting(Int)
    /// A new ask arrived: one line (host, number, tier, command) with host text escaped.
    case ask(String)

    /// A new ask from raw text (which may come from a host): escaped for the terminal.
    public static func ask(raw text: String) -> PromptEvent {
        .ask(TerminalText.escape(text))
    }

    /// The line form used on the control socket (`waiting 3`, `ask h1 #4 …`).
    public var line: String {
        switch self {
        case .waiting(let count): "waiting \(count)\n"
        case .ask(let text): "ask \(Self.printable(text))\n"
        }
    }

    /// Parses one line of the socket form; nil for anything else.
    public init?(line: Substring) {
        if line.hasPrefix("waiting "), let count = Int(line.dropFirst("waiting ".count)), count >= 0 {
            self = .waiting(count)
        } else if line.hasPrefix("ask ") {
            self = .ask(Self.printable(String(line.dropFirst("ask ".count))))
        } else {
            return nil
        }
    }

    /// `text` when nothing in it acts on a terminal, else escaped (text already escaped passes as it is).
    static func printable(_ text: String) -> String {
        text.unicodeScalars.contains(where: TerminalText.isHidden) ? TerminalText.escape(text) : text
    }
}

/// Events waiting for the prompt loop; filled from any thread, drained by the loop's thread.
public final class PromptNotices: @unchecked Sendable {
    private struct State {
        var events: [PromptEvent] = []
        var waker: (@Sendable () -> Void)?
    }
    private let state = Mutex(State())
    /// Most events kept between two drains (older asks are dropped, the count is what matters).
    static let limit = 64

    public init() {}

    /// Queues an event and wakes the terminal.
    public func post(_ event: PromptEvent) {
        let wake = state.withLock { state in
            state.events.append(event)
            if state.events.count > Self.limit { state.events.removeFirst(state.events.count - Self.limit) }
            return state.waker
        }
        wake?()
    }

    func setWaker(_ wake: (@Sendable () -> Void)?) {
        state.withLock { $0.waker = wake }
    }

    func drain() -> [PromptEvent] {
        state.withLock { state in
            defer { state.events.removeAll() }
            return state.events
        }
    }
}

/// The interactive shell's loop, shared by the SSH front door and the local `bosun shell`: prompt
/// (with the number of waiting asks), line editing, `clear`, new-ask notices above an idle prompt.
public final class PromptLoop {
    /// Runs one command line and returns its exit status, or nil to end the session (`exit`). It
    /// writes the command's output itself and handles Ctrl-C while the command runs.
    public typealias Execute = (String) -> Int32?

    public let notices = PromptNotices()
    /// Ring the bell with a new-ask notice.
    public var bell = false
    private let terminal: any PromptTerminal
    private var editor: LineEditor
    private var waiting = 0

    public init(
        terminal: any PromptTerminal, completer: (@Sendable (CompletionQuery) -> [String])? = nil,
        historyLimit: Int = 500, maxLineLength: Int = 16_384
    ) {
        self.terminal = terminal
        editor = LineEditor(historyLimit: historyLimit, maxLineLength: maxLineLength)
        editor.completer = completer
        editor.prompt = Self.prompt(waiting: 0)
    }

    /// `bosun> `, or `bosun [3 waiting]> ` while asks wait.
    public static func prompt(waiting: Int) -> String {
        waiting > 0 ? "bosun [\(waiting) waiting]> " : "bosun> "
    }

    /// Lines that `PromptLoop` runs itself rather than passing to `execute`.
    public static func isClear(_ line: String) -> Bool {
        line.split(whereSeparator: \.isWhitespace) == ["clear"]
    }

    /// Reads, edits and runs lines until `exit`, Ctrl-D or the end of input; returns the last status.
    public func run(execute: Execute) -> Int32 {
        notices.setWaker(terminal.waker)
        defer { notices.setWaker(nil) }
        var status: Int32 = 0
        editor.columns = terminal.columns
        absorbNotices(showAsks: false)
        terminal.write(editor.prompt)
        while true {
            switch terminal.read() {
            case .eof:
                return status
            case .woken:
                absorbNotices(showAsks: true)
            case .data(let bytes):
                let columns = terminal.columns
                if columns != editor.columns {
                    editor.columns = columns
                    terminal.write(editor.redraw())
                }
                var pending = ""
                // Byte by byte, so a line runs before the echo of what was typed after it.
                for byte in bytes {
                    for action in editor.feed([byte]) {
                        switch action {
                        case .echo(let text):
                            pending += text
                        case .interrupt:
                            pending += editor.redraw()
                        case .eof:
                            terminal.write(pending + "\r\n")
                            return status
                        case .line(let line):
                            terminal.write(pending)
                            pending = ""
                            if Self.isClear(line) {
                                terminal.write(editor.clearScreen())
                                continue
                            }
                            guard let result = execute(line) else { return status }
                            status = result
                            // Asks that came while the command ran are in the count; the notices
                            // themselves would repeat what the command showed.
                            absorbNotices(showAsks: false)
                            editor.columns = terminal.columns
                            terminal.write(editor.redraw())
                        }
                    }
                }
                terminal.write(pending)
            }
        }
    }

    /// Applies queued events: the prompt's count, and (when idle) one line per new ask above the prompt.
    private func absorbNotices(showAsks: Bool) {
        var text = ""
        var redraw = false
        for event in notices.drain() {
            switch event {
            case .waiting(let count):
                guard count != waiting else { continue }
                waiting = count
                editor.prompt = Self.prompt(waiting: count)
                redraw = true
            case .ask(let line):
                guard showAsks else { continue }
                let width = max(1, (terminal.columns ?? 10_000) - 1)
                let notice = Array("new ask: " + PromptEvent.printable(line))
                text += "\r\u{1B}[K" + String(LineEditor.cut(notice, toWidth: width)) + "\r\n"
                if bell { text += "\u{7}" }
                redraw = true
            }
        }
        guard showAsks, redraw else { return }
        terminal.write(text + editor.redraw())
    }
}

/// Lines of a piped command file: `#` comments and blank lines are skipped.
public enum CommandScript {
    /// Whether a line of a command file is a command (not blank, not a `#` comment).
    public static func isCommand(_ line: String) -> Bool {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" })
        return !trimmed.isEmpty && !trimmed.hasPrefix("#") && !trimmed.allSatisfy({ $0.isWhitespace })
    }
}
