import BosunShell
import BosunTerminal
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

    @Test func otherEscapeSequencesAreIgnored() {
        var editor = LineEditor()
        let actions = feed(&editor, "a\u{1B}[C\u{1B}[D\u{1B}[1;5C\u{1B}[3~\u{1B}[200~b\u{1B}[201~\u{1B}xc")
        #expect(echoed(actions) == "abc")
        #expect(editor.currentLine == "abc")
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
