import Synchronization

/// Terminal widths from every surface (a PTY request, a window change, the CLI's ioctl, a control
/// request) are untrusted numbers: 0, negative, or huge. Everything that renders for a width goes
/// through here, so no width can reach a trap in our code or in ArgumentParser's help generator
/// (which asserts below 27 columns and pads with negative counts below that).
public enum TerminalWidth {
    /// The widest terminal we render for; wider ones get this.
    public static let maximum = 10_000
    /// ArgumentParser renders help at no less than this; narrower terminals get it re-wrapped.
    public static let helpMinimum = 80
    /// ArgumentParser renders help at no more than this (its lines are short anyway).
    public static let helpMaximum = 200

    /// nil for unknown (nil, 0 or negative: a PTY that reports 0×0), else clamped to 1...maximum.
    public static func normalized(_ width: Int?) -> Int? {
        guard let width, width > 0 else { return nil }
        return min(width, maximum)
    }

    /// Renders help text with `render(columns)` at a width ArgumentParser handles, then wraps what
    /// is still wider than the terminal (narrow terminals, and ArgumentParser's long usage lines).
    /// Below `helpMinimum` columns the two-column entries (`  --host <host>   Only this host.`)
    /// become a name line and its description indented under it, so nothing is cut mid-column.
    public static func help(_ render: (Int) -> String, width: Int?) -> String {
        let width = normalized(width)
        let columns = min(max(width ?? helpMinimum, helpMinimum), helpMaximum)
        let text = render(columns)
        guard let width else { return text }
        guard width < columns else { return wrap(text, to: width) }
        return wrap(stackedCached(text), to: width)
    }

    /// The last text stacked and its result: one help text is often rendered for several widths.
    private static let lastStacked = Mutex<(text: String, stacked: String)?>(nil)

    static func stackedCached(_ text: String) -> String {
        if let hit = lastStacked.withLock({ $0?.text == text ? $0?.stacked : nil }) { return hit }
        let result = stacked(text)
        lastStacked.withLock { $0 = (text, result) }
        return result
    }

    /// ArgumentParser's `  name    description` entries (with their continuation lines) as
    /// `  name` and `      description` on one line of its own (wrapped by the caller).
    static func stacked(_ text: String) -> String {
        let space = UInt8(ascii: " ")
        var out: [String] = []
        var descriptionColumn: Int?
        // By bytes: help is ASCII (a line with other text is only ever kept as it is, or joined).
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let bytes = Array(line.utf8)
            let indent = bytes.prefix { $0 == space }.count
            let body = bytes[indent...]
            if let column = descriptionColumn, indent == column, !body.isEmpty, let last = out.popLast() {
                out.append(last + " " + String(decoding: body, as: UTF8.self))  // the description, continued
                continue
            }
            descriptionColumn = nil
            // A name, two or more spaces, then a description.
            if indent >= 1, indent <= 8,
                let gap = body.indices.first(where: {
                    $0 + 1 < bytes.count && bytes[$0] == space && bytes[$0 + 1] == space
                })
            {
                let start = bytes[gap...].firstIndex { $0 != space } ?? bytes.count
                if start < bytes.count {
                    descriptionColumn = start
                    out.append(String(decoding: bytes[..<gap], as: UTF8.self))
                    out.append(
                        String(repeating: " ", count: indent + 4) + String(decoding: bytes[start...], as: UTF8.self))
                    continue
                }
            }
            out.append(String(line))
        }
        return out.joined(separator: "\n")
    }

    /// Wraps every line wider than `width` columns: at the last space that fits, else hard. The
    /// lines a long one becomes keep its indentation (at most a third of the width), so a wrapped
    /// description stays under its name.
    public static func wrap(_ text: String, to width: Int) -> String {
        let width = max(1, width)
        var out: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            guard columns(of: line) > width else {
                out.append(String(line))
                continue
            }
            let indent = min(line.prefix { $0 == " " }.count, width / 3)
            if line.utf8.allSatisfy({ $0 < 0x80 }) {
                // ASCII (all of help, most cards): by byte offsets, without walking characters.
                out += wrapASCII(Array(line.utf8), width: width, indent: indent)
                continue
            }
            let margin = String(repeating: " ", count: indent)
            var rest = Substring(line)
            var first = true
            while true {
                let room = first ? width : width - indent
                let lead = first ? "" : margin
                // The longest head that fits `room` columns (at least one character).
                var end = rest.startIndex
                var used = 0
                while end < rest.endIndex {
                    let next = columns(of: rest[end])
                    if used + next > room && end > rest.startIndex { break }
                    used += next
                    end = rest.index(after: end)
                }
                if end == rest.endIndex {
                    out.append(lead + rest)
                    break
                }
                let head = rest[..<end]
                if end < rest.endIndex, rest[end] == " " {
                    out.append(lead + head)
                    rest = rest[rest.index(after: end)...]
                } else if let space = head.lastIndex(of: " "), head[..<space].contains(where: { $0 != " " }) {
                    out.append(lead + rest[..<space])
                    rest = rest[rest.index(after: space)...]
                } else {
                    out.append(lead + head)
                    rest = rest[end...]
                }
                first = false
                if rest.isEmpty { break }
            }
        }
        return out.joined(separator: "\n")
    }

    /// `wrap` of one ASCII line: the same breaks, computed on bytes.
    static func wrapASCII(_ bytes: [UInt8], width: Int, indent: Int) -> [String] {
        let space = UInt8(ascii: " ")
        var out: [String] = []
        var start = 0
        var first = true
        while true {
            let room = first ? width : width - indent
            let lead = first ? "" : String(repeating: " ", count: indent)
            if bytes.count - start <= room {
                out.append(lead + String(decoding: bytes[start...], as: UTF8.self))
                break
            }
            let end = start + max(1, room)
            if bytes[end] == space {
                out.append(lead + String(decoding: bytes[start..<end], as: UTF8.self))
                start = end + 1
            } else if let cut = bytes[start..<end].lastIndex(of: space),
                bytes[start..<cut].contains(where: { $0 != space })
            {
                out.append(lead + String(decoding: bytes[start..<cut], as: UTF8.self))
                start = cut + 1
            } else {
                out.append(lead + String(decoding: bytes[start..<end], as: UTF8.self))
                start = end
            }
            first = false
            if start >= bytes.count { break }
        }
        return out
    }

    /// Text wrapped at word boundaries to `width` columns (nil: as it is), every line after the
    /// first starting with `indent`. For cards and messages built by the shell.
    public static func wrap(_ text: String, width: Int?, indent: String) -> String {
        guard let width = normalized(width) else { return text }
        let margin = columns(of: indent) < width / 2 ? indent : ""
        return wrap(text, to: width).split(separator: "\n", omittingEmptySubsequences: false).enumerated().map {
            $0.offset == 0 ? String($0.element) : margin + $0.element
        }.joined(separator: "\n")
    }

    /// Terminal columns `text` takes: 2 for East Asian wide characters and emoji, 0 for a
    /// combining mark, 1 otherwise (escaped text has no control characters).
    public static func columns(of text: some StringProtocol) -> Int {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text.utf8.count }
        return text.reduce(0) { $0 + columns(of: $1) }
    }

    public static func columns(of character: Character) -> Int {
        guard let scalar = character.unicodeScalars.first else { return 0 }
        let value = scalar.value
        if value < 0x300 { return 1 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark: return 0
        default: break
        }
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
            0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD,
        ]
        return wide.contains { $0.contains(value) } ? 2 : 1
    }
}
