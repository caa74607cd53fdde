import Foundation

/// The last lines a host command wrote to stderr: reassembled from the channel's arbitrary chunks
/// into lines, escaped (control, C1 and bidi/format characters shown as `\u{…}`), each line and
/// the number kept bounded. The first kept line explains a link that ended (the host's `reason`).
struct StderrTail {
    let maxLines: Int
    let maxLineBytes: Int
    private(set) var lines: [String] = []
    private var partial = Data()

    init(maxLines: Int = 20, maxLineBytes: Int = 512) {
        self.maxLines = maxLines
        self.maxLineBytes = maxLineBytes
    }

    /// Adds a chunk; returns the lines it completed (escaped), for the log.
    mutating func append(_ chunk: Data) -> [String] {
        var completed: [String] = []
        var rest = chunk[...]
        while let newline = rest.firstIndex(of: 0x0A) {
            partial.append(contentsOf: rest[rest.startIndex..<newline])
            rest = rest[rest.index(after: newline)...]
            completed.append(finishLine())
        }
        partial.append(contentsOf: rest)
        // A line that never ends is cut into pieces rather than buffered without bound.
        while partial.count >= maxLineBytes * 4 {
            completed.append(finishLine())
        }
        return completed
    }

    /// Ends the stream: a last line without a newline still counts.
    mutating func flush() -> [String] {
        partial.isEmpty ? [] : [finishLine()]
    }

    /// The first kept line that says something, for the host's `reason`.
    var firstLine: String? { lines.first { !$0.trimmingCharacters(in: .whitespaces).isEmpty } }

    private mutating func finishLine() -> String {
        let bytes = partial.prefix(maxLineBytes * 4)
        partial = Data(partial.dropFirst(bytes.count))
        var text = Self.escape(String(decoding: bytes, as: UTF8.self))
        if text.utf8.count > maxLineBytes {
            text = String(decoding: text.utf8.prefix(maxLineBytes), as: UTF8.self) + "…"
        }
        if text.hasSuffix("\r") { text.removeLast() }
        lines.append(text)
        if lines.count > maxLines { lines.removeFirst(lines.count - maxLines) }
        return text
    }

    /// Escapes every character that could move a terminal's cursor, reorder or hide text.
    static func escape(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            let value = scalar.value
            let hidden =
                value < 0x20 && value != 0x09 || (0x7F...0x9F).contains(value)
                || scalar.properties.generalCategory == .format
                || scalar.properties.generalCategory == .lineSeparator
                || scalar.properties.generalCategory == .paragraphSeparator
            if hidden {
                result += "\\u{" + String(value, radix: 16) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
