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

    var tokens: [Token]

    /// Why `text` is not a usable pattern, or nil.
    static func problem(_ text: String) -> String? {
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

    init(_ text: String) {
        tokens = text.split(separator: " ", omittingEmptySubsequences: true).map(Self.token)
    }

    private static func token(_ word: Substring) -> Token {
        switch word {
        case "*": return .anyOne
        case "**": return .anyRun
        case "$": return .end
        case "{}": return .literal("{}")
        default:
            if word.hasPrefix("{") && word.hasSuffix("}") && word.count >= 2 {
                let inside = word.dropFirst().dropLast()
                return .alternatives(inside.split(separator: ",", omittingEmptySubsequences: false).map(simple))
            }
            return simple(word)
        }
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
        while t < tokens.count {
            switch tokens[t] {
            case .anyRun:
                if t == tokens.count - 1 { return true }
                for next in w...argv.count where matches(argv, token: t + 1, word: next) { return true }
                return false
            case .end:
                return w == argv.count
            case .anyOne:
                guard w < argv.count else { return false }
            case let token:
                guard w < argv.count, Self.matches(token, argv[w]) else { return false }
            }
            t += 1
            w += 1
        }
        return true
    }

    private static func matches(_ token: Token, _ word: String) -> Bool {
        switch token {
        case .literal(let literal): literal == word
        case .wildcard(let bytes): Wildcard.matches(bytes, word, questionMark: false)
        case .alternatives(let options): options.contains { matches($0, word) }
        case .anyOne, .anyRun: true
        case .end: false
        }
    }
}
