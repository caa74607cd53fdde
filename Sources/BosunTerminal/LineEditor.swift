/// Line editing for the interactive (PTY) shell: turns the raw bytes a terminal sends into echo
/// output and complete lines. Pure: no I/O, so every key sequence is testable.
///
/// Supports printable UTF-8, Backspace/DEL, Ctrl-U (kill line), Ctrl-W (kill word), Ctrl-C, Ctrl-D on an
/// empty line, and Up/Down for this session's history. Other escape sequences (Left/Right, function
/// keys, bracketed-paste markers) and other control characters are ignored.
public struct LineEditor: Sendable {
    /// What the caller should do after feeding bytes, in order.
    public enum Action: Sendable, Equatable {
        /// Write this text back to the terminal (typed characters, erasures, history redraws).
        case echo(String)
        /// Enter was pressed: run this line.
        case line(String)
        /// Ctrl-C: the line was abandoned.
        case interrupt
        /// Ctrl-D on an empty line: the operator is done.
        case eof
    }

    /// Lines entered in this session, oldest first (consecutive duplicates and blank lines are skipped).
    public var history: [String]
    public let historyLimit: Int
    /// Longest line accepted, in UTF-8 bytes; further typing is ignored.
    public let maxLineLength: Int

    private var line = ""
    private var utf8Pending: [UInt8] = []
    private var utf8Expected = 0
    private var escape = EscapeState.none
    private var escapeFinal: UInt8 = 0
    private var lastWasCarriageReturn = false
    /// Index into `history` while browsing with Up/Down; nil when editing a fresh line.
    private var historyIndex: Int?
    /// The line being typed before browsing started, restored by Down past the newest entry.
    private var draft = ""

    private enum EscapeState {
        case none
        /// Just saw ESC.
        case escape
        /// Inside `ESC [ …` (CSI) or `ESC O …` (SS3), waiting for the final byte.
        case sequence
    }

    public init(historyLimit: Int = 500, maxLineLength: Int = 16_384) {
        self.history = []
        self.historyLimit = max(0, historyLimit)
        self.maxLineLength = max(1, maxLineLength)
    }

    /// The line typed so far (for redrawing it after other output).
    public var currentLine: String { line }

    /// Consumes bytes from the terminal and returns what to echo and which lines are complete.
    public mutating func feed(_ bytes: [UInt8]) -> [Action] {
        var actions: [Action] = []
        var echo = ""
        func flush() {
            if !echo.isEmpty {
                actions.append(.echo(echo))
                echo = ""
            }
        }
        for byte in bytes {
            let afterCarriageReturn = lastWasCarriageReturn
            lastWasCarriageReturn = false
            if escape != .none {
                handleEscape(byte, echo: &echo)
                continue
            }
            if utf8Expected > 0 {
                if byte & 0xC0 == 0x80 {
                    utf8Pending.append(byte)
                    if utf8Pending.count == utf8Expected {
                        let sequence = utf8Pending
                        utf8Pending = []
                        utf8Expected = 0
                        insert(decode(sequence), echo: &echo)
                    }
                    continue
                }
                // A truncated sequence: drop it and treat this byte on its own.
                utf8Pending = []
                utf8Expected = 0
            }
            switch byte {
            case 0x0D, 0x0A:
                if byte == 0x0A && afterCarriageReturn { continue }
                lastWasCarriageReturn = byte == 0x0D
                echo += "\r\n"
                flush()
                actions.append(.line(submit()))
            case 0x03:
                echo += "^C\r\n"
                flush()
                actions.append(.interrupt)
                line = ""
                resetBrowsing()
            case 0x04:
                if line.isEmpty {
                    flush()
                    actions.append(.eof)
                }
            case 0x08, 0x7F:
                if let last = line.popLast() {
                    echo += Self.erase(width: Self.width(of: last))
                }
            case 0x15:
                echo += Self.erase(width: Self.width(of: line))
                line = ""
            case 0x17:
                let kept = Self.droppingLastWord(line)
                echo += Self.erase(width: Self.width(of: String(line.dropFirst(kept.count))))
                line = kept
            case 0x1B:
                escape = .escape
            case 0x20...0x7E:
                insert(Character(Unicode.Scalar(byte)), echo: &echo)
            case 0xC2...0xDF:
                utf8Pending = [byte]
                utf8Expected = 2
            case 0xE0...0xEF:
                utf8Pending = [byte]
                utf8Expected = 3
            case 0xF0...0xF4:
                utf8Pending = [byte]
                utf8Expected = 4
            default:
                break  // other control characters and invalid UTF-8 lead bytes
            }
        }
        flush()
        return actions
    }

    // MARK: Editing

    private mutating func insert(_ character: Character?, echo: inout String) {
        // `utf8.count` is O(1) on a native string; `count` (characters) would rescan the line per keystroke.
        guard let character, line.utf8.count < maxLineLength else { return }
        // C1 controls and other non-printing scalars never reach the terminal.
        guard
            character.unicodeScalars.allSatisfy({
                !(0x80...0x9F).contains($0.value) && $0.properties.generalCategory != .control
            })
        else { return }
        line.append(character)
        echo.append(character)
    }

    private mutating func submit() -> String {
        let entered = line
        line = ""
        resetBrowsing()
        let trimmed = entered.trimmingWhitespace
        if !trimmed.isEmpty && history.last != entered && historyLimit > 0 {
            history.append(entered)
            if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
        }
        return entered
    }

    private mutating func resetBrowsing() {
        historyIndex = nil
        draft = ""
    }

    // MARK: Escape sequences

    private mutating func handleEscape(_ byte: UInt8, echo: inout String) {
        switch escape {
        case .escape:
            // ESC [ starts CSI, ESC O starts SS3 (cursor keys in application mode); anything else (Alt+key)
            // is dropped together with the ESC.
            escape = (byte == UInt8(ascii: "[") || byte == UInt8(ascii: "O")) ? .sequence : .none
        case .sequence:
            // Parameter and intermediate bytes (0x20–0x3F) continue the sequence; a final byte ends it.
            if (0x20...0x3F).contains(byte) { return }
            escape = .none
            if byte == UInt8(ascii: "A") {
                recall(older: true, echo: &echo)
            } else if byte == UInt8(ascii: "B") {
                recall(older: false, echo: &echo)
            }
        case .none:
            break
        }
    }

    private mutating func recall(older: Bool, echo: inout String) {
        let target: Int?
        if older {
            guard !history.isEmpty else { return }
            if let index = historyIndex {
                guard index > 0 else { return }
                target = index - 1
            } else {
                draft = line
                target = history.count - 1
            }
        } else {
            guard let index = historyIndex else { return }
            target = index + 1 < history.count ? index + 1 : nil
        }
        historyIndex = target
        let replacement = target.map { history[$0] } ?? draft
        echo += Self.erase(width: Self.width(of: line)) + replacement
        line = replacement
        if target == nil { draft = "" }
    }

    // MARK: Text helpers

    private func decode(_ bytes: [UInt8]) -> Character? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        guard case .scalarValue(let scalar) = decoder.decode(&iterator) else { return nil }
        return Character(scalar)
    }

    /// Backspace, space, backspace over `width` columns.
    public static func erase(width: Int) -> String {
        guard width > 0 else { return "" }
        let back = String(repeating: "\u{8}", count: width)
        return back + String(repeating: " ", count: width) + back
    }

    /// Removes trailing blanks, then the word before them (Ctrl-W).
    public static func droppingLastWord(_ text: String) -> String {
        var kept = Substring(text)
        while let last = kept.last, last == " " || last == "\t" { kept.removeLast() }
        while let last = kept.last, last != " " && last != "\t" { kept.removeLast() }
        return String(kept)
    }

    public static func width(of text: String) -> Int {
        text.reduce(0) { $0 + width(of: $1) }
    }

    /// Terminal columns taken by one character: 2 for East Asian wide and emoji, 0 for a lone
    /// combining mark, 1 otherwise.
    public static func width(of character: Character) -> Int {
        guard let scalar = character.unicodeScalars.first else { return 0 }
        let value = scalar.value
        if scalar.properties.generalCategory == .nonspacingMark || scalar.properties.generalCategory == .enclosingMark {
            return 0
        }
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
            0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD,
        ]
        return wide.contains { $0.contains(value) } ? 2 : 1
    }
}

extension String {
    fileprivate var trimmingWhitespace: Substring {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}
