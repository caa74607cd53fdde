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
