import FoundationEssentials

/// A TOML 1.0 parser in Swift: pure, bounded (nesting depth, document size) and total — every
/// input ends in a value or a `TOMLSyntaxError` with line and column, never a trap. (It replaced
/// toml++, which only asserts much of TOML's grammar: `[é]` or `[&x]` aborted a debug build and
/// are undefined behaviour in a release build; found by `scripts/fuzz config-file`.)
struct TOMLParser {
    struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        let message: String
        let line: Int
        let column: Int
        var description: String { "\(message) (line \(line), column \(column))" }
    }

    static let maxDepth = 64

    /// A table while it is built: how it came to exist decides what may still extend it.
    final class Table {
        enum Origin { case implicit, header, dotted, inline }
        var origin: Origin
        var entries: [String: Entry] = [:]
        init(_ origin: Origin) { self.origin = origin }

        var value: [String: ConfigValue] { entries.mapValues(\.value) }
    }

    enum Entry {
        case value(ConfigValue)
        case table(Table)
        case tableArray([Table])

        var value: ConfigValue {
            switch self {
            case .value(let value): value
            case .table(let table): .table(table.value)
            case .tableArray(let tables): .array(tables.map { .table($0.value) })
            }
        }
    }

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var depth = 0
    /// The 1-based line of each top-level `[[name]]` header, by name, in order.
    private var tableArrayLines: [String: [Int]] = [:]
    /// `lineCount` newlines lie before `lineCounted` (headers are counted forwards, once).
    private var lineCount = 0
    private var lineCounted = 0

    private init(_ text: String) {
        scalars = Self.scalars(of: text)
    }

    /// `Array(text.unicodeScalars)`, decoded from the string's UTF-8 bytes in one pass (the scalar
    /// view's iteration was a third of the parse, issue 10). A Swift string is valid UTF-8; should a
    /// sequence not decode all the same, the scalar view decides.
    static func scalars(of text: String) -> [Unicode.Scalar] {
        let decoded: [Unicode.Scalar]?? = text.utf8.withContiguousStorageIfAvailable { bytes in
            var scalars: [Unicode.Scalar] = []
            scalars.reserveCapacity(bytes.count)
            var index = 0
            while index < bytes.count {
                let lead = bytes[index]
                if lead < 0x80 {
                    scalars.append(Unicode.Scalar(lead))
                    index += 1
                    continue
                }
                let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
                guard index + length <= bytes.count else { return nil }
                var value = UInt32(lead) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
                for offset in 1..<length { value = value << 6 | UInt32(bytes[index + offset] & 0x3F) }
                guard let scalar = Unicode.Scalar(value) else { return nil }
                scalars.append(scalar)
                index += length
            }
            return scalars
        }
        return (decoded ?? nil) ?? Array(text.unicodeScalars)
    }

    static func parse(_ text: String) throws(SyntaxError) -> [String: ConfigValue] {
        try parseWithLines(text).table
    }

    /// The document and, for each top-level array of tables (`[[rule]]`), the 1-based line of each of
    /// its headers in order: what a policy file's rule `source` names (issue 10: scanning the text a
    /// second time for them was ~4 % of `policy explain`).
    static func parseWithLines(_ text: String) throws(SyntaxError) -> (
        table: [String: ConfigValue], tableArrayLines: [String: [Int]]
    ) {
        var parser = TOMLParser(text)
        let table = try parser.document()
        return (table, parser.tableArrayLines)
    }

    /// The 1-based line of the current position, counting only what earlier calls have not.
    private mutating func currentLine() -> Int {
        let end = min(index, scalars.count)
        while lineCounted < end {
            if scalars[lineCounted] == "\n" { lineCount += 1 }
            lineCounted += 1
        }
        return lineCount + 1
    }

    // MARK: Document

    private mutating func document() throws(SyntaxError) -> [String: ConfigValue] {
        let root = Table(.header)
        var current = root
        while true {
            skipBlank()
            guard let scalar = peek() else { break }
            if scalar == "\n" || scalar == "#" || scalar == "\r" {
                try endOfLine()
                continue
            }
            if scalar == "[" {
                let isArray = peek(1) == "["
                let line = isArray ? currentLine() : 0
                advance(isArray ? 2 : 1)
                skipBlank()
                let path = try key()
                try expect("]", "expected ']' to close the table header")
                if isArray { try expect("]", "expected ']]' to close the array-of-tables header") }
                current = try isArray ? appendTableArray(root, path) : defineTable(root, path)
                if isArray, path.count == 1 { tableArrayLines[path[0], default: []].append(line) }
                try endOfLine()
                continue
            }
            let path = try key()
            try expect("=", "expected '=' after the key")
            skipBlank()
            let value = try value()
            try assign(current, path, value, origin: .dotted)
            try endOfLine()
        }
        return root.value
    }

    /// After a statement: blanks, an optional comment, then a newline or the end.
    private mutating func endOfLine() throws(SyntaxError) {
        skipBlank()
        if peek() == "#" {
            advance()
            while let scalar = peek(), scalar != "\n" {
                try checkCommentScalar(scalar)
                advance()
            }
        }
        if peek() == "\r" && peek(1) == "\n" { advance() }
        guard let scalar = peek() else { return }
        guard scalar == "\n" else { throw error("expected the end of the line, found \(describe(scalar))") }
        advance()
    }

    // MARK: Tables

    private func defineTable(_ root: Table, _ path: [String]) throws(SyntaxError) -> Table {
        let parent = try walk(root, path.dropLast(), creating: .implicit, through: true)
        let name = path[path.count - 1]
        switch parent.entries[name] {
        case nil:
            let table = Table(.header)
            parent.entries[name] = .table(table)
            return table
        case .table(let table) where table.origin == .implicit:
            table.origin = .header
            return table
        default:
            throw error("table [\(path.joined(separator: "."))] is defined more than once")
        }
    }

    private func appendTableArray(_ root: Table, _ path: [String]) throws(SyntaxError) -> Table {
        let parent = try walk(root, path.dropLast(), creating: .implicit, through: true)
        let name = path[path.count - 1]
        let table = Table(.header)
        switch parent.entries[name] {
        case nil: parent.entries[name] = .tableArray([table])
        case .tableArray(let tables): parent.entries[name] = .tableArray(tables + [table])
        default: throw error("[[\(path.joined(separator: "."))]] names something that is not an array of tables")
        }
        return table
    }

    /// Follows `path` from `table`, creating missing tables with `origin`. Headers may pass
    /// through arrays of tables (to their last element) and any non-inline table; dotted keys only
    /// through tables that dotted keys created.
    private func walk(
        _ table: Table, _ path: ArraySlice<String>, creating origin: Table.Origin, through headers: Bool
    ) throws(SyntaxError) -> Table {
        var current = table
        for name in path {
            switch current.entries[name] {
            case nil:
                let next = Table(origin)
                current.entries[name] = .table(next)
                current = next
            case .table(let next) where next.origin != .inline && (headers || next.origin == .dotted):
                current = next
            case .tableArray(let tables) where headers:
                guard let last = tables.last else { throw error("empty array of tables \(name)") }
                current = last
            default:
                throw error("key \(name) is already defined as something else")
            }
        }
        return current
    }

    private func assign(
        _ table: Table, _ path: [String], _ value: ConfigValue, origin: Table.Origin
    ) throws(SyntaxError) {
        let parent = try walk(table, path.dropLast(), creating: origin, through: false)
        let name = path[path.count - 1]
        guard parent.entries[name] == nil else {
            throw error("key \(path.joined(separator: ".")) is defined more than once")
        }
        parent.entries[name] = .value(value)
    }

    // MARK: Keys

    private mutating func key() throws(SyntaxError) -> [String] {
        var parts: [String] = []
        while true {
            skipBlank()
            guard let scalar = peek() else { throw error("expected a key, found the end of the file") }
            if scalar == "\"" {
                guard peek(1) != "\"" || peek(2) != "\"" else { throw error("a key cannot be a multi-line string") }
                parts.append(try basicString())
            } else if scalar == "'" {
                guard peek(1) != "'" || peek(2) != "'" else { throw error("a key cannot be a multi-line string") }
                parts.append(try literalString())
            } else if Self.isBare(scalar) {
                var bare = String.UnicodeScalarView()
                while let next = peek(), Self.isBare(next) {
                    bare.append(next)
                    advance()
                }
                parts.append(String(bare))
            } else {
                throw error("expected a key (letters, digits, _ - or a quoted key), found \(describe(scalar))")
            }
            skipBlank()
            guard peek() == "." else { return parts }
            advance()
        }
    }

    private static func isBare(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }

    // MARK: Values

    private mutating func value() throws(SyntaxError) -> ConfigValue {
        guard let scalar = peek() else { throw error("expected a value, found the end of the file") }
        switch scalar {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" { return .string(try multilineBasicString()) }
            return .string(try basicString())
        case "'":
            if peek(1) == "'" && peek(2) == "'" { return .string(try multilineLiteralString()) }
            return .string(try literalString())
        case "[":
            return try nested { (parser: inout TOMLParser) throws(SyntaxError) in try parser.array() }
        case "{":
            return try nested { (parser: inout TOMLParser) throws(SyntaxError) in try parser.inlineTable() }
        default:
            return try bareValue()
        }
    }

    private mutating func nested(
        _ body: (inout TOMLParser) throws(SyntaxError) -> ConfigValue
    ) throws(SyntaxError) -> ConfigValue {
        guard depth < Self.maxDepth else { throw error("values nested more than \(Self.maxDepth) deep") }
        depth += 1
        defer { depth -= 1 }
        return try body(&self)
    }

    private mutating func array() throws(SyntaxError) -> ConfigValue {
        advance()  // [
        var items: [ConfigValue] = []
        while true {
            try skipBlankLinesAndComments()
            if peek() == "]" {
                advance()
                return .array(items)
            }
            items.append(try value())
            try skipBlankLinesAndComments()
            switch peek() {
            case ",": advance()
            case "]":
                advance()
                return .array(items)
            case let other: throw error("expected ',' or ']' in the array, found \(other.map(describe) ?? "the end")")
            }
        }
    }

    private mutating func inlineTable() throws(SyntaxError) -> ConfigValue {
        advance()  // {
        let table = Table(.dotted)
        skipBlank()
        if peek() == "}" {
            advance()
            return .table([:])
        }
        while true {
            let path = try key()
            try expect("=", "expected '=' after the key")
            skipBlank()
            try assign(table, path, try value(), origin: .dotted)
            skipBlank()
            switch peek() {
            case ",":
                advance()
                skipBlank()
            case "}":
                advance()
                return .table(table.value)
            case let other:
                throw error("expected ',' or '}' in the inline table, found \(other.map(describe) ?? "the end")")
            }
        }
    }

    /// Booleans, numbers and dates: the run of scalars up to a delimiter.
    private mutating func bareValue() throws(SyntaxError) -> ConfigValue {
        let start = index
        var text = String.UnicodeScalarView()
        while let scalar = peek(), !",]}#\n\r\t".unicodeScalars.contains(scalar) {
            // A space ends the value, except the one between a date and a time.
            if scalar == " " {
                guard Self.isDate(String(text)), let next = peek(1), ("0"..."9").contains(next) else { break }
            }
            text.append(scalar)
            advance()
        }
        let word = String(text)
        if word == "true" { return .bool(true) }
        if word == "false" { return .bool(false) }
        if let number = Self.integer(word) { return .integer(number) }
        if let number = Self.float(word) { return .double(number) }
        if Self.isDateTime(word) { return .datetime(word) }
        index = start
        if word.isEmpty {
            throw error("expected a value, found \(peek().map(describe) ?? "the end of the file")")
        }
        throw error("expected a value (string, number, boolean, date, array or table), found \(Self.quoted(word))")
    }

    static func integer(_ word: String) -> Int? {
        var digits = Substring(word)
        var radix = 10
        var negative = false
        if digits.hasPrefix("0x") || digits.hasPrefix("0o") || digits.hasPrefix("0b") {
            radix = digits.hasPrefix("0x") ? 16 : digits.hasPrefix("0o") ? 8 : 2
            digits = digits.dropFirst(2)
        } else {
            if digits.first == "+" || digits.first == "-" {
                negative = digits.first == "-"
                digits = digits.dropFirst()
            }
            if digits.count > 1 && digits.first == "0" { return nil }  // no leading zeros
        }
        guard Self.underscoresSeparateDigits(digits) else { return nil }
        let plain = digits.filter { $0 != "_" }
        guard !plain.isEmpty, let magnitude = UInt64(plain, radix: radix) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int.min : -Int(magnitude)
        }
        guard magnitude <= UInt64(Int.max) else { return nil }
        return Int(magnitude)
    }

    static func float(_ word: String) -> Double? {
        var body = Substring(word)
        var sign = ""
        if body.first == "+" || body.first == "-" {
            sign = body.first == "-" ? "-" : ""
            body = body.dropFirst()
        }
        if body == "inf" { return sign == "-" ? -.infinity : .infinity }
        if body == "nan" { return .nan }
        // digits [. digits] [e [+-] digits], underscores only between digits, no leading zero.
        let parts = body.split(separator: "e", maxSplits: 1, omittingEmptySubsequences: false)
        let exponentParts = body.split(separator: "E", maxSplits: 1, omittingEmptySubsequences: false)
        let (mantissa, exponent): (Substring, Substring?) =
            parts.count == 2
            ? (parts[0], parts[1]) : exponentParts.count == 2 ? (exponentParts[0], exponentParts[1]) : (body, nil)
        let pieces = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard exponent != nil || pieces.count == 2 else { return nil }
        guard let whole = pieces.first, underscoresSeparateDigits(whole), !whole.isEmpty else { return nil }
        if whole.count > 1 && whole.first == "0" { return nil }
        if pieces.count == 2 && (pieces[1].isEmpty || !underscoresSeparateDigits(pieces[1])) { return nil }
        if var exponent {
            if exponent.first == "+" || exponent.first == "-" { exponent = exponent.dropFirst() }
            guard !exponent.isEmpty, underscoresSeparateDigits(exponent) else { return nil }
        }
        return Double(sign + body.filter { $0 != "_" })
    }

    /// Digits (of any radix the caller checks) with single underscores only between them.
    private static func underscoresSeparateDigits(_ text: Substring) -> Bool {
        var previousWasDigit = false
        for character in text {
            if character == "_" {
                guard previousWasDigit else { return false }
                previousWasDigit = false
            } else {
                guard character.isASCII, character.isHexDigit else { return false }
                previousWasDigit = true
            }
        }
        return previousWasDigit || text.isEmpty
    }

    private static func isDate(_ word: String) -> Bool {
        let scalars = Array(word.unicodeScalars)
        guard scalars.count == 10 else { return false }
        return scalars.enumerated().allSatisfy { offset, scalar in
            offset == 4 || offset == 7 ? scalar == "-" : ("0"..."9").contains(scalar)
        }
    }

    /// Offset or local date-times, local dates and local times (kept as their text): what
    /// `^(\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?)?|\d{2}:\d{2}:\d{2}(\.\d+)?)$`
    /// matched with ICU (Foundation's `range(of:options: .regularExpression)`), by Unicode scalar: `\d` is
    /// any decimal digit (`Nd`), and `$` also matches before one line terminator ending the word.
    static func isDateTime(_ word: String) -> Bool {
        var scalars = Array(word.unicodeScalars)
        if let last = scalars.last, isLineTerminator(last) { scalars.removeLast() }
        var position = 0
        func digits(_ count: Int) -> Bool {
            guard position + count <= scalars.count else { return false }
            for offset in 0..<count where scalars[position + offset].properties.numericType != .decimal {
                return false
            }
            position += count
            return true
        }
        func literal(_ accepted: (Unicode.Scalar) -> Bool) -> Bool {
            guard position < scalars.count, accepted(scalars[position]) else { return false }
            position += 1
            return true
        }
        /// `\d{2}:\d{2}:\d{2}(\.\d+)?`
        func time() -> Bool {
            guard digits(2), literal({ $0 == ":" }), digits(2), literal({ $0 == ":" }), digits(2) else { return false }
            if literal({ $0 == "." }) {
                guard digits(1) else { return false }
                while digits(1) {}
            }
            return true
        }
        // A time alone.
        if time() && position == scalars.count { return true }
        position = 0
        guard digits(4), literal({ $0 == "-" }), digits(2), literal({ $0 == "-" }), digits(2) else { return false }
        if position == scalars.count { return true }
        guard literal({ $0 == "T" || $0 == "t" || $0 == " " }), time() else { return false }
        if position == scalars.count { return true }
        if literal({ $0 == "Z" || $0 == "z" }) { return position == scalars.count }
        guard literal({ $0 == "+" || $0 == "-" }), digits(2), literal({ $0 == ":" }), digits(2) else { return false }
        return position == scalars.count
    }

    /// ICU's line terminators (where `$` also matches).
    private static func isLineTerminator(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A...0x0D, 0x85, 0x2028, 0x2029: true
        default: false
        }
    }

    /// A scalar's value as `%04X` prints it.
    private static func hex(_ scalar: Unicode.Scalar) -> String {
        let digits = String(scalar.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    // MARK: Strings

    private mutating func basicString() throws(SyntaxError) -> String {
        advance()  // "
        // Most strings are printable ASCII without escapes up to the closing quote: copied at once
        // (scalar by scalar, checking and appending each, they were most of the parse; issue 10).
        let start = index
        var end = start
        while end < scalars.count {
            let value = scalars[end].value
            guard value >= 0x20 && value < 0x7F && value != 0x22 && value != 0x5C else { break }
            end += 1
        }
        if end < scalars.count && scalars[end] == "\"" {
            index = end + 1
            let scalars = scalars
            return String(unsafeUninitializedCapacity: end - start) { buffer in
                for offset in 0..<(end - start) {
                    buffer[offset] = UInt8(truncatingIfNeeded: scalars[start + offset].value)
                }
                return end - start
            }
        }
        // Otherwise as UTF-8 bytes, decoded once.
        var text: [UInt8] = []
        while true {
            guard let scalar = peek(), scalar != "\n" else { throw error("unterminated string") }
            advance()
            if scalar == "\"" { return String(decoding: text, as: UTF8.self) }
            if scalar == "\\" {
                Self.append(try escape(), to: &text)
                continue
            }
            try checkStringScalar(scalar)
            Self.append(scalar, to: &text)
        }
    }

    private static func append(_ scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
        if scalar.isASCII {
            bytes.append(UInt8(truncatingIfNeeded: scalar.value))
        } else {
            bytes.append(contentsOf: String(scalar).utf8)
        }
    }

    private mutating func multilineBasicString() throws(SyntaxError) -> String {
        advance(3)
        skipNewline()
        var text = String.UnicodeScalarView()
        while true {
            guard let scalar = peek() else { throw error("unterminated multi-line string") }
            if scalar == "\"" && peek(1) == "\"" && peek(2) == "\"" {
                // Up to two quotes may end the content right before the closing three.
                var extra = 0
                while extra < 2 && peek(3 + extra) == "\"" { extra += 1 }
                for _ in 0..<extra { text.append("\"") }
                advance(3 + extra)
                return String(text)
            }
            advance()
            if scalar == "\\" {
                // A backslash ending a line trims the newline and the blanks that follow.
                var look = index
                while look < scalars.count && (scalars[look] == " " || scalars[look] == "\t") { look += 1 }
                if look < scalars.count && (scalars[look] == "\n" || scalars[look] == "\r") {
                    index = look
                    while let next = peek(), next == " " || next == "\t" || next == "\n" || next == "\r" { advance() }
                    continue
                }
                text.append(try escape())
                continue
            }
            if scalar != "\n" && scalar != "\r" { try checkStringScalar(scalar) }
            text.append(scalar)
        }
    }

    private mutating func literalString() throws(SyntaxError) -> String {
        advance()  // '
        var text = String.UnicodeScalarView()
        while true {
            guard let scalar = peek(), scalar != "\n" else { throw error("unterminated string") }
            advance()
            if scalar == "'" { return String(text) }
            try checkStringScalar(scalar)
            text.append(scalar)
        }
    }

    private mutating func multilineLiteralString() throws(SyntaxError) -> String {
        advance(3)
        skipNewline()
        var text = String.UnicodeScalarView()
        while true {
            guard let scalar = peek() else { throw error("unterminated multi-line string") }
            if scalar == "'" && peek(1) == "'" && peek(2) == "'" {
                var extra = 0
                while extra < 2 && peek(3 + extra) == "'" { extra += 1 }
                for _ in 0..<extra { text.append("'") }
                advance(3 + extra)
                return String(text)
            }
            advance()
            if scalar != "\n" && scalar != "\r" { try checkStringScalar(scalar) }
            text.append(scalar)
        }
    }

    private mutating func escape() throws(SyntaxError) -> Unicode.Scalar {
        guard let scalar = peek() else { throw error("unterminated string") }
        advance()
        switch scalar {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let count = scalar == "u" ? 4 : 8
            var hex = ""
            for _ in 0..<count {
                guard let digit = peek(), digit.isASCII, Character(digit).isHexDigit else {
                    throw error("expected \(count) hex digits after \\\(scalar)")
                }
                hex.unicodeScalars.append(digit)
                advance()
            }
            guard let value = UInt32(hex, radix: 16), let result = Unicode.Scalar(value) else {
                throw error("\\\(scalar)\(hex) is not a Unicode scalar value")
            }
            return result
        default:
            throw error("unknown escape \\\(describe(scalar))")
        }
    }

    /// TOML allows no control characters in strings but tab (escape them instead).
    private func checkStringScalar(_ scalar: Unicode.Scalar) throws(SyntaxError) {
        if (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F {
            throw error("a control character (U+\(Self.hex(scalar))) in a string; escape it")
        }
    }

    private func checkCommentScalar(_ scalar: Unicode.Scalar) throws(SyntaxError) {
        if (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F {
            throw error("a control character (U+\(Self.hex(scalar))) in a comment")
        }
    }

    // MARK: Scanning

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let position = index + offset
        return position < scalars.count ? scalars[position] : nil
    }

    private mutating func advance(_ count: Int = 1) {
        index = min(scalars.count, index + count)
    }

    private mutating func skipBlank() {
        while let scalar = peek(), scalar == " " || scalar == "\t" { advance() }
    }

    private mutating func skipNewline() {
        if peek() == "\n" {
            advance()
        } else if peek() == "\r" && peek(1) == "\n" {
            advance(2)
        }
    }

    private mutating func skipBlankLinesAndComments() throws(SyntaxError) {
        while true {
            skipBlank()
            switch peek() {
            case "\n": advance()
            case "\r" where peek(1) == "\n": advance(2)
            case "#": try endOfLine()
            default: return
            }
        }
    }

    private mutating func expect(_ scalar: Unicode.Scalar, _ message: String) throws(SyntaxError) {
        skipBlank()
        guard peek() == scalar else {
            throw error("\(message), found \(peek().map(describe) ?? "the end of the file")")
        }
        advance()
    }

    private func describe(_ scalar: Unicode.Scalar) -> String {
        if scalar.isASCII && scalar.value >= 0x20 && scalar.value != 0x7F { return "'\(scalar)'" }
        if scalar == "\n" { return "the end of the line" }
        return scalar.isASCII
            ? "a control character (U+\(Self.hex(scalar)))"
            : "a non-ASCII character (U+\(Self.hex(scalar)))"
    }

    private static func quoted(_ word: String) -> String {
        let shown = word.unicodeScalars.prefix(40).map { scalar in
            scalar.isASCII && scalar.value >= 0x20 && scalar.value != 0x7F
                ? String(scalar) : "\\u{\(String(scalar.value, radix: 16))}"
        }
        return "\"" + shown.joined() + (word.unicodeScalars.count > 40 ? "…" : "") + "\""
    }

    /// An error at the current position.
    private func error(_ message: String) -> SyntaxError {
        var line = 1
        var column = 1
        for scalar in scalars[..<min(index, scalars.count)] {
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return SyntaxError(message: message, line: line, column: column)
    }
}
