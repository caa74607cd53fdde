import BosunCore
import Foundation
import Testing

/// Typed identifiers (issue 9) are plain strings on the wire and in JSON.
@Suite struct IdentifierTests {
    struct Record: Codable, Equatable {
        var host: HostName
        var thread: ThreadID
        var request: RequestID?
    }

    @Test func anIdentifierIsItsStringOnTheWire() throws {
        let record = Record(host: "web-1", thread: ThreadID("ab12cd34"), request: RequestID(rawValue: "r\u{0}1"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(record), as: UTF8.self)
        #expect(json == #"{"host":"web-1","request":"r\u00001","thread":"ab12cd34"}"#)
        #expect(try JSONDecoder().decode(Record.self, from: Data(json.utf8)) == record)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Record.self, from: Data(#"{"host":7,"thread":"t"}"#.utf8))
        }
        #expect("\(record.host)" == "web-1" && record.thread.rawValue == "ab12cd34")
        #expect(Set([HostName("a"), HostName("a"), HostName("b")]).count == 2 && HostName("a") < HostName("b"))
    }
}
