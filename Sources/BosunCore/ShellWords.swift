import FoundationEssentials

/// Quoting an argv back into one shell command line (for explain and display).
public enum ShellWords {
    /// Words that need no quoting stay bare; others are single-quoted.
    public static func quote(_ word: String) -> String {
        // Control operators given as separate words keep their meaning (`explain -- a && b`).
        if ["&&", "||", ";", "|", "&"].contains(word) { return word }
        if !word.isEmpty && word.unicodeScalars.allSatisfy(Self.isBare) {
            return word
        }
        // By scalar: a quote followed by a combining mark is still a quote to `split`.
        var quoted = String.UnicodeScalarView()
        for scalar in word.unicodeScalars {
            if scalar == "'" { quoted.append(contentsOf: "'\\''".unicodeScalars) } else { quoted.append(scalar) }
        }
        return "'" + String(quoted) + "'"
    }

    /// Foundation's `CharacterSet.alphanumerics` (letters, marks, numbers) and `-_./=:@%+,`.
    private static func isBare(_ scalar: Unicode.Scalar) -> Bool {
        if "-_./=:@%+,".unicodeScalars.contains(scalar) { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .nonspacingMark,
            .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
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
        var current = String.UnicodeScalarView()
        var inWord = false
        var quote: Unicode.Scalar?
        var escaped = false
        // Scalars, not Characters: a quote or a space followed by a combining mark is still a
        // quote or a space (as Characters they would merge into one cluster and lose their meaning).
        for character in line.unicodeScalars {
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
                if inWord { words.append(String(current)) }
                current = String.UnicodeScalarView()
                inWord = false
            default:
                current.append(character)
                inWord = true
            }
        }
        if let quote { throw SplitError(description: "unterminated \(quote) quote") }
        if escaped { throw SplitError(description: "line ends with a backslash") }
        if inWord { words.append(String(current)) }
        return words
    }
}
