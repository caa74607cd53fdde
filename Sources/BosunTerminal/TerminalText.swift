/// Makes untrusted text (from hosts, agents, operators) safe to print on a terminal: control
/// characters, escape sequences and every character that can reorder or hide text (bidi controls
/// and other format characters, line and paragraph separators) are shown escaped, never
/// interpreted. Nothing is dropped: a NUL shows as `\x00` and what follows it stays.
public enum TerminalText {
    public static func escape(_ text: String) -> String {
        // Printable ASCII without a backslash (most cells) needs nothing: returned as it is.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C }) { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: result += "\\n"
            case 0x09: result += "\\t"
            case 0x0D: result += "\\r"
            case 0x1B: result += "\\e"
            case 0x5C: result += "\\\\"
            case 0x00..<0x20, 0x7F, 0x80..<0xA0:
                result += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
            default:
                if isHidden(scalar) {
                    result += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }

    /// Control (Cc), format (Cf: bidi marks, embeddings, overrides and isolates, zero-width and
    /// invisible operators, the BOM, tags), line and paragraph separators (Zl, Zp): characters a
    /// terminal or viewer may act on instead of showing.
    public static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }
}

extension String {
    public func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
