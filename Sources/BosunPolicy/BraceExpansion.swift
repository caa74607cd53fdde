/// Bash brace expansion (`a{b,c}d` → `abd`, `acd`; nested groups; `{x}` and `{a..b}` stay literal).
enum BraceExpansion {
    /// At most this many words; beyond it the expansion is not attempted.
    static let limit = 256

    /// Expands `text`, where only the bytes at the `special` positions act as `{`, `,` and `}` (the others
    /// were quoted or escaped). Returns nil when the result would exceed `limit` words.
    static func expand(_ text: [UInt8], special: [Int]) -> [[UInt8]]? {
        var marks = [Bool](repeating: false, count: text.count)
        for position in special where position < text.count { marks[position] = true }
        var results: [[UInt8]] = []
        return expand(text, marks, into: &results) ? results : nil
    }

    private static func expand(_ text: [UInt8], _ marks: [Bool], into results: inout [[UInt8]]) -> Bool {
        guard let group = firstGroup(text, marks) else {
            results.append(text)
            return results.count <= limit
        }
        let prefix = 0..<group.open
        let suffix = (group.close + 1)..<text.count
        var start = group.open + 1
        for end in group.commas + [group.close] {
            let bytes = Array(text[prefix]) + Array(text[start..<end]) + Array(text[suffix])
            let flags = Array(marks[prefix]) + Array(marks[start..<end]) + Array(marks[suffix])
            guard expand(bytes, flags, into: &results) else { return false }
            start = end + 1
        }
        return true
    }

    /// The first `{` with a matching `}` and at least one top-level `,` between them.
    private static func firstGroup(_ text: [UInt8], _ marks: [Bool]) -> (open: Int, close: Int, commas: [Int])? {
        var open = 0
        while open < text.count {
            defer { open += 1 }
            guard marks[open] && text[open] == .openBrace else { continue }
            var depth = 0
            var commas: [Int] = []
            var position = open + 1
            while position < text.count {
                if marks[position] {
                    switch text[position] {
                    case .openBrace:
                        depth += 1
                    case .closeBrace where depth > 0:
                        depth -= 1
                    case .closeBrace:
                        if !commas.isEmpty { return (open, position, commas) }
                        position = text.count
                        continue
                    case .comma where depth == 0:
                        commas.append(position)
                    default:
                        break
                    }
                }
                position += 1
            }
        }
        return nil
    }
}
