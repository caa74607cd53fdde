import BosunCore
import Foundation
import Testing

@Suite struct ProtocolCodecTests {
    let codec = ProtocolCodec()
    let thread = AgentThread(
        id: "ab12cd34", agent: .codex, argv: ["codex", "exec", "fix the \"bug\""], cwd: "/srv/app", repo: "/srv/app",
        branch: "main", pid: 4242, state: .running, startedAt: Date(timeIntervalSince1970: 1_700_000_000.25),
        lastActivity: Date(timeIntervalSince1970: 1_700_000_100.5), title: "fix", sessionID: nil, exitCode: nil)

    func strip(_ data: Data) -> Data {
        #expect(data.last == 0x0A)
        return data.dropLast()
    }

    @Test func hostMessagesRoundTrip() throws {
        let messages: [Envelope<HostMessage>] = [
            Envelope(seq: 0, .hello(Hello(hostVersion: "1", hostname: "h", bootID: "b", capabilities: ["threads"]))),
            Envelope(seq: 7, .thread(thread)),
            Envelope(seq: 0, .ack(12)),
            Envelope(seq: 0, .pong(Probe(nonce: 99))),
        ]
        for message in messages {
            let line = strip(codec.encode(message))
            #expect(try codec.decodeHostMessage(line) == message)
        }
    }

    @Test func supervisorMessagesRoundTrip() throws {
        let messages: [Envelope<SupervisorMessage>] = [
            Envelope(seq: 0, .welcome(Welcome(supervisorVersion: "0.1"))),
            Envelope(seq: 0, .ack(3)),
            Envelope(seq: 0, .ping(Probe(nonce: 1))),
        ]
        for message in messages {
            #expect(try codec.decodeSupervisorMessage(strip(codec.encode(message))) == message)
        }
    }

    @Test func wireShapeIsFlatWithVersionTypeAndSeq() throws {
        let line = strip(codec.encode(Envelope(seq: 7, HostMessage.thread(thread))))
        let object = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        #expect(object["v"] as? Int == 1)
        #expect(object["type"] as? String == "thread")
        #expect(object["seq"] as? Int == 7)
        #expect(object["started_at"] as? String == "2023-11-14T22:13:20.250Z")
        #expect(!String(decoding: line, as: UTF8.self).contains("\n"))
    }

    @Test(arguments: [
        ("garbage", ProtocolError.Code.malformedJSON),
        ("[1,2,3]", .malformedJSON),
        ("{\"v\":1,\"seq\":1}", .invalidMessage),
        ("{\"v\":2,\"type\":\"ack\",\"seq\":1}", .unsupportedVersion),
        ("{\"v\":1,\"type\":\"launch_missiles\",\"seq\":1}", .unknownType),
        ("{\"v\":1,\"type\":\"thread\",\"seq\":1,\"id\":\"x\"}", .invalidMessage),
        ("{\"v\":1,\"type\":\"pong\",\"seq\":0,\"nonce\":\"soon\"}", .invalidMessage),
        ("{\"v\":\"one\",\"type\":\"ack\",\"seq\":1}", .invalidMessage),
        ("{\"v\":1,\"type\":\"ack\",\"seq\":-4}", .invalidMessage),
    ])
    func malformedHostInputIsRejected(text: String, code: ProtocolError.Code) {
        #expect(throws: ProtocolError(code)) { try codec.decodeHostMessage(Data(text.utf8)) }
    }

    @Test func threadWithBadTimestampIsRejected() throws {
        var line = String(decoding: strip(codec.encode(Envelope(seq: 1, HostMessage.thread(thread)))), as: UTF8.self)
        line = line.replacingOccurrences(of: "2023-11-14T22:13:20.250Z", with: "yesterday")
        #expect(throws: ProtocolError(.invalidMessage)) { try codec.decodeHostMessage(Data(line.utf8)) }
    }

    @Test func invalidUTF8IsRejected() {
        var bytes = Array("{\"v\":1,\"type\":\"ack\",\"seq\":1,\"x\":\"".utf8)
        bytes += [0xC3, 0x28, 0x22, 0x7D]
        #expect(throws: ProtocolError(.invalidUTF8)) { try codec.decodeHostMessage(Data(bytes)) }
    }

    @Test func supervisorMessagesAreNotAcceptedFromHosts() {
        let ping = strip(codec.encode(Envelope(seq: 0, SupervisorMessage.ping(Probe(nonce: 1)))))
        #expect(throws: ProtocolError(.unknownType)) { try codec.decodeHostMessage(ping) }
    }
}

@Suite struct LineFramerTests {
    @Test func splitsLinesAcrossChunks() {
        var framer = LineFramer(limit: 100)
        #expect(framer.append(Data("ab".utf8)) == [])
        #expect(framer.append(Data("c\nde\n\nf".utf8)) == [.line(Data("abc".utf8)), .line(Data("de".utf8))])
        #expect(framer.append(Data("\n".utf8)) == [.line(Data("f".utf8))])
    }

    @Test func oversizedLineIsDiscardedAndReportedOnce() {
        var framer = LineFramer(limit: 4)
        #expect(framer.append(Data("123".utf8)) == [])
        #expect(framer.append(Data("4567".utf8)) == [])
        #expect(framer.append(Data("89\nok\n".utf8)) == [.oversized(9), .line(Data("ok".utf8))])
    }

    @Test func lineAtTheLimitIsAccepted() {
        var framer = LineFramer(limit: 4)
        #expect(framer.append(Data("1234\n12345\n".utf8)) == [.line(Data("1234".utf8)), .oversized(5)])
    }
}

@Suite struct AgentThreadTests {
    @Test(arguments: [
        (["codex", "exec", "hi"], AgentKind.codex),
        (["/usr/local/bin/claude", "-p", "x"], .claude),
        (["env", "FOO=1", "node", "/opt/claude-code/cli.js"], .claude),
        (["npx", "codex"], .codex),
        (["python3", "agent.py"], .generic),
        (["sleep", "10"], .generic),
    ])
    func guessesAgentFromArgv(argv: [String], kind: AgentKind) {
        #expect(AgentKind.guess(argv: argv) == kind)
    }

    @Test func validationBoundsUntrustedFields() {
        let base = AgentThread(
            id: "a1", agent: .generic, argv: [], cwd: "/", state: .idle, startedAt: Date(), lastActivity: Date())
        #expect(base.validationProblem == nil)
        var bad = base
        bad.id = "../../etc"
        #expect(bad.validationProblem != nil)
        bad = base
        bad.id = ThreadID(String(repeating: "a", count: 65))
        #expect(bad.validationProblem != nil)
        bad = base
        bad.cwd = String(repeating: "x", count: 5000)
        #expect(bad.validationProblem != nil)
    }
}

/// Numbers and timestamps a hostile host may send: each is refused at decode with a protocol error,
/// so nothing past the codec converts an out-of-range value (issue 8.1: an ack with seq 2^63 used
/// to trap bosund converting it to Int64).
@Suite struct HostileNumberTests {
    let codec = ProtocolCodec()

    @Test(arguments: [
        "9223372036854775808",  // 2^63
        "18446744073709551615",  // 2^64 - 1
    ])
    func seqOverInt64IsOutOfRange(seq: String) {
        for type in ["ack", "thread", "event"] {
            let line = "{\"v\":1,\"type\":\"\(type)\",\"seq\":\(seq),\"thread_id\":\"t\",\"kind\":\"k\",\"text\":\"x\"}"
            #expect(throws: ProtocolError(.outOfRange)) { try codec.decodeHostMessage(Data(line.utf8)) }
        }
    }

    @Test func largestSeqIsAccepted() throws {
        let line = "{\"v\":1,\"type\":\"ack\",\"seq\":9223372036854775807}"
        #expect(try codec.decodeHostMessage(Data(line.utf8)) == Envelope(seq: 0, .ack(UInt64(Int64.max))))
    }

    @Test(arguments: [
        "18446744073709551616", "-1", "-9223372036854775809", "1.5", "1e400", "-1e400", "1e19", "\"7\"", "null",
        "[1]", "{}", "true", "99999999999999999999999999999999999999999999999999",
    ])
    func seqThatIsNoUInt64IsRejected(seq: String) {
        let line = "{\"v\":1,\"type\":\"ack\",\"seq\":\(seq)}"
        #expect(throws: ProtocolError.self) { try codec.decodeHostMessage(Data(line.utf8)) }
    }

    func threadLine(_ replace: (inout [String: Any]) -> Void) throws -> Data {
        var object: [String: Any] = [
            "v": 1, "type": "thread", "seq": 1, "id": "t1", "agent": "codex", "argv": ["codex"], "cwd": "/",
            "state": "running", "started_at": "2026-01-01T00:00:00Z", "last_activity": "2026-01-01T00:00:00Z",
        ]
        replace(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }

    @Test func saneThreadIsAccepted() throws {
        _ = try codec.decodeHostMessage(try threadLine { $0["pid"] = 4242 })
    }

    @Test(arguments: [0, -1, 4_194_305, Int(Int32.max)])
    func pidOutOfRangeIsRejected(pid: Int) throws {
        let line = try threadLine { $0["pid"] = pid }
        #expect(throws: ProtocolError(.outOfRange)) { try codec.decodeHostMessage(line) }
    }

    @Test(arguments: [Int(Int32.max) + 1, Int(Int32.min) - 1, 1 << 40])
    func exitCodeOutsideInt32IsRejected(code: Int) throws {
        let line = try threadLine { $0["exit_code"] = code }
        #expect(throws: ProtocolError.self) { try codec.decodeHostMessage(line) }
    }

    @Test(arguments: ["1900-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2201-01-01T00:00:00Z"])
    func timestampOutOfRangeIsRejected(date: String) throws {
        let line = try threadLine { $0["last_activity"] = date }
        #expect(throws: ProtocolError.self) { try codec.decodeHostMessage(line) }
    }

    @Test func deeplyNestedJSONIsRejectedOnASmallStack() {
        // Host links decode on threads with a 512 KiB stack: nesting is refused before any parser recurses.
        let done = DispatchSemaphore(value: 0)
        let codec = codec
        nonisolated(unsafe) var outcomes: [Bool] = []
        let thread = Thread {
            for depth in [33, 10_000, 200_000] {
                let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                let line = "{\"v\":1,\"type\":\"ack\",\"seq\":1,\"x\":\(nested)}"
                outcomes.append((try? codec.decodeHostMessage(Data(line.utf8))) == nil)
                let object = String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
                outcomes.append((try? codec.decodeHostMessage(Data(object.utf8))) == nil)
            }
            done.signal()
        }
        thread.stackSize = 512 * 1024
        thread.start()
        done.wait()
        #expect(outcomes == Array(repeating: true, count: 6))
        // Brackets inside strings do not count.
        let quoted = "{\"v\":1,\"type\":\"ack\",\"seq\":1,\"x\":\"" + String(repeating: "[{", count: 1000) + "\\\"\"}"
        #expect((try? codec.decodeHostMessage(Data(quoted.utf8))) != nil)
    }

    func truncatedRequestLine(sha256: String?, bytes: Int?) -> Data {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let request = ApprovalRequest(
            id: "r1", threadID: "t1", createdAt: now, deadlineAt: now.addingTimeInterval(60),
            evidence: Evidence(tool: "Bash", command: "ls …", cwd: "/"), truncated: true, actionSHA256: sha256,
            actionBytes: bytes)
        return codec.encode(Envelope(seq: 3, HostMessage.request(request))).dropLast()
    }

    /// A truncated request's digest and length (issue 9): 64 lowercase hex digits, 0…2^31 bytes.
    @Test func truncatedRequestDigestAndLengthAreChecked() throws {
        let good = String(repeating: "0123456789abcdef", count: 4)
        _ = try codec.decodeHostMessage(truncatedRequestLine(sha256: good, bytes: 70_000))
        _ = try codec.decodeHostMessage(truncatedRequestLine(sha256: good, bytes: 0))
        _ = try codec.decodeHostMessage(truncatedRequestLine(sha256: good, bytes: 1 << 31))
        for digest in [good.uppercased(), String(good.dropLast()), good + "0", String(good.dropLast()) + "g", ""] {
            #expect(throws: ProtocolError(.outOfRange)) {
                try codec.decodeHostMessage(truncatedRequestLine(sha256: digest, bytes: 1))
            }
        }
        for bytes in [-1, (1 << 31) + 1, Int.max] {
            #expect(throws: ProtocolError(.outOfRange)) {
                try codec.decodeHostMessage(truncatedRequestLine(sha256: good, bytes: bytes))
            }
        }
    }

    @Test func localDecisionForAnotherRequestIsRejected() throws {
        let now = Date()
        let request = ApprovalRequest(
            id: "r1", threadID: "t1", createdAt: now, deadlineAt: now.addingTimeInterval(60),
            evidence: Evidence(tool: "Bash", command: "ls", cwd: "/"))
        let decision = Decision(
            requestID: "other", verdict: .allow, tier: .continue, rule: nil, reason: "",
            decidedBy: DecidedBy(encoded: "host:x"),
            decidedAt: now)
        let line = codec.encode(
            Envelope(seq: 3, HostMessage.localDecision(LocalDecision(request: request, decision: decision))))
        #expect(throws: ProtocolError(.outOfRange)) { try codec.decodeHostMessage(line.dropLast()) }
    }
}

/// A client's numbers: `audit --since 1e400d` made a date of -infinity, and formatting it for the
/// query trapped converting to Int64 — any viewer could stop bosund.
@Suite struct TimestampRangeTests {
    @Test(arguments: [
        Double.infinity, -Double.infinity, Double.nan, 1e20, -1e20, Double.greatestFiniteMagnitude,
        -Double.greatestFiniteMagnitude,
    ])
    func anyDateFormatsWithoutTrapping(seconds: Double) {
        let text = Timestamp.format(Date(timeIntervalSince1970: seconds))
        #expect(text.hasSuffix("Z"))
        #expect(Timestamp.parse(text) != nil || seconds.isNaN, "\(text)")
    }

    @Test func ordinaryDatesAreUnchanged() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_700_000_000.25)) == "2023-11-14T22:13:20.250Z")
    }
}

/// A control client's terminal width: `width: Int.min` over the socket trapped bosund in the
/// table renderer's arithmetic. Widths outside what a terminal can report are refused at decode.
@Suite struct ControlRequestRangeTests {
    @Test(arguments: ["-9223372036854775808", "-1", "65536", "9223372036854775807", "1e400", "1.5"])
    func outOfRangeWidthIsRefused(width: String) {
        let line = "{\"v\":1,\"argv\":[\"threads\"],\"width\":\(width)}"
        #expect(throws: (any Error).self) { try JSONDecoder().decode(ControlRequest.self, from: Data(line.utf8)) }
    }

    @Test func ordinaryRequestsRoundTrip() throws {
        for request in [
            ControlRequest(argv: ["threads"], width: 120), ControlRequest(argv: ["hosts"]),
            ControlRequest(argv: ["shell"], width: 0, operator: "alice", channel: "desk"),
        ] {
            let data = try JSONEncoder().encode(request)
            #expect(try JSONDecoder().decode(ControlRequest.self, from: data) == request)
        }
    }
}
