/// A word as the shell would pass it to a program, plus what the static reading learnt about it.
struct ShellWord: Sendable, Equatable {
    var text: String
    /// Some of it was quoted or escaped, so it is never a reserved word.
    var quoted = false
    /// It contains a parameter, command or arithmetic expansion: its runtime value is unknown.
    var expanded = false
    /// `NAME=value` or `NAME+=value` with a literal name: an assignment when it leads a command.
    var assignment = false
    /// The words brace expansion makes of it (`{a,b}c` → `ac`, `bc`); empty when there is none.
    var alternatives: [String] = []

    /// The words the shell passes for it: its brace expansions, or itself.
    var expandedWords: [ShellWord] {
        guard !alternatives.isEmpty else { return [self] }
        return alternatives.map { ShellWord(text: $0, quoted: quoted, expanded: expanded) }
    }
}

/// A single-pass reader over the UTF-8 bytes of a command line. Substitutions `$(…)` are read in
/// place (they share the here-document queue with the outer line); backquotes, `bash -c` scripts
/// and `eval` arguments are read by a nested reader.
struct ShellReader {
    private let bytes: [UInt8]
    private var index = 0
    let depth: Int
    private var nesting = 0
    private var heredocs: [(delimiter: [UInt8], stripTabs: Bool)] = []
    private(set) var commands: [ShellCommand] = []
    var problems: [String] = []
    /// Emptied byte buffers for `readWord` to reuse (it is re-entered through `$(…)`), so a word costs
    /// no allocation of its own.
    private var buffers: [[UInt8]] = []

    /// Nested readers (backquotes, `bash -c`, `eval`) deeper than this are not read.
    static let maxDepth = 8
    /// `$(`/`(` nesting deeper than this is not read (it would only exhaust the stack).
    static let maxNesting = 64

    init(_ text: String, depth: Int) {
        self.bytes = Array(text.utf8)
        self.depth = depth
    }

    /// The words and redirections of the simple command being read.
    private struct Builder {
        var start: Int
        var words: [ShellWord] = []
        var reads: [String] = []
        var writes: [String] = []
        /// Inside a `for NAME in …` header: the words are not a command, only mentioned.
        var skipping = false
        var mentions: [String] = []

        var isEmpty: Bool { words.isEmpty && reads.isEmpty && writes.isEmpty && mentions.isEmpty }

        /// Empties it for the next simple command, keeping its buffers (one allocation per list, not
        /// per command and word).
        mutating func reset(start: Int) {
            self.start = start
            // (Most lists are empty already: not touched then.)
            if !words.isEmpty { words.removeAll(keepingCapacity: true) }
            if !reads.isEmpty { reads.removeAll(keepingCapacity: true) }
            if !writes.isEmpty { writes.removeAll(keepingCapacity: true) }
            if !mentions.isEmpty { mentions.removeAll(keepingCapacity: true) }
            skipping = false
        }
    }

    // MARK: - Lists and commands

    /// Reads commands until `closer` (consumed) or the end of the text.
    mutating func parseList(closer: UInt8?) {
        if closer != nil { nesting += 1 }
        defer { if closer != nil { nesting -= 1 } }
        if nesting > Self.maxNesting {
            problems.append("nested too deeply")
            index = bytes.count
            return
        }
        var builder = Builder(start: commands.count)
        // Room for a typical command's words at once, instead of growing 1, 2, 4, 8.
        builder.words.reserveCapacity(8)
        while true {
            skipBlanks()
            guard index < bytes.count else {
                finish(&builder)
                if closer != nil { problems.append("missing ')'") }
                if !heredocs.isEmpty {
                    problems.append("here-document without a body")
                    heredocs.removeAll()
                }
                return
            }
            let c = bytes[index]
            if let closer, c == closer {
                finish(&builder)
                index += 1
                return
            }
            switch c {
            case .newline:
                finish(&builder)
                index += 1
                readHeredocBodies()
            case .semicolon:
                finish(&builder)
                index += 1
                if let next = peek(), next == .semicolon || next == .ampersand {
                    index += 1
                    problems.append("case statement")
                }
            case .ampersand:
                if peek(1) == .greater {
                    readRedirect(&builder)
                } else {
                    finish(&builder)
                    index += peek(1) == .ampersand ? 2 : 1
                }
            case .pipe:
                finish(&builder)
                index += 1
                if let next = peek(), next == .pipe || next == .ampersand { index += 1 }
            case .openParen:
                if peek(1) == .openParen && builder.words.isEmpty {
                    index += 2
                    scanArithmetic()
                } else {
                    if !builder.words.isEmpty { problems.append("unexpected '(' (a function or array definition)") }
                    finish(&builder)
                    index += 1
                    parseList(closer: .closeParen)
                    builder.reset(start: commands.count)
                }
            case .closeParen:
                problems.append("unmatched ')'")
                finish(&builder)
                index += 1
            case .less, .greater:
                if peek(1) == .openParen {
                    let word = readProcessSubstitution()
                    append(word, to: &builder)
                } else {
                    readRedirect(&builder)
                }
            case .hash:
                while index < bytes.count && bytes[index] != .newline { index += 1 }
            default:
                if atDescriptorRedirect() {
                    readRedirect(&builder)
                } else if let word = readWord() {
                    append(word, to: &builder)
                } else {
                    index += 1
                }
            }
        }
    }

    private mutating func append(_ word: ShellWord, to builder: inout Builder) {
        if builder.skipping {
            if word.alternatives.isEmpty {
                builder.mentions.append(word.text)
            } else {
                builder.mentions += word.alternatives
            }
            return
        }
        if builder.words.isEmpty && !word.quoted && !word.expanded && Self.mayBeReservedWord(word.text) {
            switch word.text {
            case "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "{", "}", "!":
                return
            case "for", "select":
                builder.skipping = true
                return
            case "case":
                problems.append("case statement")
                return
            case "function":
                problems.append("function definition")
                return
            case "coproc":
                problems.append("coproc")
                return
            case "[[":
                builder.words = readTestExpression()
                return
            default:
                break
            }
        }
        if word.alternatives.isEmpty {
            builder.words.append(word)
        } else {
            builder.words += word.expandedWords
        }
    }

    /// Whether `text` may be one of the words `append` treats specially (`if`, `then`, …, `[[`): they
    /// are ASCII without characters any other character is canonically equivalent to, so a word equal to
    /// one starts with the same byte and has as many bytes (`FastPathTests` checks every one passes);
    /// by first byte and length, most command names are ruled out without comparing them.
    static func mayBeReservedWord(_ text: String) -> Bool {
        let utf8 = text.utf8
        guard let first = utf8.first else { return false }
        let count = utf8.count
        switch first {
        case UInt8(ascii: "i"), UInt8(ascii: "["): return count == 2  // if [[
        case UInt8(ascii: "t"), UInt8(ascii: "e"): return count == 4  // then else elif
        case UInt8(ascii: "f"): return count == 2 || count == 3 || count == 8  // fi for function
        case UInt8(ascii: "d"): return count == 2 || count == 4  // do done
        case UInt8(ascii: "w"), UInt8(ascii: "u"): return count == 5  // while until
        case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "!"): return count == 1
        case UInt8(ascii: "s"): return count == 6  // select
        case UInt8(ascii: "c"): return count == 4 || count == 6  // case coproc
        default: return false
        }
    }

    /// Ends the simple command being read: unwraps it and inserts it before the commands found inside
    /// its own substitutions, so a line's commands come in reading order.
    private mutating func finish(_ builder: inout Builder) {
        defer { builder.reset(start: commands.count) }
        guard !builder.isEmpty else { return }
        var emitted = builder.skipping ? [] : unwrap(builder.words[...])
        if emitted.isEmpty { emitted = [ShellCommand(argv: [])] }
        if !builder.reads.isEmpty { emitted[0].reads += builder.reads }
        if !builder.writes.isEmpty { emitted[0].writes += builder.writes }
        if !builder.mentions.isEmpty { emitted[0].mentions += builder.mentions }
        if builder.start >= commands.count {
            // No command of its substitutions came first: appended (inserting at the end costs more).
            commands.append(contentsOf: emitted)
        } else {
            commands.insert(contentsOf: emitted, at: builder.start)
        }
    }

    /// Marks commands whose output becomes words of another command.
    private func substituted(_ commands: [ShellCommand]) -> [ShellCommand] {
        commands.map { command in
            var command = command
            command.substituted = true
            return command
        }
    }

    /// Reads commands up to `)` in place and marks them as substituted.
    private mutating func parseSubstitution() {
        let first = commands.count
        parseList(closer: .closeParen)
        for position in first..<commands.count { commands[position].substituted = true }
    }

    /// Reads a script string (backquotes, `bash -c`, `eval`) with a nested reader.
    mutating func nested(_ script: String) -> [ShellCommand] {
        guard depth < Self.maxDepth else {
            problems.append("nested too deeply")
            return []
        }
        var reader = ShellReader(script, depth: depth + 1)
        reader.parseList(closer: nil)
        problems += reader.problems
        return reader.commands
    }

    // MARK: - Words

    private mutating func readWord() -> ShellWord? {
        if let plain = readPlainWord() { return plain }
        let start = index
        var text = buffers.popLast() ?? []
        defer {
            text.removeAll(keepingCapacity: true)
            buffers.append(text)
        }
        var quoted = false
        var expanded = false
        var literal = true
        var equalsAt: Int?
        var braces: [Int] = []
        loop: while index < bytes.count {
            let c = bytes[index]
            switch c {
            case .space, .tab, .newline, .semicolon, .ampersand, .pipe, .openParen, .closeParen, .less, .greater:
                break loop
            case .backslash:
                literal = false
                if peek(1) == .newline {
                    index += 2
                } else if index + 1 < bytes.count {
                    text.append(bytes[index + 1])
                    quoted = true
                    index += 2
                } else {
                    text.append(c)
                    index += 1
                }
            case .singleQuote:
                literal = false
                quoted = true
                index += 1
                if let end = bytes[index...].firstIndex(of: .singleQuote) {
                    text += bytes[index..<end]
                    index = end + 1
                } else {
                    problems.append("unbalanced single quote")
                    text += bytes[index...]
                    index = bytes.count
                }
            case .doubleQuote:
                literal = false
                quoted = true
                index += 1
                readDoubleQuoted(into: &text, expanded: &expanded)
            case .backquote:
                literal = false
                expanded = true
                readBackquote(into: &text)
            case .dollar:
                literal = false
                readDollar(into: &text, expanded: &expanded, quoted: &quoted, inDoubleQuotes: false)
            case .equals:
                if literal && equalsAt == nil { equalsAt = text.count }
                text.append(c)
                index += 1
            default:
                if c == .openBrace || c == .closeBrace || c == .comma { braces.append(text.count) }
                text.append(c)
                index += 1
            }
        }
        guard index > start else { return nil }
        var assignment = false
        if let equalsAt {
            var name = text[..<equalsAt]
            if name.last == .plus { name = name.dropLast() }
            assignment = Self.isName(name)
        }
        var word = ShellWord(
            text: String(decoding: text, as: UTF8.self), quoted: quoted, expanded: expanded, assignment: assignment)
        if braces.count >= 3 && !assignment {
            if braces.count > BraceExpansion.limit {
                problems.append("brace expansion too large")
            } else if let expansions = BraceExpansion.expand(text, special: braces) {
                if expansions.count > 1 { word.alternatives = expansions.map { String(decoding: $0, as: UTF8.self) } }
            } else {
                problems.append("brace expansion too large")
            }
        }
        return word
    }

    /// A word of bytes the loop of `readWord` only copies (no quote, escape, expansion, `=`, brace or
    /// comma), up to where it would end: made straight from the line's bytes, with none of its
    /// bookkeeping (most words are plain). Nil, with nothing read, for any other word.
    private mutating func readPlainWord() -> ShellWord? {
        var end = index
        scan: while end < bytes.count {
            switch bytes[end] {
            case .space, .tab, .newline, .semicolon, .ampersand, .pipe, .openParen, .closeParen, .less, .greater:
                break scan
            case .backslash, .singleQuote, .doubleQuote, .backquote, .dollar, .equals, .openBrace, .closeBrace,
                .comma:
                return nil
            default:
                end += 1
            }
        }
        guard end > index else { return nil }
        let word = ShellWord(text: String(decoding: bytes[index..<end], as: UTF8.self))
        index = end
        return word
    }

    /// After the opening `"`: reads through the closing quote.
    private mutating func readDoubleQuoted(into text: inout [UInt8], expanded: inout Bool) {
        while index < bytes.count {
            let c = bytes[index]
            switch c {
            case .doubleQuote:
                index += 1
                return
            case .backslash:
                if let next = peek(1) {
                    if next == .newline {
                        index += 2
                    } else if next == .dollar || next == .backquote || next == .doubleQuote || next == .backslash {
                        text.append(next)
                        index += 2
                    } else {
                        text.append(c)
                        index += 1
                    }
                } else {
                    text.append(c)
                    index += 1
                }
            case .dollar:
                var quoted = true
                readDollar(into: &text, expanded: &expanded, quoted: &quoted, inDoubleQuotes: true)
            case .backquote:
                expanded = true
                readBackquote(into: &text)
            default:
                text.append(c)
                index += 1
            }
        }
        problems.append("unbalanced double quote")
    }

    /// At `$`: a parameter, command substitution, arithmetic, `$'…'` or `$"…"`. Expansions keep their
    /// source text in the word (`$HOME/x`, `$(date)`).
    private mutating func readDollar(
        into text: inout [UInt8], expanded: inout Bool, quoted: inout Bool, inDoubleQuotes: Bool
    ) {
        let start = index
        guard let next = peek(1) else {
            text.append(.dollar)
            index += 1
            return
        }
        switch next {
        case .openParen:
            expanded = true
            if peek(2) == .openParen {
                index += 3
                scanArithmetic()
            } else {
                index += 2
                parseSubstitution()
            }
            text += bytes[start..<index]
        case .openBrace:
            expanded = true
            index += 2
            var level = 1
            while index < bytes.count && level > 0 {
                let c = bytes[index]
                if c == .backslash {
                    index += 2
                    continue
                }
                if c == .openBrace {
                    level += 1
                } else if c == .closeBrace {
                    level -= 1
                } else if c == .backquote || (c == .dollar && peek(1) == .openParen) {
                    problems.append("command substitution inside ${…}")
                }
                index += 1
            }
            index = min(index, bytes.count)
            if level > 0 { problems.append("missing '}'") }
            text += bytes[start..<index]
        case .singleQuote where !inDoubleQuotes:
            quoted = true
            index += 2
            readANSIC(into: &text)
        case .doubleQuote where !inDoubleQuotes:
            quoted = true
            index += 2
            readDoubleQuoted(into: &text, expanded: &expanded)
        default:
            if Self.isNameStart(next) {
                index += 2
                while index < bytes.count && Self.isNameChar(bytes[index]) { index += 1 }
                expanded = true
                text += bytes[start..<index]
            } else if Self.isDigit(next) || Self.specialParameters.contains(next) {
                index += 2
                expanded = true
                text += bytes[start..<index]
            } else {
                text.append(.dollar)
                index += 1
            }
        }
    }

    private static let specialParameters: Set<UInt8> = Set("@*#?$!-".utf8)

    /// After `((` or `$((`: skips to the matching `))`. Arithmetic that runs commands is not read.
    private mutating func scanArithmetic() {
        let start = index
        var level = 0
        while index < bytes.count {
            let c = bytes[index]
            if c == .openParen {
                level += 1
            } else if c == .closeParen {
                if level == 0 {
                    guard peek(1) == .closeParen else {
                        problems.append("arithmetic that cannot be read")
                        index += 1
                        return
                    }
                    let content = bytes[start..<index]
                    index += 2
                    for position in content.indices
                    where content[position] == .backquote
                        || (content[position] == .dollar && position + 1 < content.endIndex
                            && content[position + 1] == .openParen
                            && (position + 2 >= content.endIndex || content[position + 2] != .openParen))
                    {
                        problems.append("command substitution inside arithmetic")
                        break
                    }
                    return
                }
                level -= 1
            }
            index += 1
        }
        problems.append("unterminated arithmetic")
    }

    /// At a backquote: reads through the closing one and reads its content as a script.
    private mutating func readBackquote(into text: inout [UInt8]) {
        let start = index
        index += 1
        var inner: [UInt8] = []
        while index < bytes.count {
            let c = bytes[index]
            if c == .backslash, let next = peek(1) {
                if next == .backquote || next == .backslash || next == .dollar {
                    inner.append(next)
                } else {
                    inner.append(c)
                    inner.append(next)
                }
                index += 2
                continue
            }
            if c == .backquote {
                index += 1
                text += bytes[start..<index]
                commands += substituted(nested(String(decoding: inner, as: UTF8.self)))
                return
            }
            inner.append(c)
            index += 1
        }
        problems.append("unbalanced backquote")
        text += bytes[start...]
        commands += substituted(nested(String(decoding: inner, as: UTF8.self)))
    }

    /// After `$'`: ANSI-C quoting.
    private mutating func readANSIC(into text: inout [UInt8]) {
        while index < bytes.count {
            let c = bytes[index]
            if c == .singleQuote {
                index += 1
                return
            }
            guard c == .backslash, let next = peek(1) else {
                text.append(c)
                index += 1
                continue
            }
            index += 2
            switch next {
            case UInt8(ascii: "n"): text.append(10)
            case UInt8(ascii: "t"): text.append(9)
            case UInt8(ascii: "r"): text.append(13)
            case UInt8(ascii: "a"): text.append(7)
            case UInt8(ascii: "b"): text.append(8)
            case UInt8(ascii: "e"), UInt8(ascii: "E"): text.append(27)
            case UInt8(ascii: "f"): text.append(12)
            case UInt8(ascii: "v"): text.append(11)
            case UInt8(ascii: "x"):
                var value: UInt8 = 0
                var digits = 0
                while digits < 2, let digit = peek().flatMap(Self.hexValue) {
                    value = value &* 16 &+ digit
                    digits += 1
                    index += 1
                }
                text.append(digits == 0 ? UInt8(ascii: "x") : value)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = next - UInt8(ascii: "0")
                var digits = 1
                while digits < 3, let digit = peek(), digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") {
                    value = value &* 8 &+ (digit - UInt8(ascii: "0"))
                    digits += 1
                    index += 1
                }
                text.append(value)
            case .backslash, .singleQuote, .doubleQuote, UInt8(ascii: "?"):
                text.append(next)
            default:
                text.append(c)
                text.append(next)
            }
        }
        problems.append("unbalanced $'…' quote")
    }

    /// `<(…)` or `>(…)`: the inner commands are read, but what the shell passes is unknown.
    private mutating func readProcessSubstitution() -> ShellWord {
        let start = index
        problems.append("process substitution")
        index += 2
        parseSubstitution()
        return ShellWord(text: String(decoding: bytes[start..<index], as: UTF8.self), expanded: true)
    }

    /// After `[[`: the words through `]]`, where `<`, `>`, `&&`, `||` and parentheses are operators of
    /// the test, not of the shell.
    private mutating func readTestExpression() -> [ShellWord] {
        var words = [ShellWord(text: "[[")]
        while true {
            skipBlanks()
            guard index < bytes.count else {
                problems.append("missing ']]'")
                return words
            }
            let c = bytes[index]
            switch c {
            case .newline:
                index += 1
            case .semicolon, .ampersand, .pipe, .openParen, .closeParen, .less, .greater:
                var end = index + 1
                if end < bytes.count && bytes[end] == c && (c == .ampersand || c == .pipe) { end += 1 }
                words.append(ShellWord(text: String(decoding: bytes[index..<end], as: UTF8.self)))
                index = end
            default:
                guard let word = readWord() else {
                    index += 1
                    continue
                }
                words += word.expandedWords
                if word.text == "]]" && !word.quoted { return words }
            }
        }
    }

    // MARK: - Redirections

    /// Digits followed by `<` or `>` (`2>&1`, `1>out`): skips the descriptor number.
    private mutating func atDescriptorRedirect() -> Bool {
        var end = index
        while end < bytes.count && Self.isDigit(bytes[end]) { end += 1 }
        guard end > index, end < bytes.count, bytes[end] == .less || bytes[end] == .greater else { return false }
        index = end
        return true
    }

    /// At `<`, `>` or `&>`: reads the operator and its target.
    private mutating func readRedirect(_ builder: inout Builder) {
        var writes = false
        var duplicate = false
        switch bytes[index] {
        case .ampersand:
            index += 2
            if peek() == .greater { index += 1 }
            writes = true
        case .greater:
            index += 1
            if peek() == .greater || peek() == .pipe {
                index += 1
            } else if peek() == .ampersand {
                index += 1
                duplicate = true
            }
            writes = true
        default:
            index += 1
            if peek() == .less {
                index += 1
                if peek() == .less {
                    index += 1
                    skipBlanks()
                    if readWord() == nil { problems.append("a here-string without a word") }
                } else {
                    readHeredocHeader()
                }
                return
            }
            if peek() == .greater {
                index += 1
                writes = true
            } else if peek() == .ampersand {
                index += 1
                duplicate = true
            }
        }
        skipBlanks()
        if let next = peek(), next == .less || next == .greater, peek(1) == .openParen {
            _ = readProcessSubstitution()
            return
        }
        guard let target = readWord() else {
            problems.append("a redirection without a target")
            return
        }
        if duplicate && Self.isDescriptor(target.text) { return }
        for path in target.expandedWords.map(\.text) {
            if writes {
                if !Self.isStandardStream(path) { builder.writes.append(path) }
            } else {
                builder.reads.append(path)
            }
        }
    }

    private static func isDescriptor(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.hasSuffix("-") { digits = digits.dropLast() }
        return digits.allSatisfy(\.isASCIIDigit)
    }

    private static func isStandardStream(_ path: String) -> Bool {
        path == "/dev/null" || path == "/dev/stdout" || path == "/dev/stderr" || path == "/dev/tty"
            || path.hasPrefix("/dev/fd/")
    }

    /// After `<<` or `<<-`: the delimiter. The body is skipped at the next newline. A quoted delimiter
    /// makes the body literal text (read confidently); an unquoted one allows expansions in it.
    private mutating func readHeredocHeader() {
        var stripTabs = false
        if peek() == .dash {
            stripTabs = true
            index += 1
        }
        skipBlanks()
        guard let word = readWord() else {
            problems.append("a here-document without a delimiter")
            return
        }
        if !word.quoted { problems.append("here-document with expansions (unquoted delimiter)") }
        heredocs.append((Array(word.text.utf8), stripTabs))
    }

    /// After a newline: skips the bodies of the here-documents opened on the line just ended.
    private mutating func readHeredocBodies() {
        guard !heredocs.isEmpty else { return }
        for document in heredocs {
            var found = false
            while index < bytes.count {
                var lineEnd = index
                while lineEnd < bytes.count && bytes[lineEnd] != .newline { lineEnd += 1 }
                var lineStart = index
                if document.stripTabs {
                    while lineStart < lineEnd && bytes[lineStart] == .tab { lineStart += 1 }
                }
                let matches = bytes[lineStart..<lineEnd].elementsEqual(document.delimiter)
                index = min(lineEnd + 1, bytes.count)
                if matches {
                    found = true
                    break
                }
            }
            if !found { problems.append("unterminated here-document") }
        }
        heredocs.removeAll()
    }

    // MARK: - Characters

    private func peek(_ offset: Int = 0) -> UInt8? {
        let position = index + offset
        return position < bytes.count ? bytes[position] : nil
    }

    private mutating func skipBlanks() {
        while index < bytes.count {
            let c = bytes[index]
            if c == .space || c == .tab || c == .carriageReturn {
                index += 1
            } else if c == .backslash && peek(1) == .newline {
                index += 2
            } else {
                return
            }
        }
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    static func isNameStart(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || c == UInt8(ascii: "_")
    }

    static func isNameChar(_ c: UInt8) -> Bool { isNameStart(c) || isDigit(c) }

    static func isName(_ text: some Collection<UInt8>) -> Bool {
        guard let first = text.first, isNameStart(first) else { return false }
        return text.allSatisfy(isNameChar)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension UInt8 {
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let space = UInt8(ascii: " ")
    static let semicolon = UInt8(ascii: ";")
    static let ampersand = UInt8(ascii: "&")
    static let pipe = UInt8(ascii: "|")
    static let openParen = UInt8(ascii: "(")
    static let closeParen = UInt8(ascii: ")")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let less = UInt8(ascii: "<")
    static let greater = UInt8(ascii: ">")
    static let hash = UInt8(ascii: "#")
    static let backslash = UInt8(ascii: "\\")
    static let singleQuote = UInt8(ascii: "'")
    static let doubleQuote = UInt8(ascii: "\"")
    static let backquote = UInt8(ascii: "`")
    static let dollar = UInt8(ascii: "$")
    static let equals = UInt8(ascii: "=")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let at = UInt8(ascii: "@")
    static let plus = UInt8(ascii: "+")
    static let dash = UInt8(ascii: "-")
    static let slash = UInt8(ascii: "/")
    static let tilde = UInt8(ascii: "~")
    static let star = UInt8(ascii: "*")
    static let question = UInt8(ascii: "?")
    static let dot = UInt8(ascii: ".")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
