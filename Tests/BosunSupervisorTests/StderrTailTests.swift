import Foundation
import Testing

@testable import BosunSupervisor

/// The host command's stderr arrives in arbitrary pieces (1–7 bytes on a busy link): it is kept
/// as whole, escaped, bounded lines (issue 7.11).
@Suite struct StderrTailTests {
    @Test func piecesBecomeWholeEscapedLines() {
        var tail = StderrTail()
        let text = Data("bosun-host: spool unusable: Permission denied\n\u{1B}[31mred\u{202E}\nlast".utf8)
        var logged: [String] = []
        var offset = 0
        var size = 1
        while offset < text.count {
            let end = min(text.count, offset + size)
            logged += tail.append(text[offset..<end])
            offset = end
            size = size % 7 + 1
        }
        logged += tail.flush()
        #expect(logged == ["bosun-host: spool unusable: Permission denied", "\\u{1b}[31mred\\u{202e}", "last"])
        #expect(tail.firstLine == "bosun-host: spool unusable: Permission denied")
    }

    @Test func linesAndTheirNumberAreBounded() {
        var tail = StderrTail(maxLines: 3, maxLineBytes: 16)
        for n in 0..<10 { _ = tail.append(Data("line \(n) \(String(repeating: "x", count: 40))\n".utf8)) }
        #expect(tail.lines.count == 3)
        #expect(tail.lines.allSatisfy { $0.utf8.count <= 16 + "…".utf8.count })
        // A line that never ends is cut rather than buffered without bound.
        let pieces = tail.append(Data(repeating: UInt8(ascii: "y"), count: 1000))
        #expect(!pieces.isEmpty)
    }
}
