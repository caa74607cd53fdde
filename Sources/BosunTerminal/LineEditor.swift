/// Line editing for the interactive shell (the SSH front door's PTY and the local `bosun shell`):
/// turns the raw bytes a terminal sends into echo output and complete lines. Pure: no I/O, so every
/// key sequence is testable; the only outside call is the optional `completer` on Tab.
///
/// Keys (readline/emacs style):
/// - printable UTF-8 is inserted at the cursor; Enter submits the line;
/// - Left/Right, Ctrl-B/F: one character; Alt-B/F, Ctrl-Left/Right: one word; Home/End, Ctrl-A/E;
/// - Backspace, Delete, Ctrl-D (on an empty line: end of input);
/// - Ctrl-K (kill to end), Ctrl-U (kill to start), Ctrl-W (kill the word before the cursor), Ctrl-Y
///   (yank the last kill);
/// - Up/Down: this session's history; Ctrl-R: reverse search (Ctrl-R again: older match; Enter runs
///   the match; Ctrl-G or Esc-less editing keys leave the search);
/// - Tab: completion through `completer` (one candidate is inserted, several are listed);
/// - Ctrl-L: clear the screen and redraw; Ctrl-C: abandon the line (anywhere, also in a search).
///
/// Width-safe: the prompt and the line are drawn within `columns` (a longer line scrolls
/// horizontally around the cursor), and no byte sequence or width can make it trap.
public struct LineEditor: Sendable {
    /// What the caller should do after feeding bytes, in order.
    public enum Action: Sendable, Equatable {
        /// Write this text back to the terminal (typed characters, erasures, redraws).
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
    /// The prompt drawn before the line on redraws (the caller writes it the first time).
    public var prompt: String = ""
    /// Terminal width in columns; nil when unknown (then the line is never scrolled).
    public var columns: Int? {
        get { storedColumns }
        set { storedColumns = newValue.map { min(max($0, 0), 10_000) }.flatMap { $0 == 0 ? nil : $0 } }
    }
    /// Candidates for Tab. Called synchronously; the editor keeps only candidates that start with the
    /// word being completed and contain no control or blank characters.
    public var completer: (@Sendable (CompletionQuery) -> [String])?

    private var storedColumns: Int?
    private var chars: [Character] = []
    private var cursor = 0
    private var byteCount = 0
    private var utf8Pending: [UInt8] = []
    private var utf8Expected = 0
    private var escape = EscapeState.none
    private var parameters: [UInt8] = []
    private var lastWasCarriageReturn = false
    /// Index into `history` while browsing with Up/Down; nil when editing a fresh line.
    private var historyIndex: Int?
    /// The line being typed before browsing started, restored by Down past the newest entry.
    private var draft: [Character] = []
    /// Killed text, newest last (Ctrl-Y yanks the newest).
    private var killRing: [[Character]] = []
    private var search: Search?

    private struct Search: Sendable {
        var query: [Character] = []
        /// The history entry shown; nil when nothing matched (yet).
        var match: Int?
        var failed = false
        /// The line before the search started (restored by Ctrl-G).
        var original: [Character]
        var originalCursor: Int
    }

    private enum EscapeState {
        case none
        /// Just saw ESC.
        case escape
        /// Inside `ESC [ …` (CSI), waiting for the final byte.
        case csi
        /// Inside `ESC O …` (SS3), waiting for the final byte.
        case ss3
    }

    /// Most kills kept for Ctrl-Y.
    static let killRingLimit = 8
    /// Most completion candidates listed at once.
    static let listLimit = 100
    /// Longest escape sequence parameter list kept (longer ones are consumed and ignored).
    static let parameterLimit = 16

    public init(historyLimit: Int = 500, maxLineLength: Int = 16_384) {
        self.history = []
        self.historyLimit = max(0, historyLimit)
        self.maxLineLength = max(1, maxLineLength)
    }

    /// The line typed so far (for redrawing it after other output).
    public var currentLine: String { String(chars) }
    /// Where the cursor is, in characters from the start of the line.
    public var cursorIndex: Int { cursor }
    /// Whether a Ctrl-R search is in progress.
    public var isSearching: Bool { search != nil }

    /// Consumes bytes from the terminal and returns what to echo and which lines are complete.
    public mutating func feed(_ bytes: [UInt8]) -> [Action] {
        var actions: [Action] = []
        var echo = ""
        for byte in bytes {
            step(byte, echo: &echo, actions: &actions)
        }
        if !echo.isEmpty { actions.append(.echo(echo)) }
        return actions
    }

    /// Redraws the prompt and the line from the start of the terminal row (after other output, a
    /// prompt change, or a resize).
    public func redraw() -> String {
        render()
    }

    /// Clears the screen and redraws the prompt and the line (Ctrl-L, `clear`).
    public func clearScreen() -> String {
        "\u{1B}[H\u{1B}[2J" + render()
    }

    // MARK: Bytes

    private mutating func step(_ byte: UInt8, echo: inout String, actions: inout [Action]) {
        func flush() {
            if !echo.isEmpty {
                actions.append(.echo(echo))
                echo = ""
            }
        }
        let afterCarriageReturn = lastWasCarriageReturn
        lastWasCarriageReturn = false
        if escape != .none {
            handleEscape(byte, echo: &echo)
            return
        }
        if utf8Expected > 0 {
            if byte & 0xC0 == 0x80 {
                utf8Pending.append(byte)
                if utf8Pending.count == utf8Expected {
                    let sequence = utf8Pending
                    utf8Pending = []
                    utf8Expected = 0
                    if let character = decode(sequence) { typed(character, echo: &echo) }
                }
                return
            }
            // A truncated sequence: drop it and treat this byte on its own.
            utf8Pending = []
            utf8Expected = 0
        }
        if search != nil, !searchKey(byte, echo: &echo, actions: &actions) { return }
        switch byte {
        case 0x0D, 0x0A:
            if byte == 0x0A && afterCarriageReturn { return }
            lastWasCarriageReturn = byte == 0x0D
            echo += "\r\n"
            flush()
            actions.append(.line(submit()))
        case 0x03:
            echo += "^C\r\n"
            flush()
            actions.append(.interrupt)
            setLine([], cursor: 0)
            resetBrowsing()
        case 0x04:
            if chars.isEmpty {
                flush()
                actions.append(.eof)
            } else {
                deleteForward(echo: &echo)
            }
        case 0x01: move(to: 0, echo: &echo)
        case 0x05: move(to: chars.count, echo: &echo)
        case 0x02: move(to: cursor - 1, echo: &echo)
        case 0x06: move(to: cursor + 1, echo: &echo)
        case 0x08, 0x7F: backspace(echo: &echo)
        case 0x09: complete(echo: &echo)
        case 0x0B: kill(from: cursor, to: chars.count, echo: &echo)
        case 0x0C: echo += clearScreen()
        case 0x12: startSearch(echo: &echo)
        case 0x15: kill(from: 0, to: cursor, echo: &echo)
        case 0x17: kill(from: Self.wordStart(chars, before: cursor, blanksOnly: true), to: cursor, echo: &echo)
        case 0x19: yank(echo: &echo)
        case 0x1B: escape = .escape
        case 0x20...0x7E: typed(Character(Unicode.Scalar(byte)), echo: &echo)
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

    // MARK: Editing

    private mutating func typed(_ character: Character, echo: inout String) {
        if search != nil {
            guard Self.isPrintable(character), search?.query.count ?? 0 < 256 else { return }
            search?.query.append(character)
            findMatch(from: search?.match ?? history.count - 1)
            echo += render()
            return
        }
        insert([character], echo: &echo)
    }

    /// Inserts printable characters at the cursor, as many as fit in `maxLineLength`.
    private mutating func insert(_ text: [Character], echo: inout String) {
        var accepted: [Character] = []
        var bytes = byteCount
        for character in text where Self.isPrintable(character) {
            // `utf8.count` of one character is small; the line's own count is kept in `byteCount`.
            let size = character.utf8.count
            guard bytes < maxLineLength else { break }
            bytes += size
            accepted.append(character)
        }
        guard !accepted.isEmpty else { return }
        let atEnd = cursor == chars.count
        let before = fits(chars)
        let start = cursor
        chars.insert(contentsOf: accepted, at: cursor)
        cursor += accepted.count
        byteCount = bytes
        for index in (start...min(start + accepted.count, chars.count)).reversed() { joinIfOne(at: index) }
        if atEnd && before && fits(chars) {
            echo += String(accepted)
        } else {
            echo += render()
        }
    }

    private mutating func backspace(echo: inout String) {
        guard cursor > 0 else { return }
        if cursor == chars.count && fits(chars) {
            let removed = chars.removeLast()
            cursor -= 1
            byteCount -= removed.utf8.count
            echo += Self.erase(width: Self.width(of: removed))
        } else {
            let removed = chars.remove(at: cursor - 1)
            cursor -= 1
            byteCount -= removed.utf8.count
            joinIfOne(at: cursor)
            echo += render()
        }
    }

    private mutating func deleteForward(echo: inout String) {
        guard cursor < chars.count else { return }
        let removed = chars.remove(at: cursor)
        byteCount -= removed.utf8.count
        joinIfOne(at: cursor)
        echo += render()
    }

    private mutating func move(to position: Int, echo: inout String) {
        let target = min(max(position, 0), chars.count)
        guard target != cursor else { return }
        cursor = target
        echo += render()
    }

    /// Removes `from..<to` into the kill ring.
    private mutating func kill(from start: Int, to end: Int, echo: inout String) {
        let start = min(max(start, 0), chars.count)
        let end = min(max(end, start), chars.count)
        guard start < end else { return }
        let killed = Array(chars[start..<end])
        killRing.append(killed)
        if killRing.count > Self.killRingLimit { killRing.removeFirst(killRing.count - Self.killRingLimit) }
        let simple = end == chars.count && cursor == chars.count && fits(chars)
        chars.removeSubrange(start..<end)
        byteCount -= killed.reduce(0) { $0 + $1.utf8.count }
        cursor = start
        joinIfOne(at: start)
        echo += simple ? Self.erase(width: Self.width(of: killed)) : render()
    }

    /// Joins `chars[index - 1]` and `chars[index]` when they make one character (a combining mark
    /// after its base, the two halves of a flag), as `String` and the terminal see them.
    private mutating func joinIfOne(at index: Int) {
        guard index > 0, index < chars.count else { return }
        let joined = String(chars[index - 1]) + String(chars[index])
        guard joined.count == 1, let character = joined.first else { return }
        chars[index - 1] = character
        chars.remove(at: index)
        if cursor >= index { cursor -= 1 }
    }

    private mutating func yank(echo: inout String) {
        guard let text = killRing.last else { return }
        insert(text, echo: &echo)
    }

    private mutating func setLine(_ text: [Character], cursor position: Int) {
        chars = text
        cursor = min(max(position, 0), text.count)
        byteCount = text.reduce(0) { $0 + $1.utf8.count }
    }

    private mutating func submit() -> String {
        let entered = String(chars)
        setLine([], cursor: 0)
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
        draft = []
    }

    // MARK: Escape sequences

    private mutating func handleEscape(_ byte: UInt8, echo: inout String) {
        switch escape {
        case .escape:
            parameters = []
            switch byte {
            case UInt8(ascii: "["): escape = .csi
            case UInt8(ascii: "O"): escape = .ss3
            default:
                // Alt+key: ESC then the key.
                escape = .none
                if search != nil { acceptSearch(echo: &echo) }
                switch byte {
                case UInt8(ascii: "b"), UInt8(ascii: "B"): move(to: Self.wordStart(chars, before: cursor), echo: &echo)
                case UInt8(ascii: "f"), UInt8(ascii: "F"): move(to: Self.wordEnd(chars, after: cursor), echo: &echo)
                case 0x7F, 0x08: kill(from: Self.wordStart(chars, before: cursor), to: cursor, echo: &echo)
                case UInt8(ascii: "d"): kill(from: cursor, to: Self.wordEnd(chars, after: cursor), echo: &echo)
                default: break
                }
            }
        case .csi, .ss3:
            // Parameter and intermediate bytes (0x20–0x3F) continue the sequence; a final byte ends it.
            if (0x20...0x3F).contains(byte) {
                if parameters.count < Self.parameterLimit { parameters.append(byte) }
                return
            }
            escape = .none
            let key = Self.key(final: byte, parameters: parameters)
            parameters = []
            guard let key else { return }
            if search != nil { acceptSearch(echo: &echo) }
            switch key {
            case .up: recall(older: true, echo: &echo)
            case .down: recall(older: false, echo: &echo)
            case .left: move(to: cursor - 1, echo: &echo)
            case .right: move(to: cursor + 1, echo: &echo)
            case .wordLeft: move(to: Self.wordStart(chars, before: cursor), echo: &echo)
            case .wordRight: move(to: Self.wordEnd(chars, after: cursor), echo: &echo)
            case .home: move(to: 0, echo: &echo)
            case .end: move(to: chars.count, echo: &echo)
            case .delete: deleteForward(echo: &echo)
            }
        case .none:
            break
        }
    }

    private enum Key { case up, down, left, right, wordLeft, wordRight, home, end, delete }

    /// The key a CSI or SS3 sequence stands for; nil for keys without a binding (function keys,
    /// bracketed-paste markers, focus events…).
    private static func key(final: UInt8, parameters: [UInt8]) -> Key? {
        // `1;5C` (Ctrl), `1;3C` (Alt): a modifier after the semicolon.
        let fields = parameters.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)
        let modified = fields.count > 1 && fields[1] != [UInt8(ascii: "1")]
        switch final {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return modified ? .wordRight : .right
        case UInt8(ascii: "D"): return modified ? .wordLeft : .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        case UInt8(ascii: "~"):
            switch fields.first.map(Array.init) ?? [] {
            case [UInt8(ascii: "1")], [UInt8(ascii: "7")]: return .home
            case [UInt8(ascii: "4")], [UInt8(ascii: "8")]: return .end
            case [UInt8(ascii: "3")]: return .delete
            default: return nil
            }
        default: return nil
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
                draft = chars
                target = history.count - 1
            }
        } else {
            guard let index = historyIndex else { return }
            target = index + 1 < history.count ? index + 1 : nil
        }
        historyIndex = target
        let replacement = target.map { Array(history[$0]) } ?? draft
        let simple = cursor == chars.count && fits(chars) && fits(replacement)
        let erased = Self.width(of: chars)
        setLine(replacement, cursor: replacement.count)
        echo += simple ? Self.erase(width: erased) + String(replacement) : render()
        if target == nil { draft = [] }
    }

    // MARK: Reverse search

    private mutating func startSearch(echo: inout String) {
        search = Search(original: chars, originalCursor: cursor)
        echo += render()
    }

    /// Handles a byte during a search; true when the byte should then be handled as usual (the
    /// search was accepted first), false when the search consumed it.
    private mutating func searchKey(_ byte: UInt8, echo: inout String, actions: inout [Action]) -> Bool {
        guard var current = search else { return true }
        switch byte {
        case 0x12:
            // Ctrl-R again: the next older match.
            if let match = current.match {
                search = current
                findMatch(from: match - 1)
            }
            echo += render()
            return false
        case 0x07:
            // Ctrl-G: back to the line as it was.
            search = nil
            setLine(current.original, cursor: current.originalCursor)
            echo += render()
            return false
        case 0x08, 0x7F:
            if !current.query.isEmpty {
                current.query.removeLast()
                current.match = nil
                current.failed = false
                search = current
                findMatch(from: history.count - 1)
            }
            echo += render()
            return false
        case 0x20...0x7E, 0xC2...0xF4:
            return true  // typed text extends the query (through `typed`)
        case 0x03:
            search = nil
            return true  // Ctrl-C abandons the line as anywhere else
        case 0x0D, 0x0A:
            acceptSearch(echo: &echo)
            return true
        case 0x1B:
            // An escape sequence (a cursor key) accepts the match, then acts on the line.
            return true
        default:
            acceptSearch(echo: &echo)
            return true
        }
    }

    /// Searches history from `start` towards older entries for the query.
    private mutating func findMatch(from start: Int) {
        guard var current = search else { return }
        let query = String(current.query)
        var index = min(start, history.count - 1)
        current.failed = true
        while index >= 0 {
            if query.isEmpty || history[index].contains(query) {
                current.match = index
                current.failed = false
                break
            }
            index -= 1
        }
        search = current
    }

    /// Leaves the search with the matched line (or the original one when nothing matched).
    private mutating func acceptSearch(echo: inout String) {
        guard let current = search else { return }
        search = nil
        if let match = current.match, history.indices.contains(match) {
            let line = Array(history[match])
            setLine(line, cursor: line.count)
        } else {
            setLine(current.original, cursor: current.originalCursor)
        }
        echo += render()
    }

    // MARK: Completion

    private mutating func complete(echo: inout String) {
        guard let completer else { return }
        let start = Self.wordStart(chars, before: cursor, blanksOnly: true)
        let prefix = String(chars[start..<cursor])
        let words = String(chars[0..<start]).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var seen = Set<String>()
        let candidates = completer(CompletionQuery(words: words, prefix: prefix))
            .filter {
                $0.hasPrefix(prefix) && !$0.isEmpty && $0.allSatisfy(Self.isCompletable) && seen.insert($0).inserted
            }
            .sorted()
        guard let first = candidates.first else { return }
        if candidates.count == 1 {
            var addition = Array(first.dropFirst(prefix.count))
            if !first.hasSuffix("/") { addition.append(" ") }
            insert(addition, echo: &echo)
            return
        }
        let common = candidates.dropFirst().reduce(Array(first)) { shared, candidate in
            Array(zip(shared, candidate).prefix { $0.0 == $0.1 }.map(\.0))
        }
        if common.count > prefix.count {
            insert(Array(common.dropFirst(prefix.count)), echo: &echo)
            return
        }
        echo += "\r\n" + Self.list(candidates, columns: columns) + render()
    }

    /// Candidates in columns, each line ended by CRLF; at most `listLimit`, then a count of the rest.
    static func list(_ candidates: [String], columns: Int?) -> String {
        let shown = candidates.prefix(listLimit)
        let available = max(1, (columns ?? 80) - 1)
        let cells = shown.map { Self.cut(Array($0), toWidth: available) }
        let cellWidth = min(available, (cells.map { width(of: $0) }.max() ?? 0) + 2)
        let perRow = max(1, available / max(1, cellWidth))
        var text = ""
        for (index, cell) in cells.enumerated() {
            let last = index % perRow == perRow - 1 || index == cells.count - 1
            text += String(cell)
            text += last ? "\r\n" : String(repeating: " ", count: max(0, cellWidth - width(of: cell)))
        }
        if candidates.count > shown.count { text += "… \(candidates.count - shown.count) more\r\n" }
        return text
    }

    // MARK: Rendering

    /// The prompt as drawn: the full prompt when it leaves room for a few characters of the line,
    /// else its last two characters (`> `), else nothing.
    private var shownPrompt: [Character] {
        let text: [Character]
        if let search {
            text =
                Array(search.failed ? "(failed reverse-i-search)`" : "(reverse-i-search)`") + search.query
                + Array("': ")
        } else {
            text = Array(prompt)
        }
        guard let columns else { return text }
        if Self.width(of: text) + 4 <= columns { return text }
        if search != nil {
            return Self.cut(Array("(search)`") + (search?.query ?? []) + Array("': "), toWidth: columns / 2)
        }
        let short = Array(text.suffix(2))
        return Self.width(of: short) + 2 <= columns ? short : []
    }

    /// The line shown (the match during a search).
    private var shownLine: (text: [Character], cursor: Int) {
        if let search, let match = search.match, history.indices.contains(match) {
            let line = Array(history[match])
            return (line, line.count)
        }
        if search != nil { return ([], 0) }
        return (chars, cursor)
    }

    /// Whether the prompt and `text` fit on one row with the cursor after them.
    private func fits(_ text: [Character]) -> Bool {
        guard search == nil else { return false }
        guard let columns else { return true }
        return Self.width(of: shownPrompt) + Self.width(of: text) < columns
    }

    /// The whole row: carriage return, prompt, the visible part of the line, clear to the end of
    /// the row, and the cursor moved back to its place.
    private func render() -> String {
        let prompt = shownPrompt
        let (text, position) = shownLine
        var start = 0
        var end = text.count
        if let columns {
            let room = max(0, columns - Self.width(of: prompt) - 1)
            let beforeCursor = Self.width(of: text[0..<position])
            var used = 0
            if beforeCursor <= room {
                used = beforeCursor
            } else {
                // Scroll: the cursor keeps about a third of the row free after it.
                let target = room > 0 ? max(1, room * 2 / 3) : 0
                start = position
                while start > 0 {
                    let next = used + Self.width(of: text[start - 1])
                    if next > target { break }
                    used = next
                    start -= 1
                }
            }
            end = position
            while end < text.count {
                let next = used + Self.width(of: text[end])
                if next > room { break }
                used = next
                end += 1
            }
        }
        let after = Self.width(of: text[position..<end])
        var output = "\r" + String(prompt) + String(text[start..<end]) + "\u{1B}[K"
        if after > 0 { output += "\u{1B}[\(after)D" }
        return output
    }

    // MARK: Text helpers

    private func decode(_ bytes: [UInt8]) -> Character? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        guard case .scalarValue(let scalar) = decoder.decode(&iterator) else { return nil }
        return Character(scalar)
    }

    /// Whether a character may be echoed: no C0/C1 controls or other non-printing scalars.
    static func isPrintable(_ character: Character) -> Bool {
        character.unicodeScalars.allSatisfy {
            !(0x80...0x9F).contains($0.value) && $0.properties.generalCategory != .control
                && $0.properties.generalCategory != .format && $0.properties.generalCategory != .lineSeparator
                && $0.properties.generalCategory != .paragraphSeparator
        }
    }

    /// Whether a completion candidate's character may be inserted: printable and not blank.
    static func isCompletable(_ character: Character) -> Bool {
        isPrintable(character) && !character.isWhitespace
    }

    /// The longest prefix of `text` that fits in `width` columns.
    static func cut(_ text: [Character], toWidth width: Int) -> [Character] {
        var used = 0
        var kept: [Character] = []
        for character in text {
            let next = used + Self.width(of: character)
            if next > width { break }
            used = next
            kept.append(character)
        }
        return kept
    }

    /// Where the word before `position` starts: after blanks, then back over the word (letters and
    /// digits, or with `blanksOnly` anything but blanks).
    static func wordStart(_ text: [Character], before position: Int, blanksOnly: Bool = false) -> Int {
        var index = min(max(position, 0), text.count)
        let inWord: (Character) -> Bool = blanksOnly ? { !($0 == " " || $0 == "\t") } : { $0.isLetter || $0.isNumber }
        while index > 0, !inWord(text[index - 1]) { index -= 1 }
        while index > 0, inWord(text[index - 1]) { index -= 1 }
        return index
    }

    /// Where the word after `position` ends (Alt-F).
    static func wordEnd(_ text: [Character], after position: Int) -> Int {
        var index = min(max(position, 0), text.count)
        while index < text.count, !(text[index].isLetter || text[index].isNumber) { index += 1 }
        while index < text.count, text[index].isLetter || text[index].isNumber { index += 1 }
        return index
    }

    /// Backspace, space, backspace over `width` columns.
    public static func erase(width: Int) -> String {
        guard width > 0 else { return "" }
        let back = String(repeating: "\u{8}", count: width)
        return back + String(repeating: " ", count: width) + back
    }

    /// Removes trailing blanks, then the word before them (Ctrl-W).
    public static func droppingLastWord(_ text: String) -> String {
        let characters = Array(text)
        return String(characters[0..<wordStart(characters, before: characters.count, blanksOnly: true)])
    }

    public static func width(of text: String) -> Int {
        text.reduce(0) { $0 + width(of: $1) }
    }

    static func width<S: Sequence<Character>>(of text: S) -> Int {
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

/// What Tab asks the completer: the words before the one being completed, and that word's start.
public struct CompletionQuery: Sendable, Equatable {
    public var words: [String]
    public var prefix: String

    public init(words: [String], prefix: String) {
        self.words = words
        self.prefix = prefix
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
