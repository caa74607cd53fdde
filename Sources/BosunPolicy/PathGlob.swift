/// A path split into segments, after normalisation (`.`/`..` resolved, workspace paths made relative).
struct PathSegments: Sendable, Equatable {
    var absolute: Bool
    var segments: [PathSegment]
    /// Some segment has glob characters (and may stand for other names): no shortcut by equal names.
    var hasPattern: Bool
    /// The bytes of the segments' names.
    var bytes: ByteSet

    init(_ path: String) {
        absolute = path.startsWithCharacter(.slash)
        if let ascii = path.utf8.withContiguousStorageIfAvailable({ Self.splitASCII(path, $0) }), let ascii {
            (segments, hasPattern, bytes) = ascii
            return
        }
        segments = PathForm.segments(path).map { PathSegment($0) }
        hasPattern = segments.contains { $0.pattern != nil }
        bytes = ByteSet(path.utf8)
    }

    /// `init`'s work for an ASCII path (nil otherwise) in two passes over its bytes and one allocation:
    /// the byte set and the number of `/` first, then the segments, as `PathForm.segments(path)
    /// .map(PathSegment.init)` makes them (compared in `FastPathTests`).
    private static func splitASCII(_ path: String, _ buffer: UnsafeBufferPointer<UInt8>) -> (
        [PathSegment], Bool, ByteSet
    )? {
        var bytes = ByteSet()
        var slashes = 0
        for byte in buffer {
            if byte >= 0x80 { return nil }
            bytes.insert(byte)
            if byte == .slash { slashes += 1 }
        }
        var segments: [PathSegment] = []
        segments.reserveCapacity(slashes + 1)
        var hasPattern = false
        let utf8 = path.utf8
        var start = 0
        var glob = false
        for position in 0...buffer.count {
            let byte = position < buffer.count ? buffer[position] : UInt8.slash
            if byte == .slash {
                if position != start {
                    let text = path[
                        utf8.index(utf8.startIndex, offsetBy: start)..<utf8.index(utf8.startIndex, offsetBy: position)]
                    let segment = glob ? PathSegment(text) : PathSegment(plain: text)
                    if segment.pattern != nil { hasPattern = true }
                    segments.append(segment)
                }
                start = position + 1
                glob = false
            } else if byte == .star || byte == .question || byte == .openBracket {
                glob = true
            }
        }
        return (segments, hasPattern, bytes)
    }

    /// Whether some segment is `name` as written.
    func contains(name: String) -> Bool { segments.contains { $0.text == name } }
}

/// One name of a path. A name with shell glob characters (`.e*`, `id_rs?`, `.e[n]v`) may stand for
/// other names, so rules match it by what it could expand to.
struct PathSegment: Sendable, Equatable {
    var text: Substring
    /// The name as a `*`/`?` pattern (a `[…]` class becomes `?`); nil without glob characters, and nil when
    /// it starts with a wildcard (`*`, `*.go`: too broad to say anything, so `ls *` is not taken to read
    /// every secret).
    var pattern: [UInt8]?

    /// A name without `*`, `?` or `[`.
    init(plain text: Substring) {
        self.text = text
        pattern = nil
    }

    init(_ text: Substring) {
        self.text = text
        guard text.utf8.contains(where: { $0 == .star || $0 == .question || $0 == .openBracket }) else {
            pattern = nil
            return
        }
        var pattern: [UInt8] = []
        let bytes = Array(text.utf8)
        var position = 0
        while position < bytes.count {
            if bytes[position] == .openBracket,
                let close = bytes[(position + 2 < bytes.count ? position + 2 : bytes.count)...].firstIndex(
                    of: .closeBracket)
            {
                pattern.append(.question)
                position = close + 1
                continue
            }
            pattern.append(bytes[position])
            position += 1
        }
        self.pattern = pattern.first == .star || pattern.first == .question ? nil : pattern
    }

    /// Whether this name is, or (unless `exact`) as a glob could expand to, `literal`.
    func matches(literal: String, exact: Bool) -> Bool {
        if text == literal { return true }
        guard !exact, let pattern else { return false }
        if literal.utf8.first == .dot && pattern.first != .dot { return false }
        return Wildcard.matches(pattern, literal, questionMark: true)
    }

    /// Whether this name matches the wildcard `glob`, or (unless `exact`) as a glob could expand to a name
    /// `glob` matches.
    func matches(pattern glob: [UInt8], exact: Bool) -> Bool {
        if Wildcard.matches(glob, text, questionMark: true) { return true }
        guard !exact, let pattern else { return false }
        if glob.first == .dot && pattern.first != .dot { return false }
        return Wildcard.intersects(glob, pattern)
    }
}

/// One path glob of a rule: `**` any number of segments, `*` and `?` within a segment, `{a,b}`
/// alternatives. A glob starting with `/` or `~` is anchored; any other glob matches at any depth
/// (`.env` matches `config/.env` and `/srv/app/.env`). A leading `!` negates it within its list.
struct PathGlob: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case anyDepth
        case literal(String)
        case pattern([UInt8])
    }

    /// Shared by reference: matching loops over alternatives without copying their arrays.
    final class Alternative: Sendable, Equatable {
        let absolute: Bool
        let anchored: Bool
        let segments: [Segment]
        /// No `**`: an unanchored match can only start at one segment, counted from the end.
        let fixedLength: Bool
        /// The literal segments: a path without glob characters matches only if it has every one of them.
        let literals: [String]
        /// The bytes of its literal text (`*` and `?` aside): a path matching it as written has them all.
        let required: ByteSet

        init(
            absolute: Bool, anchored: Bool, segments: [Segment], fixedLength: Bool, literals: [String],
            required: ByteSet
        ) {
            self.absolute = absolute
            self.anchored = anchored
            self.segments = segments
            self.fixedLength = fixedLength
            self.literals = literals
            self.required = required
        }

        static func == (lhs: Alternative, rhs: Alternative) -> Bool {
            lhs.absolute == rhs.absolute && lhs.anchored == rhs.anchored && lhs.segments == rhs.segments
        }
    }

    var negated: Bool
    var alternatives: [Alternative]

    /// Why `text` is not a usable glob, or nil.
    static func problem(_ text: String) -> String? {
        let body = text.hasPrefix("!") ? String(text.dropFirst()) : text
        if body.isEmpty { return "expected a path glob, found an empty string" }
        guard Wildcard.expandBraces(body) != nil else {
            return "unbalanced or nested '{…}' in \"\(text)\""
        }
        return nil
    }

    init(_ text: String) {
        negated = text.hasPrefix("!")
        let body = negated ? String(text.dropFirst()) : text
        alternatives = (Wildcard.expandBraces(body) ?? [body]).map { alternative in
            let absolute = alternative.hasPrefix("/")
            // (`PathForm.segments` is `split(separator: "/")`, over bytes when ASCII.)
            let segments: [Segment] = PathForm.segments(alternative).map { segment in
                if segment == "**" { return .anyDepth }
                if Wildcard.hasWildcard(segment, questionMark: true) { return .pattern(Array(segment.utf8)) }
                return .literal(String(segment))
            }
            return Alternative(
                absolute: absolute, anchored: absolute || alternative.hasPrefix("~"), segments: segments,
                fixedLength: !segments.contains(.anyDepth),
                literals: segments.compactMap { if case .literal(let name) = $0 { name } else { nil } },
                required: ByteSet(alternative.utf8.lazy.filter { $0 != .star && $0 != .question && $0 != .slash }))
        }
    }

    /// Whether `path` matches; unless `exact`, a glob in the path matches what it could expand to.
    func matches(_ path: PathSegments, exact: Bool = false) -> Bool {
        alternatives.contains { Self.matches($0, path, exact: exact) }
    }

    /// Whether `path` matches one alternative of a glob.
    static func matches(_ alternative: Alternative, _ path: PathSegments, exact: Bool) -> Bool {
        if alternative.absolute != path.absolute && alternative.anchored { return false }
        // Matched as written (no glob in the path to expand), the path has every literal byte of the glob.
        if (exact || !path.hasPattern) && !alternative.required.isSubset(of: path.bytes) { return false }
        // A literal segment matches only a segment of that name when the path has no glob
        // characters: a cheap necessary condition that rejects most paths before matching.
        if !path.hasPattern && !alternative.literals.allSatisfy(path.contains(name:)) { return false }
        if alternative.anchored {
            return match(alternative.segments[...], path.segments[...], exact)
        }
        if alternative.fixedLength {
            let start = path.segments.count - alternative.segments.count
            return start >= 0 && match(alternative.segments[...], path.segments[start...], exact)
        }
        // Unanchored: the glob may start at any segment.
        var start = path.segments.startIndex
        while true {
            if match(alternative.segments[...], path.segments[start...], exact) { return true }
            if start == path.segments.endIndex { return false }
            start += 1
        }
    }

    private static func match(_ pattern: ArraySlice<Segment>, _ path: ArraySlice<PathSegment>, _ exact: Bool) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        switch first {
        case .anyDepth:
            let rest = pattern.dropFirst()
            if rest.isEmpty { return true }
            var start = path.startIndex
            while true {
                if match(rest, path[start...], exact) { return true }
                if start == path.endIndex { return false }
                start += 1
            }
        case .literal(let literal):
            guard let segment = path.first, segment.matches(literal: literal, exact: exact) else { return false }
            return match(pattern.dropFirst(), path.dropFirst(), exact)
        case .pattern(let bytes):
            guard let segment = path.first, segment.matches(pattern: bytes, exact: exact) else { return false }
            return match(pattern.dropFirst(), path.dropFirst(), exact)
        }
    }
}

/// A rule's list of path globs: a path matches when a positive glob matches and no negated one does (a
/// path with glob characters is excluded by a negated glob only when it matches it as written).
final class PathGlobList: Sendable {
    let positive: [PathGlob]
    let negative: [PathGlob]
    /// The positive alternatives with no literal segment, tried on every path.
    private let unnamed: [PathGlob.Alternative]
    /// `unnamed`'s first checks as plain values, so a path they reject costs no reference to the
    /// alternative (reading a class reference out of an array retains and releases it).
    private let unnamedFilters: [Filter]
    /// The other positive alternatives by their first literal segment: a path without glob
    /// characters can only match those filed under one of its segment names.
    private let byName: [Substring: [PathGlob.Alternative]]
    /// The first bytes and the lengths (bit `min(length, 63)`) of `byName`'s names: a segment without
    /// both is no name there, found without hashing it.
    private let nameFirstBytes: ByteSet
    private let nameLengths: UInt64

    init(_ globs: [String]) {
        var positive: [PathGlob] = []
        var negative: [PathGlob] = []
        for glob in globs.map(PathGlob.init) {
            if glob.negated { negative.append(glob) } else { positive.append(glob) }
        }
        var unnamed: [PathGlob.Alternative] = []
        var byName: [Substring: [PathGlob.Alternative]] = [:]
        var nameFirstBytes = ByteSet()
        var nameLengths: UInt64 = 0
        for alternative in positive.flatMap(\.alternatives) {
            if let name = alternative.literals.first {
                byName[Substring(name), default: []].append(alternative)
                if let first = name.utf8.first { nameFirstBytes.insert(first) }
                nameLengths |= 1 &<< UInt64(min(name.utf8.count, 63))
            } else {
                unnamed.append(alternative)
            }
        }
        self.positive = positive
        self.negative = negative
        self.unnamed = unnamed
        positiveRequired = positive.flatMap(\.alternatives).map(\.required)
        unnamedFilters = unnamed.map { Filter(absolute: $0.absolute, anchored: $0.anchored, required: $0.required) }
        self.byName = byName
        self.nameFirstBytes = nameFirstBytes
        self.nameLengths = nameLengths
    }

    var isEmpty: Bool { positive.isEmpty }

    /// Every positive alternative's required bytes (`PathGlob.Alternative.required`), as plain values.
    private let positiveRequired: [ByteSet]

    /// False when no path summed up in `summary` can match: none has glob characters, and every
    /// positive alternative needs a byte none of them has (`PathGlob.matches` rejects a path without
    /// glob characters lacking one of its alternative's required bytes; `matches` needs a positive match).
    func mayMatch(_ summary: PathSummary) -> Bool {
        if summary.hasPattern { return true }
        for position in positiveRequired.indices where positiveRequired[position].isSubset(of: summary.bytes) {
            return true
        }
        return false
    }

    /// What an alternative rejects a path without glob characters by before any matching.
    private struct Filter: Sendable {
        var absolute: Bool
        var anchored: Bool
        var required: ByteSet
    }

    func matches(_ path: PathSegments) -> Bool {
        guard matchesPositive(path) else { return false }
        for glob in negative where glob.matches(path, exact: true) { return false }
        return true
    }

    private func matchesPositive(_ path: PathSegments) -> Bool {
        guard !path.hasPattern else { return positive.contains { $0.matches(path) } }
        // By position, the elements read in place rather than copied out of their arrays; the first
        // two checks of `PathGlob.matches` (for a path without glob characters) made here first.
        for position in unnamedFilters.indices {
            let filter = unnamedFilters[position]
            if filter.anchored && filter.absolute != path.absolute { continue }
            if !filter.required.isSubset(of: path.bytes) { continue }
            if PathGlob.matches(unnamed[position], path, exact: false) { return true }
        }
        for position in path.segments.indices {
            guard let first = path.segments[position].text.utf8.first, ByteSet.contains(nameFirstBytes, first),
                nameLengths & (1 &<< UInt64(min(path.segments[position].text.utf8.count, 63))) != 0,
                let alternatives = byName[path.segments[position].text]
            else { continue }
            for index in alternatives.indices where PathGlob.matches(alternatives[index], path, exact: false) {
                return true
            }
        }
        return false
    }
}

/// Path normalisation for matching: `.`/`..` resolved; paths inside the workspace (`cwd`) made relative,
/// paths outside it absolute, so relative globs describe the workspace and `/…` globs the rest.
enum PathForm {
    /// `path.split(separator: "/")`; over bytes when the path is ASCII (where a `/` is always a
    /// character of its own), as `split` otherwise.
    static func segments(_ path: String) -> [Substring] {
        var result: [Substring] = []
        let utf8 = path.utf8
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte >= 0x80 { return path.split(separator: "/") }
            if byte == .slash {
                if index != start { result.append(path[start..<index]) }
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        if start != utf8.endIndex { result.append(path[start..<utf8.endIndex]) }
        return result
    }

    /// Whether `normalize` returns `path` as it is: ASCII, no empty, `.` or `..` segment, no trailing
    /// `/` (most paths, checked without building anything).
    static func isNormalized(_ path: String) -> Bool {
        // From contiguous storage when there is one (iterating `UTF8View` costs several times more).
        if let normal = path.utf8.withContiguousStorageIfAvailable({ isNormalized(bytes: $0) }) { return normal }
        return isNormalized(bytes: path.utf8)
    }

    private static func isNormalized(bytes: some Sequence<UInt8>) -> Bool {
        var length = 0
        var onlyDots = true
        var leading = true
        for byte in bytes {
            if byte >= 0x80 { return false }
            if byte == .slash {
                if leading && length == 0 {
                    leading = false
                    continue
                }
                if length == 0 || (onlyDots && length <= 2) { return false }
                length = 0
                onlyDots = true
            } else {
                length += 1
                if byte != .dot { onlyDots = false }
            }
            leading = false
        }
        return length > 0 && !(onlyDots && length <= 2)
    }

    static func normalize(_ path: String) -> String {
        if isNormalized(path) { return path }
        if let ascii = path.utf8.withContiguousStorageIfAvailable(normalizeASCII), let ascii { return ascii }
        let absolute = path.startsWithCharacter(.slash)
        var stack: [Substring] = []
        // `segments` is `split(separator: "/")`, over bytes when ASCII (walking characters was most
        // of normalising a path with `..` or `.`, issue 10).
        for segment in segments(path) {
            if segment == "." { continue }
            if segment == ".." {
                if let last = stack.last, last != ".." {
                    stack.removeLast()
                } else if !absolute {
                    stack.append(segment)
                }
                continue
            }
            stack.append(segment)
        }
        let joined = stack.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    /// `normalize` for an ASCII path (nil otherwise), written straight into the result's storage: a
    /// segment is a run of bytes between `/`s (for ASCII, `segments`), `..` removes the last one written.
    /// Every byte written is one of the path's, plus one for `.` (so the capacity cannot be exceeded).
    private static func normalizeASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        for byte in bytes where byte >= 0x80 { return nil }
        let absolute = bytes.first == .slash
        return String(unsafeUninitializedCapacity: bytes.count + 1) { out in
            let base = absolute ? 1 : 0
            if absolute { out[0] = .slash }
            var length = base
            var start = 0
            for position in 0...bytes.count where position == bytes.count || bytes[position] == .slash {
                defer { start = position + 1 }
                let size = position - start
                if size == 0 || (size == 1 && bytes[start] == .dot) { continue }
                if size == 2 && bytes[start] == .dot && bytes[start + 1] == .dot {
                    // The last segment written, unless there is none or it is `..` itself.
                    let lastIsParent =
                        length - base >= 2 && out[length - 1] == .dot && out[length - 2] == .dot
                        && (length - 2 == base || out[length - 3] == .slash)
                    if length > base && !lastIsParent {
                        var cut = length - 1
                        while cut > base && out[cut] != .slash { cut -= 1 }
                        length = cut
                        continue
                    }
                    if absolute { continue }
                }
                if length > base {
                    out[length] = .slash
                    length += 1
                }
                for offset in 0..<size { out[length + offset] = bytes[start + offset] }
                length += size
            }
            if length == 0 {
                out[0] = .dot
                length = 1
            }
            return length
        }
    }

    /// The workspace root for `cwd`, or nil when there is none (empty, relative or `/`).
    static func root(_ cwd: String) -> String? {
        guard cwd.hasPrefix("/") else { return nil }
        let root = normalize(cwd)
        return root == "/" ? nil : root
    }

    static func relative(_ path: String, root: String?) -> String {
        if path.startsWithCharacter(.tilde) { return normalize(path) }
        let absolute: String
        if path.startsWithCharacter(.slash) {
            absolute = normalize(path)
        } else {
            let slash = path.utf8.withContiguousStorageIfAvailable { $0.contains(.slash) } ?? path.utf8.contains(.slash)
            if !slash && path != "." && path != ".." { return path }
            // Already normalised, a relative path stays itself under a normalised root.
            if isNormalized(path) && (root.map(isNormalized) ?? true) { return path }
            guard let root else { return normalize(path) }
            absolute = normalize(root + "/" + path)
        }
        guard let root else { return absolute }
        if absolute == root { return "." }
        if absolute.hasPrefix(root), absolute.utf8.count > root.utf8.count,
            absolute.utf8[absolute.utf8.index(absolute.utf8.startIndex, offsetBy: root.utf8.count)] == .slash
        {
            return String(absolute.utf8.dropFirst(root.utf8.count + 1)) ?? absolute
        }
        return absolute
    }
}
