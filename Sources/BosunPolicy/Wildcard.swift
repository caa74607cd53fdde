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
        // Without a brace byte there is no brace character: the text as is, without walking its
        // characters (most globs; that walk was most of reading them, issue 10).
        if text.utf8.withContiguousStorageIfAvailable({ !$0.contains(.openBrace) && !$0.contains(.closeBrace) })
            == true
        {
            return [text]
        }
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

/// A set of byte values, folded to 128 (a byte and the byte 128 above it share a member). Matching
/// uses it as a necessary condition: every byte a pattern requires literally must occur in the text
/// (folding keeps that true: equal bytes fold alike), so one AND rejects most texts before a match.
struct ByteSet: Sendable, Equatable {
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    /// The set holding every byte, the identity of `formIntersection`.
    static let all: ByteSet = {
        var set = ByteSet()
        set.low = ~0
        set.high = ~0
        return set
    }()

    init() {}

    init(_ bytes: some Sequence<UInt8>) { insert(contentsOf: bytes) }

    @inline(__always) mutating func insert(_ byte: UInt8) {
        let bit = byte & 127
        if bit < 64 { low |= 1 &<< UInt64(bit) } else { high |= 1 &<< UInt64(bit &- 64) }
    }

    mutating func insert(contentsOf bytes: some Sequence<UInt8>) {
        for byte in bytes { insert(byte) }
    }

    /// `insert(contentsOf:)` over a string's UTF-8, from its contiguous storage when it has one (a
    /// native string always does): iterating `UTF8View` byte by byte was 2% of an evaluation.
    mutating func insert(contentsOf text: String.UTF8View) {
        let done: Void? = text.withContiguousStorageIfAvailable { buffer in
            for byte in buffer { insert(byte) }
        }
        if done == nil { for byte in text { insert(byte) } }
    }

    init(_ text: String.UTF8View) { insert(contentsOf: text) }

    mutating func formUnion(_ other: ByteSet) {
        low |= other.low
        high |= other.high
    }

    mutating func formIntersection(_ other: ByteSet) {
        low &= other.low
        high &= other.high
    }

    @inline(__always) static func contains(_ set: ByteSet, _ byte: UInt8) -> Bool {
        var single = ByteSet()
        single.insert(byte)
        return single.isSubset(of: set)
    }

    @inline(__always) func isSubset(of other: ByteSet) -> Bool {
        low & ~other.low == 0 && high & ~other.high == 0
    }
}

extension StringProtocol {
    /// `hasPrefix(String(UnicodeScalar(ascii)))` for an ASCII byte that no scalar decomposes to (`/`, `~`),
    /// by bytes when the next byte is ASCII too (no combining mark can then join the first character),
    /// otherwise by `hasPrefix` itself.
    @inline(__always) func startsWithCharacter(_ ascii: UInt8) -> Bool {
        var bytes = utf8.makeIterator()
        guard let first = bytes.next(), first == ascii else { return false }
        guard let second = bytes.next(), second >= 0x80 else { return true }
        return hasPrefix(String(UnicodeScalar(ascii)))
    }
}
