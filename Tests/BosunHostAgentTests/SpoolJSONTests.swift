import BosunCore
import Foundation
import Testing

@testable import BosunHostAgent

/// The hook path's hand-written spool records against the Codable path `serve`, the store and the
/// older helpers use (issue 10): the same bytes as `Timestamp.makeEncoder()`, and the same reading
/// as `Timestamp.makeDecoder()` for valid and broken files.
@Suite struct SpoolJSONTests {
    static let awkward = [
        "", "plain", "with/slash", "quote \" and \\ backslash", "line\nbreak\ttab\r", "\u{01}\u{1F}\u{7F}", "é中😀",
        "\u{2028}\u{2029}", "\u{FEFF}bom", "a\u{0}b",
    ]

    static func sameBytes<T: SpoolRecord & Equatable>(_ record: T, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let codable = try Timestamp.makeEncoder().encode(record)
        #expect(
            String(decoding: record.encoded, as: UTF8.self) == String(decoding: codable, as: UTF8.self),
            sourceLocation: sourceLocation)
        let back = try T.decode(record.encoded)
        #expect(back == (try Timestamp.makeDecoder().decode(T.self, from: codable)), sourceLocation: sourceLocation)
    }

    static func date(_ generator: inout SplitMix) -> Date {
        Date(timeIntervalSince1970: Double(Int.random(in: 0...4_000_000_000_000, using: &generator)) / 1000)
    }

    static func text(_ generator: inout SplitMix) -> String {
        awkward[Int.random(in: 0..<awkward.count, using: &generator)]
    }

    static func maybe(_ generator: inout SplitMix) -> String? {
        Bool.random(using: &generator) ? text(&generator) : nil
    }

    @Test func recordsHaveTheBytesOfTheCodablePath() throws {
        var generator = SplitMix(state: 0x5350_4F4F_4C4A_534F)
        for _ in 0..<300 {
            let run = TestRun(
                command: Self.text(&generator),
                exitCode: Bool.random(using: &generator) ? Int32.random(in: .min ... .max, using: &generator) : nil,
                at: Self.date(&generator))
            let evidence = Evidence(
                tool: Self.text(&generator), command: Self.maybe(&generator), paths: [Self.text(&generator)],
                purpose: Self.maybe(&generator), hookEvent: "PreToolUse",
                agent: AgentKind.allCases.randomElement(using: &generator) ?? .codex, sessionID: Self.maybe(&generator),
                cwd: Self.text(&generator), repo: Self.maybe(&generator), branch: Self.maybe(&generator),
                head: Self.maybe(&generator), changedFiles: Bool.random(using: &generator) ? [] : ["a/b.swift", "é"],
                testsRun: Bool.random(using: &generator) ? [] : [run, run], sideEffects: ["writes"], network: [],
                credentials: ["~/.ssh"], nextStep: Self.maybe(&generator))
            let request = ApprovalRequest(
                id: "r\(Int.random(in: 0...999, using: &generator))", threadID: "s-x",
                createdAt: Self.date(&generator), deadlineAt: Self.date(&generator), evidence: evidence,
                truncated: Bool.random(using: &generator),
                actionSHA256: Self.maybe(&generator), actionBytes: Bool.random(using: &generator) ? 70_123 : nil)
            try Self.sameBytes(run)
            try Self.sameBytes(evidence)
            try Self.sameBytes(request)
            let decision = Decision(
                requestID: request.id, verdict: DecisionVerdict.allCases.randomElement(using: &generator) ?? .deny,
                tier: Tier.allCases.randomElement(using: &generator) ?? .expand, rule: Self.maybe(&generator),
                reason: Self.text(&generator),
                decidedBy: DecidedBy(
                    encoded: ["policy:git-read", "operator:alice, bob", "host:deadline", "timeout", "weird/éx"][
                        Int.random(in: 0..<5, using: &generator)]),
                decidedAt: Self.date(&generator))
            try Self.sameBytes(decision)
            try Self.sameBytes(
                CorrelatedAnswer(requestID: request.id, verdict: decision.verdict, reason: decision.reason))
            try Self.sameBytes(ThreadEvidence(testsRun: Bool.random(using: &generator) ? [] : [run]))
            try Self.sameBytes(
                AgentThread(
                    id: "s-\(Int.random(in: 0...99, using: &generator))",
                    agent: AgentKind.allCases.randomElement(using: &generator) ?? .claude,
                    argv: [Self.text(&generator)], cwd: Self.text(&generator), repo: Self.maybe(&generator),
                    branch: Self.maybe(&generator), pid: Bool.random(using: &generator) ? 4242 : nil,
                    state: ThreadState.allCases.randomElement(using: &generator) ?? .running,
                    startedAt: Self.date(&generator), lastActivity: Self.date(&generator),
                    title: Self.maybe(&generator),
                    sessionID: Self.maybe(&generator), exitCode: Bool.random(using: &generator) ? -1 : nil,
                    hookedAt: Bool.random(using: &generator) ? Self.date(&generator) : nil))
        }
    }

    /// The hand-written timestamp reading gives `Timestamp.parse`'s dates, and leaves to it what it
    /// does not read itself.
    @Test func timestampsReadAsTimestampParseReadsThem() {
        var generator = SplitMix(state: 0x5449_4D45_5354_414D)
        for _ in 0..<5_000 {
            let date = Self.date(&generator)
            for text in [Timestamp.format(date), String(Timestamp.format(date).dropLast(5)) + "Z"] {
                #expect(JSONFields.timestamp(text) == Timestamp.parse(text), "\(text)")
            }
        }
        for text in [
            "2026-02-30T10:00:00.000Z", "2026-13-01T10:00:00.000Z", "2026-12-06T24:00:00Z", "2026-12-06T10:00:60Z",
            "1969-12-31T23:59:59.999Z", "2026-12-06T10:00:00.1234Z", "2026-12-06T10:00:00+01:00",
            "2026-12-06 10:00:00Z",
            "２０２６-12-06T10:00:00Z", "2026-12-06T10:00:00.-12Z", "",
        ] {
            #expect(JSONFields.timestamp(text) == nil, "\(text)")
        }
    }

    /// Broken and odd files are read (or refused) as the Codable path reads them.
    @Test func brokenFilesAreReadAsTheCodablePathReadsThem() throws {
        let decision =
            #"{"decided_at":"2026-12-06T10:00:00.123Z","decided_by":"policy:x","reason":"r","request_id":"a","rule":"x","tier":"expand","verdict":"allow"}"#
        let variants = [
            decision,
            decision.replacingOccurrences(of: #""rule":"x","#, with: ""),
            decision.replacingOccurrences(of: #""rule":"x""#, with: #""rule":null"#),
            decision.replacingOccurrences(of: #""rule":"x""#, with: #""rule":5"#),
            decision.replacingOccurrences(of: #""reason":"r","#, with: ""),
            decision.replacingOccurrences(of: #""reason":"r""#, with: #""reason":null"#),
            decision.replacingOccurrences(of: #""verdict":"allow""#, with: #""verdict":"maybe""#),
            decision.replacingOccurrences(of: #""tier":"expand""#, with: #""tier":["expand"]"#),
            decision.replacingOccurrences(of: "10:00:00.123Z", with: "10:00:00Z"),
            decision.replacingOccurrences(of: "2026-12-06T10:00:00.123Z", with: "yesterday"),
            decision.replacingOccurrences(of: "}", with: #","extra":{"deep":[1,2]}}"#),
            decision.replacingOccurrences(of: "}", with: #","reason":"second"}"#),
            "[]", "null", "{}", "", decision + "x", String(decision.dropLast()),
        ]
        for text in variants {
            let codable = try? Timestamp.makeDecoder().decode(Decision.self, from: Data(text.utf8))
            let mine = try? Decision.decode(Array(text.utf8))
            #expect(codable == mine, "\(text)")
        }
        let thread =
            #"{"agent":"claude","argv":["claude"],"cwd":"/w","exit_code":3,"id":"s-1","last_activity":"2026-12-06T10:00:00.000Z","pid":12,"started_at":"2026-12-06T09:00:00.000Z","state":"running"}"#
        for text in [
            thread, thread.replacingOccurrences(of: #""pid":12"#, with: #""pid":12.5"#),
            thread.replacingOccurrences(of: #""pid":12"#, with: #""pid":4294967296"#),
            thread.replacingOccurrences(of: #""pid":12"#, with: #""pid":"12""#),
            thread.replacingOccurrences(of: #""argv":["claude"]"#, with: #""argv":["claude",1]"#),
            thread.replacingOccurrences(of: #""argv":["claude"],"#, with: ""),
            thread.replacingOccurrences(of: #""state":"running""#, with: #""state":"Running""#),
            thread.replacingOccurrences(of: #""exit_code":3"#, with: #""exit_code":-2147483648"#),
        ] {
            let codable = try? Timestamp.makeDecoder().decode(AgentThread.self, from: Data(text.utf8))
            let mine = try? AgentThread.decode(Array(text.utf8))
            #expect(codable == mine, "\(text)")
        }
        let request = ApprovalRequest(
            id: "r1", threadID: "t", createdAt: Date(timeIntervalSince1970: 1_800_000_000),
            deadlineAt: Date(timeIntervalSince1970: 1_800_000_300), evidence: Evidence(tool: "Bash", cwd: "/"))
        let encoded = String(decoding: request.encoded, as: UTF8.self)
        for text in [
            encoded, encoded.replacingOccurrences(of: #""truncated":false,"#, with: ""),
            encoded.replacingOccurrences(of: #""truncated":false"#, with: #""truncated":null"#),
            encoded.replacingOccurrences(of: #""tests_run":[]"#, with: #""tests_run":[{"command":"x"}]"#),
            encoded.replacingOccurrences(of: #""paths":[],"#, with: ""),
        ] {
            let codable = try? Timestamp.makeDecoder().decode(ApprovalRequest.self, from: Data(text.utf8))
            let mine = try? ApprovalRequest.decode(Array(text.utf8))
            #expect(codable == mine, "\(text)")
        }
    }
}
