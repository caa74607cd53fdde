/// `*` (any run of characters) and optionally `?` (any one character) over UTF-8 bytes.
enum Wildcard {
    static func hasWildcard(_ pattern: some StringProtocol, questionMark: Bool) -> Bool {
        pattern.utf8.contains { $0 == .star || (questionMark && $0 == .question) }
    }

    static func matches(_ pattern: [UInt8], _ text: some StringProtocol, questionMark: Bool) -> Bool {
        if let result = text.utf8.withContiguousStorageIfAvailable({ matches(pattern, $0, questionMark: questionMark) })
        {
            return result
        }
        return matches(pattern, Array(text.utf8), questionMark: questionMark)
    }

    /// The classic linear-backtracking matcher: on a mismatch, let the last `*` absorb one more byte.
    static func matches<Text: RandomAccessCollection<UInt8>>(
        _ pattern: [UInt8], _ text: Text, questionMark: Bool
    ) -> Bool where Text.Index == Int {
        var p = 0
        var t = text.startIndex
        var star = -1
        var mark = t
        while t < text.endIndex {
            if p < pattern.count && (pattern[p] == text[t] || (questionMark && pattern[p] == .question)) {
                p += 1
                t += 1
            } else if p < pattern.count && pattern[p] == .star {
                star = p
                mark = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == .star { p += 1 }
        return p == pattern.count
    }

    /// Whether some text matches both `*`/`?` patterns.
    static func intersects(_ first: [UInt8], _ second: [UInt8]) -> Bool {
        // The literal heads (up to the first `*`) must agree, and so must the literal tails.
        for (a, b) in zip(first, second) {
            if a == .star || b == .star { break }
            if a != b && a != .question && b != .question { return false }
        }
        for (a, b) in zip(first.reversed(), second.reversed()) {
            if a == .star || b == .star { break }
            if a != b && a != .question && b != .question { return false }
        }
        let width = second.count + 1
        var visited = [Bool](repeating: false, count: (first.count + 1) * width)
        func search(_ i: Int, _ j: Int) -> Bool {
            if visited[i * width + j] { return false }
            visited[i * width + j] = true
            if i == first.count && j == second.count { return true }
            if i < first.count && first[i] == .star {
                if search(i + 1, j) || (j < second.count && search(i, j + 1)) { return true }
            }
            if j < second.count && second[j] == .star {
                if search(i, j + 1) || (i < first.count && search(i + 1, j)) { return true }
            }
            guard i < first.count, j < second.count, first[i] != .star, second[j] != .star else { return false }
            if first[i] == second[j] || first[i] == .question || second[j] == .question {
                return search(i + 1, j + 1)
            }
            return false
        }
        return search(0, 0)
    }

    /// Expands `{a,b}` groups (not nested) into every combination; text without braces is returned as is.
    /// Returns nil for an unbalanced brace.
    static func expandBraces(_ text: String) -> [String]? {
        guard let open = text.firstIndex(of: "{") else {
            return text.contains("}") ? nil : [text]
        }
        guard let close = text[open...].firstIndex(of: "}") else { return nil }
        let inside = text[text.index(after: open)..<close]
        if inside.contains("{") { return nil }
        let head = text[..<open]
        guard let tails = expandBraces(String(text[text.index(after: close)...])) else { return nil }
        var result: [String] = []
        for alternative in inside.split(separator: ",", omittingEmptySubsequences: false) {
            for tail in tails { result.append(head + alternative + tail) }
        }
        return result
    }
}
