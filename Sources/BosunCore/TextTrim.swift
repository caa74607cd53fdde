/// Trimming and replacing by Unicode scalar, as Foundation's `trimmingCharacters(in:)` and
/// `replacingOccurrences(of:with:)` did, for the modules built on FoundationEssentials only.
extension StringProtocol {
    /// Without leading and trailing tabs and space separators (Foundation's `.whitespaces`).
    public func trimmingSpaces() -> String { trimmingScalars(where: Self.isSpace) }

    /// Without leading and trailing white space and line breaks (Foundation's `.whitespacesAndNewlines`).
    public func trimmingSpacesAndNewlines() -> String { trimmingScalars(where: Self.isSpaceOrNewline) }

    /// Every `scalar` replaced by `replacement` (by scalar: a quote followed by a combining mark is still
    /// replaced, as a shell would see it).
    public func replacingScalar(_ scalar: Unicode.Scalar, with replacement: String) -> String {
        var result = String.UnicodeScalarView()
        for each in unicodeScalars {
            if each == scalar { result.append(contentsOf: replacement.unicodeScalars) } else { result.append(each) }
        }
        return String(result)
    }

    func trimmingScalars(where trim: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !trim($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !trim($0) }) ?? first
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator
    }

    static func isSpaceOrNewline(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x85: return true
        default:
            switch scalar.properties.generalCategory {
            case .spaceSeparator, .lineSeparator, .paragraphSeparator: return true
            default: return false
            }
        }
    }
}
