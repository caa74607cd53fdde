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

/// Records with typed ids encode to exactly the bytes their `String` fields did (issue 9).
@Suite struct TypedRecordBytesTests {
    static let at = Date(timeIntervalSince1970: 1_700_000_000.25)

    func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = Timestamp.makeEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    @Test func aRequestAndItsDecisionWithTypedIdsEncodeAsBefore() throws {
        let request = ApprovalRequest(
            id: RequestID("r1"), threadID: ThreadID("ab12cd34"), createdAt: Self.at,
            deadlineAt: Self.at.addingTimeInterval(270), evidence: Evidence(tool: "Bash", command: "ls", cwd: "/srv"))
        #expect(
            try json(request)
                == #"{"created_at":"2023-11-14T22:13:20.250Z","deadline_at":"2023-11-14T22:17:50.250Z","evidence":{"agent":"generic","changed_files":[],"command":"ls","credentials":[],"cwd":"/srv","hook_event":"PreToolUse","network":[],"paths":[],"side_effects":[],"tests_run":[],"tool":"Bash"},"id":"r1","thread_id":"ab12cd34","truncated":false}"#
        )
        let decision = Decision.hostClaim(.unreachable, request: request.id, reason: "no link", at: Self.at)
        #expect(
            try json(decision)
                == #"{"decided_at":"2023-11-14T22:13:20.250Z","decided_by":"host:unreachable","reason":"no link","request_id":"r1","tier":"expand","verdict":"deny"}"#
        )
        let outcome = Outcome(
            threadID: "ab12cd34", requestID: nil, tool: "Bash", command: nil, exitCode: 0, finishedAt: Self.at)
        #expect(
            try json(outcome)
                == #"{"exit_code":0,"finished_at":"2023-11-14T22:13:20.250Z","thread_id":"ab12cd34","tool":"Bash"}"#)
        #expect(try Timestamp.makeDecoder().decode(ApprovalRequest.self, from: Data(try json(request).utf8)) == request)
    }

    @Test func aDictionaryKeyedByIdsIsAnObjectOfItsStrings() throws {
        let counts: [HostName: Int] = ["web-1": 2, "db-2": 0]
        #expect(try json(counts) == #"{"db-2":0,"web-1":2}"#)
        #expect(try JSONDecoder().decode([HostName: Int].self, from: Data(#"{"web-1":2,"db-2":0}"#.utf8)) == counts)
    }
}
