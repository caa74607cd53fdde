/// A plain-text table that fits the terminal. When too wide, the flexible columns are cut with "…"
/// (down to their `minimum`), and when that is not enough the least important columns (highest
/// `priority`) are dropped, so the columns that matter keep their width on a phone.
/// Every cell is escaped here (`TerminalText`), so no text reaches the terminal raw whatever its
/// source; callers pass cells unescaped. Widths are counted in terminal columns (wide characters
/// count two).
public struct Table {
    public struct Column {
        public var title: String
        /// May be shortened to fit the width.
        public var flexible = false
        /// 0: always shown. Higher numbers are dropped first when the table does not fit.
        public var priority = 0
        /// Shown only in the wide layout (`-o wide`).
        public var wide = false
        /// A flexible column is not cut below this many columns.
        public var minimum = 8

        public init(title: String, flexible: Bool = false, priority: Int = 0, wide: Bool = false, minimum: Int = 8) {
            self.title = title
            self.flexible = flexible
            self.priority = max(0, priority)
            self.wide = wide
            self.minimum = max(1, minimum)
        }
    }

    /// Which columns a rendering shows.
    public enum Layout: Sendable {
        /// Every column but the wide-only ones; the least important dropped to fit.
        case fit
        /// Every column, none dropped (flexible ones still cut to fit).
        case wide
        /// Only the columns that always show (priority 0).
        case narrow
    }

    public var columns: [Column]
    public var rows: [[String]] = []

    public init(_ columns: [Column]) {
        self.columns = columns
    }

    public mutating func append(_ row: [String]) {
        rows.append(columns.indices.map { $0 < row.count ? TerminalText.escape(row[$0]) : "" })
    }

    /// Any width works: nil, 0 or negative mean unlimited, widths above 10,000 count as 10,000.
    public func render(width: Int?, layout: Layout = .fit, headers: Bool = true) -> String {
        let natural = columns.indices.map { index in
            rows.reduce(TerminalWidth.columns(of: columns[index].title)) {
                max($0, TerminalWidth.columns(of: $1[index]))
            }
        }
        var shown = columns.indices.filter { index in
            switch layout {
            case .fit: !columns[index].wide
            case .wide: true
            case .narrow: columns[index].priority == 0
            }
        }
        var widths = natural
        if let width = TerminalWidth.normalized(width) {
            // A flexible column is cut down to its `minimum` before any column is dropped; an
            // essential one (priority 0) below that only when nothing is left to drop, to 8 at most.
            func least(_ index: Int) -> Int { min(natural[index], columns[index].minimum) }
            func hardLeast(_ index: Int) -> Int { min(natural[index], columns[index].minimum, 8) }
            while true {
                widths = natural
                var excess = shown.reduce(0) { $0 + widths[$1] } + 2 * max(0, shown.count - 1) - width
                // The less important columns are cut first.
                shrink(&widths, &excess, shown.filter { columns[$0].priority > 0 }, floor: least)
                shrink(&widths, &excess, shown, floor: least)
                if excess <= 0 { break }
                // Then the least important column goes (the rightmost among equals).
                if layout != .wide,
                    let victim = shown.filter({ columns[$0].priority > 0 }).max(by: {
                        (columns[$0].priority, $0) < (columns[$1].priority, $1)
                    })
                {
                    shown.removeAll { $0 == victim }
                    continue
                }
                shrink(&widths, &excess, shown, floor: hardLeast)
                break
            }
        }
        var lines: [String] = []
        for row in (headers ? [columns.map(\.title)] : []) + rows {
            let cells = shown.enumerated().map { position, index -> String in
                let cell = Self.fit(row[index], widths[index])
                // Padded by terminal columns, as the widths are counted.
                return position == shown.count - 1
                    ? cell
                    : cell + String(repeating: " ", count: max(0, widths[index] - TerminalWidth.columns(of: cell)))
            }
            lines.append(cells.joined(separator: "  "))
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    /// Shrinks the flexible columns among `candidates`, the least important and then the widest
    /// first, down to their floor, until `excess` is gone.
    func shrink(_ widths: inout [Int], _ excess: inout Int, _ candidates: [Int], floor: (Int) -> Int) {
        while excess > 0 {
            guard
                let index = candidates.filter({ columns[$0].flexible && widths[$0] > floor($0) })
                    .max(by: { widths[$0] < widths[$1] })
            else { return }
            let cut = min(excess, widths[index] - floor(index))
            widths[index] -= cut
            excess -= cut
        }
    }

    /// `text` cut to `width` terminal columns, ending in "…" when cut.
    public static func fit(_ text: String, _ width: Int) -> String {
        if text.utf8.count <= width || TerminalWidth.columns(of: text) <= width { return text }
        guard width > 0 else { return "" }
        var out = ""
        var used = 0
        for character in text {
            let next = TerminalWidth.columns(of: character)
            if used + next > width - 1 { break }
            out.append(character)
            used += next
        }
        return out + "…"
    }
}

/// A card: labelled fields, one under the other, each value wrapped at word boundaries to the
/// width and indented under its first line (`show N`). Values are escaped here, like table cells.
public struct Card {
    public var title: String
    public var fields: [(label: String, value: String)] = []
    /// Labels take this many columns (the value starts after them).
    public var labelWidth = 12

    public init(title: String) {
        self.title = title
    }

    public mutating func add(_ label: String, _ value: String?) {
        fields.append((label, TerminalText.escape(value ?? "-")))
    }

    /// A field whose value is several lines, each escaped (a multi-line reason stays readable).
    public mutating func addLines(_ label: String, _ lines: [String]) {
        fields.append((label, lines.map { TerminalText.escape($0) }.joined(separator: "\n")))
    }

    public func render(width: Int?) -> String {
        let width = TerminalWidth.normalized(width)
        // Too narrow for a label column: the value goes under its label.
        let stacked = width.map { $0 < labelWidth + 16 } ?? false
        var out = TerminalWidth.wrap(TerminalText.escape(title), width: width, indent: "  ") + "\n"
        for (label, value) in fields {
            let values = value.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if stacked {
                out += label + "\n"
                for value in values {
                    let body = TerminalWidth.wrap(value, width: width.map { max(1, $0 - 2) }, indent: "")
                    out += "  " + Self.indented(body, "  ") + "\n"
                }
                continue
            }
            let margin = String(repeating: " ", count: labelWidth)
            for (index, value) in values.enumerated() {
                let lead =
                    index == 0
                    ? label + String(repeating: " ", count: max(1, labelWidth - TerminalWidth.columns(of: label)))
                    : margin
                let body = TerminalWidth.wrap(value, width: width.map { max(1, $0 - labelWidth) }, indent: "")
                out += lead + Self.indented(body, margin) + "\n"
            }
        }
        return out
    }

    /// `text` with `margin` after each of its newlines.
    static func indented(_ text: String, _ margin: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n" + margin)
    }
}
