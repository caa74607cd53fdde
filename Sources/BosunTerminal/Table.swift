/// A plain-text table that fits the terminal: when too wide, the flexible columns are cut with "…".
/// Every cell is escaped here (`TerminalText`), so no text reaches the terminal raw whatever its
/// source; callers pass cells unescaped.
public struct Table {
    public struct Column {
        public var title: String
        /// May be shortened to fit the width.
        public var flexible = false

        public init(title: String, flexible: Bool = false) {
            self.title = title
            self.flexible = flexible
        }
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
    public func render(width: Int?) -> String {
        var widths = columns.indices.map { index in
            rows.reduce(columns[index].title.count) { max($0, $1[index].count) }
        }
        if let width = TerminalWidth.normalized(width) {
            var excess = widths.reduce(0, +) + 2 * (columns.count - 1) - width
            // Shrink flexible columns, widest first, down to a floor of 8.
            while excess > 0 {
                guard
                    let index = columns.indices.filter({ columns[$0].flexible && widths[$0] > 8 })
                        .max(by: { widths[$0] < widths[$1] })
                else { break }
                let cut = min(excess, widths[index] - 8)
                widths[index] -= cut
                excess -= cut
            }
        }
        var lines: [String] = []
        for row in [columns.map(\.title)] + rows {
            let cells = row.indices.map { index -> String in
                let cell = Self.fit(row[index], widths[index])
                // Padded by characters, as the widths are counted (not through NSString).
                return index == row.count - 1
                    ? cell : cell + String(repeating: " ", count: max(0, widths[index] - cell.count))
            }
            lines.append(cells.joined(separator: "  "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func fit(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(max(0, width - 1))) + "…"
    }
}
