/// One argv pattern of a rule, matched against the first words of one simple command (a prefix
/// match). Tokens are separated by spaces: a literal word; `{a,b,c}` alternatives; `*` any one word;
/// a word with `*` in it (`test_*`, `*TOKEN*`) matches by wildcard; `**` any number of words
/// (at the end: anything, which a prefix match already allows); `$` as the last token: no more words.
struct ArgvPattern: Sendable, Equatable {
    enum Token: Sendable, Equatable {
        case literal(String)
        case wildcard([UInt8])
        case alternatives([Token])
        case anyOne
        case anyRun
        case end
    }

    var tokens: [Token] { didSet { steps = Steps(tokens) } }
    /// The bytes some word of a matching argv must contain (literal text of the tokens every match
    /// needs): an argv lacking one cannot match.
    var required: ByteSet
    /// `tokens` as matching reads them, behind one reference (so copying a pattern stays cheap).
    private var steps: Steps

    static func == (lhs: ArgvPattern, rhs: ArgvPattern) -> Bool {
        lhs.tokens == rhs.tokens && lhs.required == rhs.required
    }

    /// The tokens apart by kind, with each literal, wildcard and alternative's options in arrays of
    /// plain strings and bytes: matching reads them in place (reading a token out of `tokens`, and an
    /// option out of its alternatives, copies and retains its payload: that was a third of matching).
    final class Steps: Sendable {
        enum Kind: UInt8, Sendable {
            case literal, wildcard, alternatives, anyOne, anyRun, end
        }

        let kinds: [Kind]
        /// Per token: its literal text, or "".
        let literals: [String]
        /// Per token: its wildcard bytes, or [].
        let wildcards: [[UInt8]]
        /// Per token: an alternative's literal options and wildcard options (any other option: nil,
        /// and the token is matched as a `Token`).
        let optionLiterals: [[String]]
        let optionWildcards: [[[UInt8]]]
        let optionsPlain: [Bool]

        init(_ tokens: [Token]) {
            var kinds: [Kind] = []
            var literals: [String] = []
            var wildcards: [[UInt8]] = []
            var optionLiterals: [[String]] = []
            var optionWildcards: [[[UInt8]]] = []
            var optionsPlain: [Bool] = []
            for token in tokens {
                var literal = ""
                var wildcard: [UInt8] = []
                var optionLiteral: [String] = []
                var optionWildcard: [[UInt8]] = []
                var plain = true
                switch token {
                case .literal(let text):
                    kinds.append(.literal)
                    literal = text
                case .wildcard(let bytes):
                    kinds.append(.wildcard)
                    wildcard = bytes
                case .alternatives(let options):
                    kinds.append(.alternatives)
                    for option in options {
                        switch option {
                        case .literal(let text): optionLiteral.append(text)
                        case .wildcard(let bytes): optionWildcard.append(bytes)
                        default: plain = false
                        }
                    }
                case .anyOne: kinds.append(.anyOne)
                case .anyRun: kinds.append(.anyRun)
                case .end: kinds.append(.end)
                }
                literals.append(literal)
                wildcards.append(wildcard)
                optionLiterals.append(optionLiteral)
                optionWildcards.append(optionWildcard)
                optionsPlain.append(plain)
            }
            self.kinds = kinds
            self.literals = literals
            self.wildcards = wildcards
            self.optionLiterals = optionLiterals
            self.optionWildcards = optionWildcards
            self.optionsPlain = optionsPlain
        }

        /// `ArgvPattern.matches(tokens[t], word)` for a literal, wildcard or alternative token.
        @inline(__always) func matches(_ t: Int, _ word: String, _ tokens: [Token]) -> Bool {
            switch kinds[t] {
            case .literal:
                return literals[t] == word
            case .wildcard:
                return Wildcard.matches(wildcards[t], word, questionMark: false)
            case .alternatives:
                guard optionsPlain[t] else { return t < tokens.count && ArgvPattern.matches(tokens[t], word) }
                // Literal options first, then wildcard ones: `contains` over the options in any order
                // gives the same answer.
                for option in optionLiterals[t].indices where optionLiterals[t][option] == word { return true }
                for option in optionWildcards[t].indices
                where Wildcard.matches(optionWildcards[t][option], word, questionMark: false) {
                    return true
                }
                return false
            case .anyOne, .anyRun:
                return true
            case .end:
                return false
            }
        }
    }

    /// Why `text` is not a usable pattern, or nil.
    static func problem(_ text: String) -> String? {
        // The same checks over bytes when the text is ASCII (where every byte is a character), which
        // is every pattern in practice: checking them as characters was 5% of `policy explain`.
        let bytes = Array(text.utf8)
        if !bytes.contains(where: { $0 >= 0x80 }) { return asciiProblem(text, bytes) }
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        guard !words.isEmpty else { return "expected an argv pattern, found an empty string" }
        for (position, word) in words.enumerated() {
            if word == "$" && position != words.count - 1 { return "'$' must be the last token of \"\(text)\"" }
            if word.hasPrefix("{") != word.hasSuffix("}") || (word.hasPrefix("{") && word.count < 2) {
                return "unbalanced '{…}' in token \"\(word)\" of \"\(text)\""
            }
            if word.hasPrefix("{") && word.dropFirst().dropLast().contains(where: { $0 == "{" || $0 == "}" }) {
                return "nested '{…}' in token \"\(word)\" of \"\(text)\""
            }
        }
        return nil
    }

    /// `problem` over the bytes of an ASCII pattern, copied once into an array (iterating the
    /// string's UTF-8 view byte by byte was most of checking a pattern, issue 10).
    private static func asciiProblem(_ text: String, _ bytes: [UInt8]) -> String? {
        let words = words(bytes)
        guard !words.isEmpty else { return "expected an argv pattern, found an empty string" }
        for (position, word) in words.enumerated() {
            let opens = bytes[word.lowerBound] == .openBrace
            let closes = bytes[word.upperBound - 1] == .closeBrace
            if word.count == 1 && bytes[word.lowerBound] == .dollar && position != words.count - 1 {
                return "'$' must be the last token of \"\(text)\""
            }
            if opens != closes || (opens && word.count < 2) {
                return "unbalanced '{…}' in token \"\(String(decoding: bytes[word], as: UTF8.self))\" of \"\(text)\""
            }
            if opens
                && bytes[(word.lowerBound + 1)..<(word.upperBound - 1)].contains(where: {
                    $0 == .openBrace || $0 == .closeBrace
                })
            {
                return "nested '{…}' in token \"\(String(decoding: bytes[word], as: UTF8.self))\" of \"\(text)\""
            }
        }
        return nil
    }

    /// The ranges of the space-separated words of `bytes`, empty ones omitted.
    private static func words(_ bytes: [UInt8]) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var start = 0
        for index in bytes.indices where bytes[index] == .space {
            if index != start { words.append(start..<index) }
            start = index + 1
        }
        if start != bytes.count { words.append(start..<bytes.count) }
        return words
    }

    init(_ text: String) {
        let bytes = Array(text.utf8)
        if !bytes.contains(where: { $0 >= 0x80 }) {
            // Over bytes (every pattern in practice): splitting by characters was most of compiling a
            // policy, which `policy explain` does on every call; then over an array of them (the
            // string's UTF-8 view byte by byte was most of what remained, issue 10).
            tokens = Self.words(bytes).map { Self.asciiToken(bytes[$0]) }
        } else {
            tokens = text.split(separator: " ", omittingEmptySubsequences: true).map { Self.token($0, ascii: false) }
        }
        required = ByteSet()
        steps = Steps(tokens)
        for token in tokens { required.formUnion(Self.required(token)) }
    }

    /// The bytes any word matching `token` contains.
    private static func required(_ token: Token) -> ByteSet {
        switch token {
        case .literal(let word): return ByteSet(word.utf8)
        case .wildcard(let bytes): return ByteSet(bytes.lazy.filter { $0 != .star })
        case .alternatives(let options):
            guard !options.isEmpty else { return ByteSet() }
            var common = ByteSet.all
            for option in options { common.formIntersection(required(option)) }
            return common
        case .anyOne, .anyRun, .end: return ByteSet()
        }
    }

    /// One word of a pattern; `ascii`: the whole pattern is ASCII, so `{a,b}` is split over bytes
    /// (by characters otherwise, so a combining mark stays with its letter).
    private static func token(_ word: Substring, ascii: Bool) -> Token {
        switch word {
        case "*": return .anyOne
        case "**": return .anyRun
        case "$": return .end
        case "{}": return .literal("{}")
        default:
            let utf8 = word.utf8
            if ascii, utf8.first == .openBrace, utf8.last == .closeBrace, utf8.count >= 2 {
                let inside = word[utf8.index(after: utf8.startIndex)..<utf8.index(before: utf8.endIndex)]
                return .alternatives(split(inside, .comma, omittingEmpty: false).map(simple))
            }
            // By characters: a brace with a combining mark on it is not a brace.
            if !ascii, word.hasPrefix("{"), word.hasSuffix("}"), word.count >= 2 {
                let inside = word.dropFirst().dropLast()
                return .alternatives(inside.split(separator: ",", omittingEmptySubsequences: false).map(simple))
            }
            return simple(word)
        }
    }

    /// `token(_:ascii: true)` over the bytes of one word of an ASCII pattern.
    private static func asciiToken(_ word: ArraySlice<UInt8>) -> Token {
        let first = word[word.startIndex]
        let last = word[word.endIndex - 1]
        switch word.count {
        case 1 where first == .star: return .anyOne
        case 2 where first == .star && last == .star: return .anyRun
        case 1 where first == .dollar: return .end
        case 2 where first == .openBrace && last == .closeBrace: return .literal("{}")
        default:
            if first == .openBrace, last == .closeBrace, word.count >= 2 {
                var options: [Token] = []
                var start = word.startIndex + 1
                let end = word.endIndex - 1
                for index in start..<end where word[index] == .comma {
                    options.append(asciiSimple(word[start..<index]))
                    start = index + 1
                }
                options.append(asciiSimple(word[start..<end]))
                return .alternatives(options)
            }
            return asciiSimple(word)
        }
    }

    /// `simple` over ASCII bytes.
    private static func asciiSimple(_ word: ArraySlice<UInt8>) -> Token {
        word.contains(.star) ? .wildcard(Array(word)) : .literal(String(decoding: word, as: UTF8.self))
    }

    /// `text.split(separator:omittingEmptySubsequences:)` over bytes, for ASCII text (where a byte is
    /// a character).
    static func split(_ text: Substring, _ separator: UInt8, omittingEmpty: Bool) -> [Substring] {
        var result: [Substring] = []
        let utf8 = text.utf8
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex {
            if utf8[index] == separator {
                if !omittingEmpty || index != start { result.append(text[start..<index]) }
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        if !omittingEmpty || start != utf8.endIndex { result.append(text[start..<utf8.endIndex]) }
        return result
    }

    private static func simple(_ word: Substring) -> Token {
        Wildcard.hasWildcard(word, questionMark: false) ? .wildcard(Array(word.utf8)) : .literal(String(word))
    }

    /// The literal first words this pattern can match, or nil when its first token is not literal.
    var firstWords: [String]? {
        switch tokens.first {
        case .literal(let word): return [word]
        case .alternatives(let options):
            var words: [String] = []
            for option in options {
                guard case .literal(let word) = option else { return nil }
                words.append(word)
            }
            return words
        default: return nil
        }
    }

    func matches(_ argv: [String]) -> Bool { matches(argv, token: 0, word: 0) }

    private func matches(_ argv: [String], token start: Int, word: Int) -> Bool {
        var t = start
        var w = word
        let steps = steps
        // By kind, each token's payload read in place from `steps`.
        while t < steps.kinds.count {
            switch steps.kinds[t] {
            case .anyRun:
                if t == steps.kinds.count - 1 { return true }
                for next in w...argv.count where matches(argv, token: t + 1, word: next) { return true }
                return false
            case .end:
                return w == argv.count
            case .anyOne:
                guard w < argv.count else { return false }
            case .literal, .wildcard, .alternatives:
                guard w < argv.count, steps.matches(t, argv[w], tokens) else { return false }
            }
            t += 1
            w += 1
        }
        return true
    }

    static func matches(_ token: Token, _ word: String) -> Bool {
        switch token {
        case .literal(let literal): literal == word
        case .wildcard(let bytes): Wildcard.matches(bytes, word, questionMark: false)
        case .alternatives(let options): options.contains { matches($0, word) }
        case .anyOne, .anyRun: true
        case .end: false
        }
    }
}
