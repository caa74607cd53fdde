/// Makes untrusted text (from hosts, agents, operators) safe to print on a terminal: control
/// characters, escape sequences and bidi overrides are shown escaped, never interpreted.
public enum TerminalText {
    public static func escape(_ text: String) -> String {
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
            case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069:
                result += "\\u{" + String(scalar.value, radix: 16) + "}"
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
