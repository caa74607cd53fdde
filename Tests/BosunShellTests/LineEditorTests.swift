import BosunShell
import BosunTerminal
import Foundation
import Testing

@Suite struct LineEditorTests {
    private func feed(_ editor: inout LineEditor, _ text: String) -> [LineEditor.Action] {
        editor.feed(Array(text.utf8))
    }

    /// All echo text of `actions`, concatenated.
    private func echoed(_ actions: [LineEditor.Action]) -> String {
        actions.reduce(into: "") { text, action in
            if case .echo(let part) = action { text += part }
        }
    }

    private func lines(_ actions: [LineEditor.Action]) -> [String] {
        actions.compactMap { action in
            if case .line(let line) = action { return line }
            return nil
        }
    }

    @Test func typedLineIsEchoedAndSubmitted() {
        var editor = LineEditor()
        #expect(feed(&editor, "threads") == [.echo("threads")])
        #expect(editor.currentLine == "threads")
        #expect(feed(&editor, "\r") == [.echo("\r\n"), .line("threads")])
        #expect(editor.currentLine == "")
        #expect(editor.history == ["threads"])
    }

    @Test(arguments: ["\r", "\n", "\r\n"])
    func everyLineEndingSubmitsOnce(ending: String) {
        var editor = LineEditor()
        let actions = feed(&editor, "a\(ending)b\(ending)")
        #expect(lines(actions) == ["a", "b"])
    }

    @Test func pastedLinesArriveInOrder() {
        var editor = LineEditor()
        let actions = feed(&editor, "one\rtwo\rthr")
        #expect(actions == [.echo("one\r\n"), .line("one"), .echo("two\r\n"), .line("two"), .echo("thr")])
        #expect(editor.currentLine == "thr")
    }

    @Test func backspaceAndDeleteEraseOneCharacter() {
        var editor = LineEditor()
        _ = feed(&editor, "abc")
        #expect(editor.feed([0x7F]) == [.echo("\u{8} \u{8}")])
        #expect(editor.feed([0x08]) == [.echo("\u{8} \u{8}")])
        #expect(editor.currentLine == "a")
        _ = editor.feed([0x7F, 0x7F, 0x7F])
        #expect(editor.currentLine == "")
        #expect(editor.feed([0x7F]) == [])
    }

    @Test func backspaceErasesWideCharactersByTheirWidth() {
        var editor = LineEditor()
        _ = feed(&editor, "日")
        #expect(editor.feed([0x7F]) == [.echo("\u{8}\u{8}  \u{8}\u{8}")])
        _ = feed(&editor, "é")
        #expect(editor.feed([0x7F]) == [.echo("\u{8} \u{8}")])
        #expect(editor.currentLine == "")
    }

    @Test func utf8SplitAcrossFeedsIsReassembled() {
        var editor = LineEditor()
        let bytes = Array("ü✓".utf8)
        var actions: [LineEditor.Action] = []
        for byte in bytes { actions += editor.feed([byte]) }
        #expect(echoed(actions) == "ü✓")
        #expect(lines(editor.feed([0x0D])) == ["ü✓"])
    }

    @Test func invalidUTF8AndControlCharactersAreDropped() {
        var editor = LineEditor()
        let actions = editor.feed([0x61, 0xFF, 0xC3, 0x62, 0x09, 0x00, 0x07, 0xC2, 0x9B, 0x63])
        #expect(echoed(actions) == "abc")
        #expect(editor.currentLine == "abc")
    }

    @Test func ctrlUKillsTheLine() {
        var editor = LineEditor()
        _ = feed(&editor, "abc")
        #expect(editor.feed([0x15]) == [.echo("\u{8}\u{8}\u{8}   \u{8}\u{8}\u{8}")])
        #expect(editor.currentLine == "")
        #expect(editor.feed([0x15]) == [])
    }

    @Test func ctrlWKillsTheLastWord() {
        var editor = LineEditor()
        _ = feed(&editor, "approve  abc  ")
        let actions = editor.feed([0x17])
        #expect(editor.currentLine == "approve  ")
        #expect(
            actions == [.echo(String(repeating: "\u{8}", count: 5) + "     " + String(repeating: "\u{8}", count: 5))])
        _ = editor.feed([0x17])
        #expect(editor.currentLine == "")
    }

    @Test func ctrlCAbandonsTheLine() {
        var editor = LineEditor()
        _ = feed(&editor, "deny all")
        #expect(editor.feed([0x03]) == [.echo("^C\r\n"), .interrupt])
        #expect(editor.currentLine == "")
        #expect(editor.history.isEmpty)
    }

    @Test func ctrlDEndsOnlyAnEmptyLine() {
        var editor = LineEditor()
        _ = feed(&editor, "x")
        #expect(editor.feed([0x04]) == [])
        _ = editor.feed([0x7F])
        #expect(editor.feed([0x04]) == [.eof])
    }

    @Test func upAndDownRecallHistory() {
        var editor = LineEditor()
        _ = feed(&editor, "first\rsecond\r")
        _ = feed(&editor, "dra")
        let up = "\u{1B}[A"
        let down = "\u{1B}[B"
        #expect(feed(&editor, up) == [.echo("\u{8}\u{8}\u{8}   \u{8}\u{8}\u{8}second")])
        #expect(editor.currentLine == "second")
        _ = feed(&editor, up)
        #expect(editor.currentLine == "first")
        // Past the oldest entry nothing changes.
        #expect(feed(&editor, up) == [])
        _ = feed(&editor, down)
        #expect(editor.currentLine == "second")
        _ = feed(&editor, down)
        #expect(editor.currentLine == "dra")
        #expect(feed(&editor, down) == [])
        // Application-mode cursor keys (ESC O A) work too, and a recalled line can be edited and run.
        _ = feed(&editor, "\u{1B}OA")
        #expect(editor.currentLine == "second")
        #expect(lines(feed(&editor, "!\r")) == ["second!"])
        #expect(editor.history == ["first", "second", "second!"])
    }

    @Test func historySkipsBlanksAndRepeatsAndKeepsItsLimit() {
        var editor = LineEditor(historyLimit: 2)
        _ = feed(&editor, "a\r\r  \ra\rb\rc\r")
        #expect(editor.history == ["b", "c"])
        let empty = feed(&editor, "\r")
        #expect(lines(empty) == [""])
    }

    @Test func keysWithoutABindingAreIgnored() {
        var editor = LineEditor()
        // Function keys, bracketed-paste markers, focus events and Alt+x leave the line alone.
        let actions = feed(&editor, "a\u{1B}[15~\u{1B}[200~b\u{1B}[201~\u{1B}[I\u{1B}xc\u{1B}OP")
        #expect(echoed(actions) == "abc")
        #expect(editor.currentLine == "abc")
    }

    // MARK: Cursor movement and editing in the middle of the line (issue 11)

    /// The terminal row after `text` (see `ScreenRow`).
    private func screen(_ editor: inout LineEditor, _ keys: String...) -> ScreenRow {
        var row = ScreenRow()
        row.apply(editor.redraw())
        for key in keys { row.apply(echoed(feed(&editor, key))) }
        return row
    }

    @Test func leftRightHomeEndAndTheirControlKeysMoveTheCursor() {
        var editor = LineEditor()
        editor.prompt = "bosun> "
        _ = feed(&editor, "approve 12")
        var row = screen(&editor, "\u{1B}[D", "\u{1B}[D")
        #expect(editor.cursorIndex == 8)
        #expect(row.text == "bosun> approve 12" && row.cursor == 15)
        row = screen(&editor, "\u{1}")
        #expect(editor.cursorIndex == 0 && row.cursor == 7)
        _ = feed(&editor, "\u{6}\u{6}")
        #expect(editor.cursorIndex == 2)
        _ = feed(&editor, "\u{2}")
        #expect(editor.cursorIndex == 1)
        _ = feed(&editor, "\u{5}")
        #expect(editor.cursorIndex == 10)
        _ = feed(&editor, "\u{1B}[H")
        #expect(editor.cursorIndex == 0)
        _ = feed(&editor, "\u{1B}[F")
        #expect(editor.cursorIndex == 10)
        _ = feed(&editor, "\u{1B}[1~")
        #expect(editor.cursorIndex == 0)
        _ = feed(&editor, "\u{1B}[4~")
        #expect(editor.cursorIndex == 10)
        _ = feed(&editor, "\u{1B}OH")
        #expect(editor.cursorIndex == 0)
        // Past either end nothing moves and nothing is written.
        #expect(feed(&editor, "\u{1B}[D\u{2}") == [])
    }

    @Test func typingInTheMiddleInsertsAtTheCursor() {
        var editor = LineEditor()
        editor.prompt = "bosun> "
        _ = feed(&editor, "deny 4 no")
        let row = screen(&editor, "\u{1B}[D\u{1B}[D\u{1B}[D", "2")
        #expect(editor.currentLine == "deny 42 no")
        #expect(row.text == "bosun> deny 42 no" && row.cursor == 14)
        #expect(lines(feed(&editor, "\r")) == ["deny 42 no"], "Enter runs the whole line wherever the cursor is")
    }

    @Test func altBAndAltFMoveByWords() {
        var editor = LineEditor()
        _ = feed(&editor, "steer web-1/3fa2 focus")
        _ = feed(&editor, "\u{1B}b")
        #expect(editor.cursorIndex == 17)
        _ = feed(&editor, "\u{1B}b\u{1B}b")
        #expect(editor.cursorIndex == 10, "web-1/3fa2: a word is letters and digits")
        _ = feed(&editor, "\u{1B}f")
        #expect(editor.cursorIndex == 11)
        _ = feed(&editor, "\u{1B}f")
        #expect(editor.cursorIndex == 16)
        _ = feed(&editor, "\u{1B}[1;5D")
        #expect(editor.cursorIndex == 12, "Ctrl-Left")
        _ = feed(&editor, "\u{1B}[1;5C")
        #expect(editor.cursorIndex == 16, "Ctrl-Right")
    }

    @Test func deleteAndCtrlDDeleteUnderTheCursor() {
        var editor = LineEditor()
        editor.prompt = "> "
        _ = feed(&editor, "queuex --all")
        _ = feed(&editor, "\u{1}\u{1B}[C\u{1B}[C\u{1B}[C\u{1B}[C\u{1B}[C")
        var row = screen(&editor, "\u{1B}[3~")
        #expect(editor.currentLine == "queue --all")
        #expect(row.text == "> queue --all" && row.cursor == 7)
        row = screen(&editor, "\u{4}")
        #expect(editor.currentLine == "queue--all")
        #expect(row.text == "> queue--all" && row.cursor == 7)
        _ = feed(&editor, "\u{5}")
        #expect(feed(&editor, "\u{4}") == [], "Ctrl-D at the end of a line that is not empty does nothing")
    }

    @Test func ctrlKUAndWKillAndCtrlYYanks() {
        var editor = LineEditor()
        editor.prompt = "> "
        _ = feed(&editor, "approve 12 ship it")
        _ = feed(&editor, "\u{1B}b\u{1B}b")
        var row = screen(&editor, "\u{B}")
        #expect(editor.currentLine == "approve 12 ")
        #expect(row.text == "> approve 12 ")
        row = screen(&editor, "\u{19}")
        #expect(editor.currentLine == "approve 12 ship it", "Ctrl-Y yanks the last kill")
        _ = feed(&editor, "\u{1B}b\u{1B}b\u{1B}b")
        row = screen(&editor, "\u{15}")
        #expect(editor.currentLine == "12 ship it" && editor.cursorIndex == 0)
        #expect(row.text == "> 12 ship it" && row.cursor == 2)
        _ = feed(&editor, "\u{5}\u{17}")
        #expect(editor.currentLine == "12 ship ")
        _ = feed(&editor, "\u{1}\u{19}")
        #expect(editor.currentLine == "it12 ship ", "yank inserts at the cursor")
    }

    @Test func ctrlLClearsTheScreenAndRedraws() {
        var editor = LineEditor()
        editor.prompt = "bosun> "
        _ = feed(&editor, "hosts")
        let echo = echoed(feed(&editor, "\u{C}"))
        #expect(echo.hasPrefix("\u{1B}[H\u{1B}[2J"))
        var row = ScreenRow()
        row.apply(echo)
        #expect(row.text == "bosun> hosts" && row.cursor == 12)
        #expect(editor.currentLine == "hosts")
    }

    // MARK: Reverse search

    @Test func ctrlRSearchesHistoryBackwards() {
        var editor = LineEditor()
        editor.prompt = "bosun> "
        _ = feed(&editor, "approve 12\rthreads\rapprove 13 ok\rqueue\r")
        var row = screen(&editor, "\u{12}", "appr")
        #expect(row.text == "(reverse-i-search)`appr': approve 13 ok")
        #expect(editor.isSearching)
        row = screen(&editor, "\u{12}")
        #expect(row.text == "(reverse-i-search)`appr': approve 12")
        // Enter runs the match.
        #expect(lines(feed(&editor, "\r")) == ["approve 12"])
        #expect(!editor.isSearching)

        // A cursor key accepts the match for editing; Ctrl-G restores the line as it was.
        _ = feed(&editor, "\u{12}thr\u{1B}[D")
        #expect(!editor.isSearching && editor.currentLine == "threads" && editor.cursorIndex == 6)
        _ = feed(&editor, "\u{15}\u{B}draft\u{12}queue")
        row = screen(&editor, "\u{7}")
        #expect(editor.currentLine == "draft" && row.text == "bosun> draft")
        // No match: the search says so.
        row = screen(&editor, "\u{12}zzz")
        #expect(row.text.hasPrefix("(failed reverse-i-search)`zzz'"))
        // Ctrl-C abandons the search and the line.
        #expect(feed(&editor, "\u{3}") == [.echo("^C\r\n"), .interrupt])
        #expect(!editor.isSearching && editor.currentLine == "")
    }

    // MARK: Completion

    @Test func tabCompletesOneCandidateAndListsSeveral() {
        var editor = LineEditor()
        editor.prompt = "bosun> "
        let asked = QueryLog()
        editor.completer = { query in
            asked.append(query)
            if query.words.isEmpty { return ["threads", "show", "steer", "hosts"] }
            return ["web-1/", "web-2/", "db/"]
        }
        _ = feed(&editor, "th\t")
        #expect(editor.currentLine == "threads ")
        #expect(asked.queries.last == CompletionQuery(words: [], prefix: "th"))
        _ = feed(&editor, "\u{15}s\t")
        let listing = echoed(feed(&editor, "\t"))
        #expect(listing.contains("show") && listing.contains("steer") && !listing.contains("threads"))
        #expect(listing.hasSuffix("\rbosun> s\u{1B}[K"), "the prompt and line are drawn again under the list")
        _ = feed(&editor, "how w\t")
        #expect(editor.currentLine == "show web-", "several candidates: their common prefix")
        #expect(asked.queries.last == CompletionQuery(words: ["show"], prefix: "w"))
        _ = feed(&editor, "1\t")
        #expect(editor.currentLine == "show web-1/", "a directory-like candidate gets no space")
    }

    @Test func completionKeepsOnlySafeCandidates() {
        var editor = LineEditor()
        editor.completer = { _ in ["x\u{1B}]0;owned\u{7}", "x y", "x\u{202E}z", "xa"] }
        let echo = echoed(feed(&editor, "x\t"))
        #expect(editor.currentLine == "xa ")
        #expect(!echo.contains("\u{1B}]") && !echo.contains("\u{202E}"))
    }

    // MARK: Width

    @Test(arguments: [1, 2, 5, 12, 20])
    func aLongLineScrollsWithinTheWidth(columns: Int) {
        var editor = LineEditor()
        editor.prompt = "bosun [3 waiting]> "
        editor.columns = columns
        var row = ScreenRow()
        let text = "approve 1234 日本語 looks fine to me"
        for character in text { row.apply(echoed(feed(&editor, String(character)))) }
        #expect(row.maxColumn < columns, "never writes the last column (\(row.text))")
        #expect(row.cursor < columns)
        row.apply(echoed(feed(&editor, "\u{1}")))
        #expect(row.cursor < columns)
        for _ in 0..<7 { row.apply(echoed(feed(&editor, "\u{1B}[C"))) }
        #expect(row.maxColumn < columns && row.cursor < columns)
        #expect(editor.currentLine == text)
        #expect(lines(feed(&editor, "\r")) == [text])
    }

    @Test func aWideTerminalShowsThePromptAndTheWholeLine() {
        var editor = LineEditor()
        editor.prompt = "bosun [3 waiting]> "
        editor.columns = 80
        _ = feed(&editor, "queue")
        var row = ScreenRow()
        row.apply(editor.redraw())
        #expect(row.text == "bosun [3 waiting]> queue" && row.cursor == 24)
    }

    @Test func aCombiningMarkJoinsTheCharacterBeforeIt() {
        var editor = LineEditor()
        _ = feed(&editor, "e\u{301}x")
        #expect(editor.currentLine == "e\u{301}x" && editor.cursorIndex == 2)
        _ = feed(&editor, "\u{1B}[D\u{1B}[D")
        #expect(editor.cursorIndex == 0, "one key press moves over the accented letter")
        _ = feed(&editor, "\u{1B}[3~")
        #expect(editor.currentLine == "x")
    }

    @Test func upWithEmptyHistoryDoesNothing() {
        var editor = LineEditor()
        #expect(feed(&editor, "\u{1B}[A\u{1B}[B") == [])
        #expect(editor.currentLine == "")
    }

    @Test func overlongLinesStopGrowing() {
        var editor = LineEditor(maxLineLength: 4)
        _ = feed(&editor, "abcdef")
        #expect(editor.currentLine == "abcd")
    }
}

/// Queries a completer saw (the completer is `@Sendable`).
final class QueryLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [CompletionQuery] = []
    func append(_ query: CompletionQuery) { lock.withLock { list.append(query) } }
    var queries: [CompletionQuery] { lock.withLock { list } }
}

/// One terminal row as the editor's output leaves it: CR, backspace, `ESC[K`, `ESC[nD`, `ESC[H`,
/// `ESC[2J` and printable characters (wide ones take two cells). Enough to check what is on screen.
struct ScreenRow {
    private var cells: [Character?] = []
    private(set) var cursor = 0
    /// The rightmost column ever written.
    private(set) var maxColumn = -1

    var text: String { String(cells.map { $0 ?? " " }).replacingOccurrences(of: "\u{0}", with: "") }

    mutating func apply(_ output: String) {
        var scalars = Array(output)[...]
        while let character = scalars.popFirst() {
            switch character {
            case "\r": cursor = 0
            case "\r\n", "\n":
                cells = []
                cursor = 0
            case "\u{8}": cursor = max(0, cursor - 1)
            case "\u{7}": break
            case "\u{1B}":
                guard scalars.popFirst() == "[" else { continue }
                var digits = ""
                while let next = scalars.first, next.isNumber {
                    digits.append(next)
                    scalars.removeFirst()
                }
                switch scalars.popFirst() {
                case "K": if cells.count > cursor { cells.removeSubrange(cursor...) }
                case "D": cursor = max(0, cursor - (Int(digits) ?? 1))
                case "H": cursor = 0
                case "J": cells = []
                default: break
                }
            default:
                let width = LineEditor.width(of: character)
                guard width > 0 else { continue }
                while cells.count < cursor + width { cells.append(nil) }
                cells[cursor] = character
                if width == 2 { cells[cursor + 1] = "\u{0}" }
                maxColumn = max(maxColumn, cursor + width - 1)
                cursor += width
            }
        }
    }
}
