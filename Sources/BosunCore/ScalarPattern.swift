/// A small backtracking regular-expression matcher over Unicode scalars, for the built-in patterns of
/// the Redactor and the hook input, so the host helper needs no ICU (NSRegularExpression).
///
/// It reads the subset of ICU's syntax those patterns use and matches with ICU's semantics: leftmost
/// match, ordered alternation, greedy and lazy quantifiers (`* + ? {n} {n,} {n,m}`), capturing and
/// `(?:…)` groups, back references, look-ahead and single-scalar look-behind, `^` (and `(?m)`),
/// `$`, `\b` (ICU's word boundary: word = Alphabetic, marks, decimal digits, connector punctuation,
/// ZWNJ/ZWJ; combining marks and format characters never start a boundary), `\s` (White_Space), `\d`
/// (decimal digits), `.` (not a line terminator), classes with ranges, `(?i)` (ICU's case folding: a
/// class or a single letter matches simple case variants, so `s` matches `ſ` and `k` the Kelvin sign;
/// a literal run of two or more characters matches full foldings, so `passw` matches `paßw`).
/// Patterns are constants: an unsupported construct is a ``SyntaxError`` (tests compile each one).
public struct ScalarPattern: Sendable {
    public struct Options: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let caseInsensitive = Options(rawValue: 1)
        public static let multiline = Options(rawValue: 2)
    }

    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// One match: `groups[0]` is the whole match; a group that did not take part is nil.
    public struct Match: Sendable {
        public let groups: [Range<Int>?]
        public var range: Range<Int> { groups[0] ?? 0..<0 }
    }

    let program: Program
    /// Number of capturing groups (not counting the whole match).
    public let groupCount: Int

    public init(_ pattern: String, options: Options = []) throws(SyntaxError) {
        var parser = Parser(pattern: Array(pattern.unicodeScalars), options: options)
        let node = try parser.parseWhole()
        groupCount = parser.groupCount
        program = try Program(node: node, slots: 2 * (parser.groupCount + 1))
    }

    /// The leftmost match starting at or after `start`.
    public func firstMatch(in text: [Unicode.Scalar], from start: Int = 0) -> Match? {
        var scratch = Program.Scratch(slots: program.slots)
        return program.firstMatch(text, from: max(0, start), groupCount: groupCount, scratch: &scratch)
    }

    /// Every non-overlapping match, left to right (as NSRegularExpression's `matches(in:range:)`).
    public func matches(in text: [Unicode.Scalar]) -> [Match] {
        var found: [Match] = []
        var position = 0
        var scratch = Program.Scratch(slots: program.slots)
        while position <= text.count,
            let match = program.firstMatch(text, from: position, groupCount: groupCount, scratch: &scratch)
        {
            found.append(match)
            position = match.range.isEmpty ? match.range.upperBound + 1 : match.range.upperBound
        }
        return found
    }
}

// MARK: - Scalar classes

extension ScalarPattern {
    /// A set of scalars: ranges plus ICU's property classes, possibly negated.
    struct ScalarSet: Sendable {
        var ranges: [ClosedRange<UInt32>] = []
        var space = false
        var digit = false
        var word = false
        var negated = false

        /// Membership of the 128 ASCII scalars (the fast path of matching), without Unicode lookups:
        /// ASCII's White_Space is tab…carriage return and space, its `\d` 0–9, its `\w` 0–9 A–Z a–z _.
        func asciiBits() -> ASCIIBits {
            var bits = ASCIIBits()
            for range in ranges where range.lowerBound < 128 {
                for value in range.lowerBound...min(range.upperBound, 127) { bits.insert(value) }
            }
            var extra: [ClosedRange<UInt32>] = []
            if space { extra += [0x09...0x0D, 0x20...0x20] }
            if digit || word { extra.append(0x30...0x39) }
            if word { extra += [0x41...0x5A, 0x61...0x7A, 0x5F...0x5F] }
            for range in extra {
                for value in range { bits.insert(value) }
            }
            return negated ? ASCIIBits(low: ~bits.low, high: ~bits.high) : bits
        }

        func contains(_ scalar: Unicode.Scalar) -> Bool {
            let value = scalar.value
            var inside = ranges.contains { $0.contains(value) }
            if !inside && space { inside = scalar.properties.isWhitespace }
            if !inside && digit { inside = scalar.properties.generalCategory == .decimalNumber }
            if !inside && word { inside = ScalarPattern.isWordScalar(scalar) }
            return inside != negated
        }

        /// ICU's case closure of the positive set, for ASCII letters (the only letters our patterns
        /// name): the other case, and `ſ` for s and the Kelvin sign for k.
        mutating func closeOverCase() {
            var added: [ClosedRange<UInt32>] = []
            for letter in UInt32(UInt8(ascii: "a"))...UInt32(UInt8(ascii: "z")) {
                let upper = letter - 32
                let hasLower = ranges.contains { $0.contains(letter) }
                let hasUpper = ranges.contains { $0.contains(upper) }
                guard hasLower || hasUpper else { continue }
                added.append(letter...letter)
                added.append(upper...upper)
                if letter == UInt32(UInt8(ascii: "s")) { added.append(0x17F...0x17F) }
                if letter == UInt32(UInt8(ascii: "k")) { added.append(0x212A...0x212A) }
            }
            ranges += added
        }
    }

    /// A set of ASCII scalars as two words.
    struct ASCIIBits: Sendable {
        var low: UInt64 = 0
        var high: UInt64 = 0

        static let all = ASCIIBits(low: ~0, high: ~0)

        @inline(__always) func contains(_ value: UInt32) -> Bool {
            value < 64 ? low & (1 << UInt64(value)) != 0 : high & (1 << UInt64(value &- 64)) != 0
        }

        mutating func insert(_ value: UInt32) {
            if value < 64 { low |= 1 << UInt64(value) } else if value < 128 { high |= 1 << UInt64(value - 64) }
        }

        mutating func formUnion(_ other: ASCIIBits) {
            low |= other.low
            high |= other.high
        }
    }

    /// ICU's `\w` for `\b`: Alphabetic, marks, decimal digits, connector punctuation, ZWNJ, ZWJ.
    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value == 0x200C || scalar.value == 0x200D { return true }
        let properties = scalar.properties
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// Scalars `\b` looks through (ICU: Grapheme_Extend or a format character).
    static func isTransparentForBoundary(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isGraphemeExtend || scalar.properties.generalCategory == .format
    }

    /// ICU's line terminators, for `.` and `(?m)^`.
    static func isLineTerminator(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return (0x0A...0x0D).contains(value) || value == 0x85 || value == 0x2028 || value == 0x2029
    }

    /// Simple case folding, enough for comparing with an ASCII pattern scalar.
    static func simpleFold(_ value: UInt32) -> UInt32 {
        if (0x41...0x5A).contains(value) { return value + 32 }
        if value == 0x17F { return 0x73 }
        if value == 0x212A { return 0x6B }
        return value
    }

    /// Full case folding of one input scalar, where it folds to ASCII letters (ß → ss, ﬁ → fi…);
    /// nil when the simple folding is the whole folding (or the folding is not ASCII, which an ASCII
    /// pattern cannot match anyway).
    static func fullFoldExpansion(_ value: UInt32) -> [UInt32]? {
        switch value {
        case 0xDF, 0x1E9E: return [0x73, 0x73]
        case 0xFB00: return [0x66, 0x66]
        case 0xFB01: return [0x66, 0x69]
        case 0xFB02: return [0x66, 0x6C]
        case 0xFB03: return [0x66, 0x66, 0x69]
        case 0xFB04: return [0x66, 0x66, 0x6C]
        case 0xFB05, 0xFB06: return [0x73, 0x74]
        // İ folds to i + U+0307, ŉ, ǰ, ẖ… to a letter and a mark: never a match for an ASCII pattern.
        case 0x130, 0x149, 0x1F0, 0x1E96, 0x1E97, 0x1E98, 0x1E99, 0x1E9A: return [0x110000]
        default: return nil
        }
    }
}

// MARK: - Syntax

extension ScalarPattern {
    indirect enum Node: Sendable {
        case empty
        case scalar(UInt32, fold: Bool)
        case string([UInt32], fold: Bool)
        case set(ScalarSet)
        case any
        case sequence([Node])
        case alternation([Node])
        case group(Int?, Node)
        case repetition(Node, min: Int, max: Int?, greedy: Bool)
        case textStart
        case lineStart
        case textEnd
        case wordBoundary(Bool)
        case look(Node, ahead: Bool, negated: Bool)
        case backReference(Int, fold: Bool)

        /// The fewest scalars it can match.
        var minimumLength: Int {
            switch self {
            case .empty, .textStart, .lineStart, .textEnd, .wordBoundary, .look, .backReference: 0
            case .scalar, .set, .any: 1
            case .string(let scalars, _): scalars.count
            case .sequence(let nodes): nodes.reduce(0) { $0 + $1.minimumLength }
            case .alternation(let nodes): nodes.map(\.minimumLength).min() ?? 0
            case .group(_, let node): node.minimumLength
            case .repetition(let node, let min, _, _): node.minimumLength * min
            }
        }

        /// The exact length when fixed (for look-behind).
        var fixedLength: Int? {
            switch self {
            case .empty, .textStart, .lineStart, .textEnd, .wordBoundary, .look: 0
            case .scalar, .set, .any: 1
            case .string(let scalars, let fold): fold ? nil : scalars.count
            case .sequence(let nodes):
                nodes.reduce(Optional(0)) { total, node in total.flatMap { t in node.fixedLength.map { t + $0 } } }
            case .alternation(let nodes):
                Set(nodes.map(\.fixedLength)).count == 1 ? nodes.first?.fixedLength ?? 0 : nil
            case .group(_, let node): node.fixedLength
            case .repetition(let node, let min, let max, _): max == min ? node.fixedLength.map { $0 * min } : nil
            case .backReference: nil
            }
        }
    }

    struct Parser {
        let pattern: [Unicode.Scalar]
        var index = 0
        var caseInsensitive: Bool
        var multiline: Bool
        var groupCount = 0

        init(pattern: [Unicode.Scalar], options: Options) {
            self.pattern = pattern
            caseInsensitive = options.contains(.caseInsensitive)
            multiline = options.contains(.multiline)
        }

        func error(_ what: String) -> SyntaxError {
            SyntaxError(description: "\(what) at offset \(index) of \(String(String.UnicodeScalarView(pattern)))")
        }

        var peek: Unicode.Scalar? { index < pattern.count ? pattern[index] : nil }

        mutating func take(_ scalar: Unicode.Scalar) -> Bool {
            guard peek == scalar else { return false }
            index += 1
            return true
        }

        mutating func parseWhole() throws(SyntaxError) -> Node {
            let node = try parseAlternation()
            guard index == pattern.count else { throw error("unbalanced )") }
            return node
        }

        mutating func parseAlternation() throws(SyntaxError) -> Node {
            var branches = [try parseSequence()]
            while take("|") { branches.append(try parseSequence()) }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        /// Items of a sequence; consecutive unquantified literals become one string, as ICU compiles them.
        mutating func parseSequence() throws(SyntaxError) -> Node {
            var items: [Node] = []
            var literal: [UInt32] = []
            var literalFold = false
            func flush() {
                guard !literal.isEmpty else { return }
                items.append(
                    literal.count == 1 ? .scalar(literal[0], fold: literalFold) : .string(literal, fold: literalFold))
                literal = []
            }
            while let next = peek, next != "|", next != ")" {
                let atom = try parseAtom()
                if let quantified = try parseQuantifier(atom) {
                    flush()
                    items.append(quantified)
                } else if case .scalar(let value, let fold) = atom {
                    if !literal.isEmpty && literalFold != fold { flush() }
                    literal.append(value)
                    literalFold = fold
                } else {
                    flush()
                    items.append(atom)
                }
            }
            flush()
            switch items.count {
            case 0: return .empty
            case 1: return items[0]
            default: return .sequence(items)
            }
        }

        mutating func parseQuantifier(_ atom: Node) throws(SyntaxError) -> Node? {
            guard let next = peek else { return nil }
            var range: (min: Int, max: Int?)
            switch next {
            case "*": range = (0, nil)
            case "+": range = (1, nil)
            case "?": range = (0, 1)
            case "{":
                index += 1
                let low = try parseNumber()
                var high: Int? = low
                if take(",") { high = peek == "}" ? nil : try parseNumber() }
                guard peek == "}" else { throw error("bad {n,m}") }
                range = (low, high)
            default: return nil
            }
            index += 1
            if let max = range.max, max < range.min { throw error("{n,m} with m < n") }
            let greedy = !take("?")
            if peek == "+" { throw error("possessive quantifiers are not supported") }
            switch atom {
            case .textStart, .lineStart, .textEnd, .wordBoundary, .look, .empty: throw error("nothing to repeat")
            default: break
            }
            if range.max == nil && atom.minimumLength == 0 { throw error("unbounded repetition of an empty match") }
            return .repetition(atom, min: range.min, max: range.max, greedy: greedy)
        }

        mutating func parseNumber() throws(SyntaxError) -> Int {
            var value = 0
            var digits = 0
            while let next = peek, ("0"..."9").contains(next), digits < 4 {
                value = value * 10 + Int(next.value - 0x30)
                digits += 1
                index += 1
            }
            guard digits > 0 else { throw error("expected a number") }
            return value
        }

        mutating func parseAtom() throws(SyntaxError) -> Node {
            guard let next = peek else { throw error("unexpected end") }
            index += 1
            switch next {
            case "(": return try parseGroup()
            case "[": return .set(try parseClass())
            case ".": return .any
            case "^": return multiline ? .lineStart : .textStart
            case "$": return .textEnd
            case "\\": return try parseEscape()
            case "*", "+", "?", "{": throw error("nothing to repeat")
            default: return literal(next.value)
            }
        }

        /// A literal scalar; under `(?i)` stored folded (ASCII patterns only: folding is then exact).
        func literal(_ value: UInt32) -> Node {
            .scalar(caseInsensitive ? ScalarPattern.simpleFold(value) : value, fold: caseInsensitive)
        }

        mutating func parseGroup() throws(SyntaxError) -> Node {
            var number: Int?
            var look: (ahead: Bool, negated: Bool)?
            if take("?") {
                if take(":") {
                } else if take("=") {
                    look = (true, false)
                } else if take("!") {
                    look = (true, true)
                } else if take("<") {
                    if take("=") {
                        look = (false, false)
                    } else if take("!") {
                        look = (false, true)
                    } else {
                        throw error("named groups are not supported")
                    }
                } else {
                    // Inline flags: `(?i)`, `(?m)`, `(?im)` apply to the rest of the enclosing group.
                    var any = false
                    while let flag = peek, flag == "i" || flag == "m" {
                        if flag == "i" { caseInsensitive = true } else { multiline = true }
                        any = true
                        index += 1
                    }
                    guard any, take(")") else { throw error("unsupported group") }
                    return .empty
                }
            } else {
                groupCount += 1
                number = groupCount
            }
            let saved = (caseInsensitive, multiline)
            let inner = try parseAlternation()
            (caseInsensitive, multiline) = saved
            guard take(")") else { throw error("missing )") }
            if let look {
                if !look.ahead && inner.fixedLength == nil { throw error("look-behind must have a fixed length") }
                return .look(inner, ahead: look.ahead, negated: look.negated)
            }
            return .group(number, inner)
        }

        mutating func parseEscape() throws(SyntaxError) -> Node {
            guard let next = peek else { throw error("trailing \\") }
            index += 1
            switch next {
            case "b": return .wordBoundary(true)
            case "B": return .wordBoundary(false)
            case "s": return .set(ScalarSet(space: true))
            case "S": return .set(ScalarSet(space: true, negated: true))
            case "d": return .set(ScalarSet(digit: true))
            case "D": return .set(ScalarSet(digit: true, negated: true))
            case "w": return .set(ScalarSet(word: true))
            case "W": return .set(ScalarSet(word: true, negated: true))
            case "n": return .scalar(0x0A, fold: false)
            case "t": return .scalar(0x09, fold: false)
            case "r": return .scalar(0x0D, fold: false)
            case "1"..."9":
                let group = Int(next.value - 0x30)
                guard group <= groupCount else { throw error("back reference to a later group") }
                return .backReference(group, fold: caseInsensitive)
            default:
                guard next.isASCII, !next.properties.isAlphabetic, !("0"..."9").contains(next) else {
                    throw error("unsupported escape \\\(next)")
                }
                return literal(next.value)
            }
        }

        mutating func parseClass() throws(SyntaxError) -> ScalarSet {
            var set = ScalarSet()
            if take("^") { set.negated = true }
            var first = true
            while true {
                guard let next = peek else { throw error("missing ]") }
                if next == "]" && !first {
                    index += 1
                    break
                }
                first = false
                index += 1
                var low: UInt32
                if next == "\\" {
                    guard let escaped = peek else { throw error("trailing \\") }
                    index += 1
                    switch escaped {
                    case "s":
                        set.space = true
                        continue
                    case "d":
                        set.digit = true
                        continue
                    case "w":
                        set.word = true
                        continue
                    case "n": low = 0x0A
                    case "t": low = 0x09
                    case "r": low = 0x0D
                    default:
                        guard escaped.isASCII, !escaped.properties.isAlphabetic, !("0"..."9").contains(escaped) else {
                            throw error("unsupported escape \\\(escaped) in a class")
                        }
                        low = escaped.value
                    }
                } else if next == "[" {
                    throw error("nested classes are not supported")
                } else {
                    low = next.value
                }
                // A range `a-z` (a `-` before `]` is literal).
                if peek == "-", index + 1 < pattern.count, pattern[index + 1] != "]" {
                    index += 1
                    guard var high = peek?.value else { throw error("missing ]") }
                    index += 1
                    if high == UInt32(UInt8(ascii: "\\")) {
                        guard let escaped = peek, escaped.isASCII, !escaped.properties.isAlphabetic else {
                            throw error("unsupported range end")
                        }
                        index += 1
                        high = escaped.value
                    }
                    guard low <= high else { throw error("reversed range") }
                    set.ranges.append(low...high)
                } else {
                    set.ranges.append(low...low)
                }
            }
            if caseInsensitive { set.closeOverCase() }
            return set
        }
    }
}

// MARK: - Matching

extension ScalarPattern {
    /// One instruction of the backtracking machine: an operation and two operands (plain integers,
    /// so running copies no reference-counted payloads).
    struct Instruction: Sendable {
        enum Operation: UInt8, Sendable {
            /// `a` scalar; `b` 1 when folded.
            case scalar
            /// `a` offset and `b` length in the string pool, exact or folded.
            case string, foldedString
            /// `a` index of the set.
            case set
            case any
            /// Try `a`, then (on failure) `b`.
            case split
            case jump
            /// Store the position in slot `a`.
            case save
            case textStart, lineStart, textEnd
            /// `a` 1 for `\b`, 0 for `\B`.
            case wordBoundary
            /// `a` index of the look-around.
            case look
            /// `a` group, `b` 1 when folded.
            case backReference
            case match
        }

        var operation: Operation
        var a = 0
        var b = 0
    }

    struct LookAround: Sendable {
        let program: Program
        let ahead: Bool
        let negated: Bool
        let length: Int
        /// When the look-around is one scalar of a set (or one literal scalar): that set.
        var set: ScalarSet?
        var bits = ASCIIBits()
    }

    /// What can start a match: a position whose scalar is outside is skipped without running.
    struct FirstScalars: Sendable {
        var ascii = ASCIIBits()
        var nonASCII = false
        var nullable = true

        static let anything = FirstScalars(ascii: .all, nonASCII: true, nullable: true)

        mutating func formUnion(_ other: FirstScalars) {
            ascii.formUnion(other.ascii)
            nonASCII = nonASCII || other.nonASCII
        }

        init(ascii: ASCIIBits = ASCIIBits(), nonASCII: Bool = false, nullable: Bool = true) {
            (self.ascii, self.nonASCII, self.nullable) = (ascii, nonASCII, nullable)
        }

        /// A superset of the scalars a match of `node` can start with.
        init(_ node: Node) {
            switch node {
            case .empty, .textStart, .lineStart, .textEnd, .wordBoundary, .look:
                self.init()
            case .backReference:
                self = .anything
            case .scalar(let value, let fold):
                self.init(nullable: false)
                add(value, fold: fold)
            case .string(let values, let fold):
                self.init(nullable: false)
                add(values.first ?? 0, fold: fold)
                // A full folding (ß → ss, ﬁ → fi) starts with a non-ASCII scalar.
                if fold { nonASCII = true }
            case .set(let set):
                self.init(ascii: set.asciiBits(), nonASCII: true, nullable: false)
            case .any:
                self.init(ascii: .all, nonASCII: true, nullable: false)
            case .group(_, let inner):
                self.init(inner)
            case .repetition(let inner, let min, _, _):
                self.init(inner)
                if min == 0 { nullable = true }
            case .alternation(let branches):
                self.init(nullable: false)
                for branch in branches {
                    let first = FirstScalars(branch)
                    formUnion(first)
                    if first.nullable { nullable = true }
                }
            case .sequence(let items):
                self.init()
                for item in items {
                    let first = FirstScalars(item)
                    formUnion(first)
                    if !first.nullable {
                        nullable = false
                        return
                    }
                }
            }
        }

        private mutating func add(_ value: UInt32, fold: Bool) {
            if value >= 128 { nonASCII = true }
            ascii.insert(value)
            guard fold else { return }
            if (0x61...0x7A).contains(value) { ascii.insert(value - 32) }
            if value == 0x73 || value == 0x6B { nonASCII = true }  // ſ, Kelvin sign
        }

        @inline(__always) func admits(_ scalar: Unicode.Scalar) -> Bool {
            let value = scalar.value
            return value < 128 ? ascii.contains(value) : nonASCII
        }
    }

    /// A compiled pattern: instructions for a backtracking machine with its own stack (no recursion
    /// per scalar, so long inputs cannot exhaust the thread's stack).
    final class Program: Sendable {
        let instructions: [Instruction]
        let sets: [ScalarSet]
        let setBits: [ASCIIBits]
        let pool: [UInt32]
        let looks: [LookAround]
        let first: FirstScalars
        let slots: Int

        init(node: Node, slots: Int) throws(SyntaxError) {
            var builder = Builder()
            try builder.emit(node)
            builder.code.append(Instruction(operation: .match))
            instructions = builder.code
            sets = builder.sets
            setBits = builder.sets.map { $0.asciiBits() }
            pool = builder.pool
            looks = builder.looks
            first = FirstScalars(node)
            self.slots = slots
        }

        struct Builder {
            var code: [Instruction] = []
            var sets: [ScalarSet] = []
            var pool: [UInt32] = []
            var looks: [LookAround] = []

            mutating func append(_ operation: Instruction.Operation, _ a: Int = 0, _ b: Int = 0) {
                code.append(Instruction(operation: operation, a: a, b: b))
            }

            mutating func emit(_ node: Node) throws(SyntaxError) {
                switch node {
                case .empty: break
                case .scalar(let value, let fold): append(.scalar, Int(value), fold ? 1 : 0)
                case .string(let values, let fold):
                    append(fold ? .foldedString : .string, pool.count, values.count)
                    pool += values
                case .set(let set):
                    append(.set, sets.count)
                    sets.append(set)
                case .any: append(.any)
                case .textStart: append(.textStart)
                case .lineStart: append(.lineStart)
                case .textEnd: append(.textEnd)
                case .wordBoundary(let on): append(.wordBoundary, on ? 1 : 0)
                case .backReference(let group, let fold): append(.backReference, group, fold ? 1 : 0)
                case .sequence(let nodes):
                    for item in nodes { try emit(item) }
                case .group(let number, let inner):
                    if let number { append(.save, 2 * number) }
                    try emit(inner)
                    if let number { append(.save, 2 * number + 1) }
                case .alternation(let branches):
                    var jumps: [Int] = []
                    for (position, branch) in branches.enumerated() {
                        if position < branches.count - 1 {
                            let split = code.count
                            append(.split)
                            try emit(branch)
                            jumps.append(code.count)
                            append(.jump)
                            code[split] = Instruction(operation: .split, a: split + 1, b: code.count)
                        } else {
                            try emit(branch)
                        }
                    }
                    for jump in jumps { code[jump].a = code.count }
                case .look(let inner, let ahead, let negated):
                    let program = try Program(node: inner, slots: 0)
                    var look = LookAround(
                        program: program, ahead: ahead, negated: negated, length: inner.fixedLength ?? 0)
                    switch inner {
                    case .set(let set): look.set = set
                    case .scalar(let value, false): look.set = ScalarSet(ranges: [value...value])
                    default: break
                    }
                    look.bits = look.set?.asciiBits() ?? ASCIIBits()
                    append(.look, looks.count)
                    looks.append(look)
                case .repetition(let inner, let min, let max, let greedy):
                    for _ in 0..<min { try emit(inner) }
                    if let max {
                        // Optional copies, all leaving to the end.
                        var splits: [Int] = []
                        for _ in min..<max {
                            splits.append(code.count)
                            append(.split)
                            try emit(inner)
                        }
                        for split in splits {
                            code[split] =
                                greedy
                                ? Instruction(operation: .split, a: split + 1, b: code.count)
                                : Instruction(operation: .split, a: code.count, b: split + 1)
                        }
                    } else {
                        let loop = code.count
                        append(.split)
                        try emit(inner)
                        append(.jump, loop)
                        code[loop] =
                            greedy
                            ? Instruction(operation: .split, a: loop + 1, b: code.count)
                            : Instruction(operation: .split, a: code.count, b: loop + 1)
                    }
                }
            }
        }

        /// A place to resume (`pc` ≥ 0) or a capture slot to restore (`pc` = -1 - slot, `position` its value).
        struct Backtrack {
            var pc: Int
            var position: Int
        }

        /// Scratch space reused across start positions and matches.
        struct Scratch {
            var slots: [Int]
            var stack: [Backtrack] = []
            /// The stack of look-arounds that need the machine.
            var spare: [Backtrack] = []

            init(slots: Int) {
                self.slots = [Int](repeating: -1, count: slots)
                stack.reserveCapacity(64)
            }
        }

        /// The leftmost match at or after `start`.
        func firstMatch(_ text: [Unicode.Scalar], from start: Int, groupCount: Int, scratch: inout Scratch) -> Match? {
            var position = start
            let count = text.count
            while position <= count {
                if position < count ? first.admits(text[position]) : first.nullable {
                    for index in scratch.slots.indices { scratch.slots[index] = -1 }
                    if let end = run(text, at: position, scratch: &scratch) {
                        var groups: [Range<Int>?] = [position..<end]
                        for group in stride(from: 1, through: groupCount, by: 1) {
                            let low = scratch.slots[2 * group]
                            let high = scratch.slots[2 * group + 1]
                            groups.append(low >= 0 && high >= low ? low..<high : nil)
                        }
                        return Match(groups: groups)
                    }
                }
                position += 1
            }
            return nil
        }

        /// The end of the match starting exactly at `start`, or nil. Backtracking entries are either
        /// a place to resume (`pc` ≥ 0) or a capture slot to restore (`pc` = -1 - slot).
        func run(_ text: [Unicode.Scalar], at start: Int, scratch: inout Scratch) -> Int? {
            scratch.stack.removeAll(keepingCapacity: true)
            var pc = 0
            var position = start
            let count = text.count
            return instructions.withUnsafeBufferPointer { code -> Int? in
                while true {
                    let instruction = code[pc]
                    var ok = true
                    switch instruction.operation {
                    case .match:
                        return position
                    case .scalar:
                        if position < count {
                            let value = text[position].value
                            ok =
                                (instruction.b != 0 ? simpleFold(value) : value)
                                == UInt32(truncatingIfNeeded: instruction.a)
                        } else {
                            ok = false
                        }
                        if ok {
                            position += 1
                            pc += 1
                        }
                    case .string, .foldedString:
                        if let end = matchString(
                            offset: instruction.a, length: instruction.b, fold: instruction.operation == .foldedString,
                            in: text, at: position)
                        {
                            position = end
                            pc += 1
                        } else {
                            ok = false
                        }
                    case .set:
                        if position < count {
                            let scalar = text[position]
                            ok =
                                scalar.value < 128
                                ? setBits[instruction.a].contains(scalar.value) : sets[instruction.a].contains(scalar)
                        } else {
                            ok = false
                        }
                        if ok {
                            position += 1
                            pc += 1
                        }
                    case .any:
                        if position < count, !isLineTerminator(text[position]) {
                            position += 1
                            pc += 1
                        } else {
                            ok = false
                        }
                    case .split:
                        scratch.stack.append(Backtrack(pc: instruction.b, position: position))
                        pc = instruction.a
                    case .jump:
                        pc = instruction.a
                    case .save:
                        scratch.stack.append(Backtrack(pc: -1 - instruction.a, position: scratch.slots[instruction.a]))
                        scratch.slots[instruction.a] = position
                        pc += 1
                    case .textStart:
                        if position == 0 { pc += 1 } else { ok = false }
                    case .lineStart:
                        // ICU: at the start, or after a line terminator that is not the text's last scalar.
                        if position == 0 || (position < count && isLineTerminator(text[position - 1])) {
                            pc += 1
                        } else {
                            ok = false
                        }
                    case .textEnd:
                        if position == count || (position == count - 1 && isLineTerminator(text[position])) {
                            pc += 1
                        } else {
                            ok = false
                        }
                    case .wordBoundary:
                        if Program.isWordBoundary(text, at: position) == (instruction.a != 0) {
                            pc += 1
                        } else {
                            ok = false
                        }
                    case .look:
                        let look = looks[instruction.a]
                        let at = look.ahead ? position : position - look.length
                        var found = false
                        if at < 0 {
                            found = false
                        } else if let set = look.set {
                            // One scalar (all our look-behinds, most look-aheads): no machine needed.
                            if at < count {
                                let scalar = text[at]
                                found = scalar.value < 128 ? look.bits.contains(scalar.value) : set.contains(scalar)
                            }
                        } else {
                            var inner = Scratch(slots: 0)
                            swap(&inner.stack, &scratch.spare)
                            let end = look.program.run(text, at: at, scratch: &inner)
                            swap(&inner.stack, &scratch.spare)
                            found = look.ahead ? end != nil : end == position
                        }
                        if found != look.negated { pc += 1 } else { ok = false }
                    case .backReference:
                        let low = scratch.slots[2 * instruction.a]
                        let high = scratch.slots[2 * instruction.a + 1]
                        let fold = instruction.b != 0
                        if low < 0 || high < low {
                            ok = false  // ICU: a back reference to a group that did not match fails.
                        } else if position + (high - low) <= count,
                            (0..<(high - low)).allSatisfy({ offset in
                                let x = text[low + offset].value
                                let y = text[position + offset].value
                                return fold ? simpleFold(x) == simpleFold(y) : x == y
                            })
                        {
                            position += high - low
                            pc += 1
                        } else {
                            ok = false
                        }
                    }
                    if ok { continue }
                    var resumed = false
                    while let entry = scratch.stack.popLast() {
                        if entry.pc >= 0 {
                            pc = entry.pc
                            position = entry.position
                            resumed = true
                            break
                        }
                        scratch.slots[-1 - entry.pc] = entry.position
                    }
                    if !resumed { return nil }
                }
            }
        }

        /// A literal string from the pool; folded (pattern already folded) with full folding of the
        /// input, where a folding may not end past the string (ICU's `URX_STRING_I`).
        func matchString(offset: Int, length: Int, fold: Bool, in text: [Unicode.Scalar], at start: Int) -> Int? {
            var position = start
            var index = 0
            while index < length {
                guard position < text.count else { return nil }
                let value = text[position].value
                if fold, value >= 128, let expansion = fullFoldExpansion(value) {
                    guard index + expansion.count <= length else { return nil }
                    for (step, folded) in expansion.enumerated() where pool[offset + index + step] != folded {
                        return nil
                    }
                    index += expansion.count
                } else {
                    guard (fold ? simpleFold(value) : value) == pool[offset + index] else { return nil }
                    index += 1
                }
                position += 1
            }
            return position
        }

        /// ICU's `\b`: the scalar at `position` against the previous scalar that is not a combining
        /// mark or format character; never before such a scalar.
        static func isWordBoundary(_ text: [Unicode.Scalar], at position: Int) -> Bool {
            var currentIsWord = false
            if position < text.count {
                let scalar = text[position]
                if scalar.value >= 128 && isTransparentForBoundary(scalar) { return false }
                currentIsWord = isWord(scalar)
            }
            var previousIsWord = false
            var back = position
            while back > 0 {
                back -= 1
                let scalar = text[back]
                if scalar.value < 128 || !isTransparentForBoundary(scalar) {
                    previousIsWord = isWord(scalar)
                    break
                }
            }
            return currentIsWord != previousIsWord
        }

        @inline(__always) static func isWord(_ scalar: Unicode.Scalar) -> Bool {
            let value = scalar.value
            guard value >= 128 else {
                return (0x30...0x39).contains(value) || (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value)
                    || value == 0x5F
            }
            return isWordScalar(scalar)
        }
    }
}
