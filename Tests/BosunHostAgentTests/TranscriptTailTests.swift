import BosunCore
import Foundation
import Testing

@testable import BosunHostAgent

/// `next_step`: the end of the agent's last assistant message, read from its transcript's tail.
@Suite struct TranscriptTailTests {
    func write(_ lines: [String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "transcript-\(UUID().uuidString).jsonl"
        )
        .path
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func claudeTranscriptsGiveTheLastAssistantText() throws {
        let path = try write([
            #"{"type":"user","message":{"role":"user","content":"fix the test"}}"#,
            #"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"First attempt."}]}}"#,
            #"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"I will install left-pad, then rerun the tests."},{"type":"tool_use","name":"Bash","input":{}}]}}"#,
            #"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"ok"}]}}"#,
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(TranscriptTail.nextStep(path: path) == "I will install left-pad, then rerun the tests.")
    }

    @Test func codexRolloutsGiveTheLastAgentMessage() throws {
        let path = try write([
            #"{"type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Next I push the branch."}]}}"#,
            #"{"type":"response_item","payload":{"type":"function_call","name":"shell"}}"#,
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(TranscriptTail.nextStep(path: path) == "Next I push the branch.")
    }

    @Test func longTextIsCutRedactedAndBounded() throws {
        let secret = "ghp_" + String(repeating: "A", count: 36)
        let text = String(repeating: "word ", count: 400) + "then use token \(secret) to push"
        let line = String(
            decoding: try JSONSerialization.data(withJSONObject: [
                "type": "assistant", "message": ["content": [["type": "text", "text": text]]],
            ]), as: UTF8.self)
        // Far more than the tail read: the file is read from its end only.
        let filler = String(repeating: #"{"type":"progress","data":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#, count: 1)
        let path = try write(Array(repeating: filler, count: 5000) + [line])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let step = try #require(TranscriptTail.nextStep(path: path))
        #expect(step.count <= TranscriptTail.maxCharacters && step.hasPrefix("…") && step.hasSuffix("to push"))
        #expect(!step.contains(secret), "redacted: \(step)")
    }

    @Test func noFileAFifoOrGarbageGiveNothing() throws {
        #expect(TranscriptTail.nextStep(path: nil) == nil)
        #expect(TranscriptTail.nextStep(path: "/nonexistent/transcript.jsonl") == nil)
        let fifo = FileManager.default.temporaryDirectory.appendingPathComponent("fifo-\(UUID().uuidString)").path
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { try? FileManager.default.removeItem(atPath: fifo) }
        #expect(TranscriptTail.nextStep(path: fifo) == nil, "a FIFO with no writer must not block the hook")
        let garbage = try write(["not json", "{\"type\":\"assistant\"}", "[1,2]"])
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        #expect(TranscriptTail.nextStep(path: garbage) == nil)
    }

    @Test func evidenceWithoutNextStepStillDecodes() throws {
        // Hosts that predate the field send no `next_step`: it stays optional on the wire.
        let json =
            #"{"tool":"Bash","paths":[],"hook_event":"PreToolUse","agent":"claude","cwd":"/","changed_files":[],"tests_run":[],"side_effects":[],"network":[],"credentials":[]}"#
        let evidence = try JSONDecoder().decode(Evidence.self, from: Data(json.utf8))
        #expect(evidence.nextStep == nil)
        var with = evidence
        with.nextStep = "rerun"
        let encoded = String(decoding: try JSONEncoder().encode(with), as: UTF8.self)
        #expect(encoded.contains(#""next_step":"rerun""#))
        #expect(!String(decoding: try JSONEncoder().encode(evidence), as: UTF8.self).contains("next_step"))
    }
}
