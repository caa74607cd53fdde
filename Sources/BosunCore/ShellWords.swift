/// Quoting an argv back into one shell command line (for explain and display).
public enum ShellWords {
    /// Words that need no quoting stay bare; others are single-quoted.
    public static func quote(_ word: String) -> String {
        // Control operators given as separate words keep their meaning (`explain -- a && b`).
        if ["&&", "||", ";", "|", "&"].contains(word) { return word }
        if !word.isEmpty && word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:@%+,".contains($0) }) {
            return word
        }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// One argument is taken as a full command line; several are an argv.
    public static func commandLine(_ words: [String]) -> String? {
        if words.isEmpty { return nil }
        if words.count == 1 { return words[0] }
        return words.map(quote).joined(separator: " ")
    }
}

extension ShellWords {
    /// Why a command line could not be split.
    public struct SplitError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Splits one shell-command line into words: whitespace separates; single quotes, double
    /// quotes and backslashes quote. (For the operator shell, not a shell interpreter.)
    public static func split(_ line: String) throws(SplitError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if let open = quote {
                if character == open {
                    quote = nil
                } else if character == "\\" && open == "\"" {
                    escaped = true
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case "\\":
                escaped = true
                inWord = true
            case "'", "\"":
                quote = character
                inWord = true
            case " ", "\t", "\n", "\r":
                if inWord { words.append(current) }
                current = ""
                inWord = false
            default:
                current.append(character)
                inWord = true
            }
        }
        if let quote { throw SplitError(description: "unterminated \(quote) quote") }
        if escaped { throw SplitError(description: "line ends with a backslash") }
        if inWord { words.append(current) }
        return words
    }
}
