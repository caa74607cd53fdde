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
    public static func help(_ render: (Int) -> String, width: Int?) -> String {
        let width = normalized(width)
        let columns = min(max(width ?? helpMinimum, helpMinimum), helpMaximum)
        let text = render(columns)
        guard let width else { return text }
        return wrap(text, to: width)
    }

    /// Wraps every line longer than `width` characters: at the last space that fits, else hard.
    public static func wrap(_ text: String, to width: Int) -> String {
        let width = max(1, width)
        var out: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var rest = line
            while rest.count > width {
                let end = rest.index(rest.startIndex, offsetBy: width)
                let head = rest[..<end]
                if let space = head.lastIndex(of: " "), space > rest.startIndex {
                    out.append(rest[..<space])
                    rest = rest[rest.index(after: space)...]
                } else {
                    out.append(head)
                    rest = rest[end...]
                }
            }
            out.append(rest)
        }
        return out.joined(separator: "\n")
    }
}
