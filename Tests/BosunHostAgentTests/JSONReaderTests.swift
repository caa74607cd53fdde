import BosunCore
import Foundation
import Testing

@testable import BosunHostAgent

/// `JSONReader` against the Codable path it replaces on the hook (issue 10): `JSONDecoder` into
/// `JSONValue`. Every input gives the same value, or both refuse it; hostile inputs give a clear
/// error, never a trap.
@Suite struct JSONReaderTests {
    /// What the Codable path made of `bytes` (nil: refused).
    static func codable(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    static func reader(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONReader.parse(bytes)
    }

    static func agree(_ bytes: [UInt8], _ comment: Comment? = nil) {
        let old = codable(bytes)
        let new = reader(bytes)
        #expect(
            old == new,
            Comment(rawValue: "\(comment?.rawValue ?? "") \(String(decoding: bytes.prefix(200), as: UTF8.self))"))
    }

    static let documents: [String] = [
        Payloads.claudePreToolUse, Payloads.claudePermissionRequest, Payloads.codexPreToolUse,
        Payloads.codexPermissionRequest, Payloads.codexApplyPatch,
        #"{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":["git","status"]},"tool_response":{"stdout":"ok\n","stderr":"","interrupted":false,"exit_code":0}}"#,
        #"{"hook_event_name":"PostToolUseFailure","error":"Exit code: 3","tool_response":"{\"metadata\":{\"exit_code\":3}}"}"#,
        "{}", "[]", "[1,]", "{\"a\":1,}", "[1, ]", "null", "true", "false", "0", "-0", "1", "-1", "1.5", "-1.5e3",
        "1E+2", "1e-2", "0.000001",
        "123456789012345678901234567890", "9007199254740993", "-9223372036854775809", "1e308",
        "2.2250738585072014e-308",
        "4.9e-324", "1e-400", "0e-400", "0.0e999", "-0.0", #""""#, #""\u0000\u001f\"\\\/\b\f\n\r\t""#,
        #""\u00e9\u4e2d\ud83d\ude00""#,
        #""é中😀""#, "  {\"a\" : [ 1 , 2 , { } , [ ] ] }  ", "\u{FEFF}{\"bom\":1}", "{\"a\":1,\"a\":2}",
        "{\"a\":{\"b\":1},\"a\":[1]}", "[1,2,3,[4,[5,[6]]]]", #"{"":""}"#, #"{"k\u0000":"v"}"#,
        // Refused by both.
        "", " ", "{", "}", "[", "]", "[,]", "{,}", "[1,,]", "[,1]", "{\"a\":1,,}", "{a:1}", "{'a':1}", "[01]", "[-]",
        "[1.]", "[.5]",
        "[1e]", "[+1]", "[NaN]", "[Infinity]", "[-Infinity]", "1e400", "-1e400", "[1e999]", "tru", "nul", "falsey",
        "{} {}", "[1] x", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\uZZZZ\"", "\"a\u{01}b\"", "\"tab\there\"",
        #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud83d\ude00\ud800""#, "[1 2]", "{\"a\" 1}", "{\"a\":}",
        "{1:2}", "//c\n{}", "/*c*/{}", "\u{00A0}{}",
    ]

    @Test func documentsReadAsJSONDecoderReadsThem() {
        for document in Self.documents { Self.agree(Array(document.utf8)) }
    }

    @Test func theFuzzCorpusOfProtocolLinesReadsTheSame() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/Corpus/host-protocol").standardized
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names.count >= 10)
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
            Self.agree(bytes, "whole \(name)")
            for line in bytes.split(separator: UInt8(ascii: "\n")) { Self.agree(Array(line), "line of \(name)") }
        }
    }

    @Test func invalidUTF8IsRefusedByBoth() {
        for bad: [UInt8] in [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22],
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], Array(#"{"a":""#.utf8) + [0xE2, 0x82] + Array(#""}"#.utf8),
            Array(#"{"k"#.utf8) + [0x80] + Array(#"":1}"#.utf8),
        ] {
            #expect(throws: JSONReadError.self) { try JSONReader.parse(bad) }
            Self.agree(bad)
        }
    }

    @Test func depthIsBoundedLikeJSONDecoderAndNeverOverflowsTheStack() {
        for depth in [2, 100, 510, 511, 512, 513, 514] {
            Self.agree(Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8))
            Self.agree(
                Array((String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)).utf8))
        }
        let hostile = Array(String(repeating: "[", count: 1_000_000).utf8)
        #expect(throws: JSONReadError.self) { try JSONReader.parse(hostile) }
    }

    @Test func aSeventyKilobyteToolCallIsRead() throws {
        let command = String(repeating: "echo 'é' \\\"x\\\" && ", count: 4_000)
        let payload =
            #"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":""#
            + command + #""}}"#
        #expect(payload.utf8.count > 70_000)
        Self.agree(Array(payload.utf8))
        let input = try HookInput.parse(Data(payload.utf8), agent: .claude)
        #expect(input.command == command.replacingOccurrences(of: "\\\"", with: "\""))
    }

    @Test func aHugeNumberIsAClearError() {
        for text in ["1e400", "[1e400]", "{\"exit_code\":-1e99999}"] {
            #expect(throws: JSONReadError.self) { try JSONReader.parse(Array(text.utf8)) }
        }
        do {
            _ = try HookInput.parse(Data(#"{"hook_event_name":"PreToolUse","n":1e400}"#.utf8), agent: .codex)
            Issue.record("a number beyond Double was read")
        } catch let error as HookInputError {
            #expect(error.code == .malformedJSON)
            #expect(error.description.contains("number out of range"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// Generated documents (SplitMix64, fixed seed) and their truncations and byte flips.
    @Test func generatedDocumentsAndTheirMutationsReadTheSame() {
        var generator = SplitMix(state: 0x6A50_4E52_4541_4431)
        for round in 0..<600 {
            let value = Self.generate(depth: 0, &generator)
            let text = round % 2 == 0 ? value.canonicalJSON : value.prettyJSON
            let bytes = Array(text.utf8)
            Self.agree(bytes, "generated")
            #expect(Self.reader(bytes) == value, "round trip")
            guard !bytes.isEmpty else { continue }
            var mutated = bytes
            let position = Int.random(in: 0..<mutated.count, using: &generator)
            mutated[position] = UInt8.random(in: 0...255, using: &generator)
            Self.agree(mutated, "flipped at \(position)")
            Self.agree(Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator))), "truncated")
        }
    }

    static func generate(depth: Int, _ generator: inout SplitMix) -> JSONValue {
        let pick = Int.random(in: 0..<(depth > 4 ? 5 : 7), using: &generator)
        switch pick {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2:
            switch Int.random(in: 0..<3, using: &generator) {
            case 0: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &generator)))
            case 1: return .number(Double.random(in: -1e6...1e6, using: &generator))
            default: return .number(Double(Int32.random(in: Int32.min...Int32.max, using: &generator)))
            }
        case 3, 4:
            let alphabet: [Unicode.Scalar] = [
                "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", "é", "中", "😀", "\u{7F}",
                "\u{2028}", "\u{FEFF}",
            ]
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0..<12, using: &generator) {
                scalars.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
            }
            return .string(String(scalars))
        case 5:
            return .array(
                (0..<Int.random(in: 0..<4, using: &generator)).map { _ in generate(depth: depth + 1, &generator) })
        default:
            var members: [String: JSONValue] = [:]
            for index in 0..<Int.random(in: 0..<4, using: &generator) {
                members["k\(index)\(["", "é", "\"", "/"][index % 4])"] = generate(depth: depth + 1, &generator)
            }
            return .object(members)
        }
    }
}

/// SplitMix64 (as BosunTestSupport's SeededGenerator, which this target does not link): the same
/// seed gives the same generated inputs on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
