import BosunCore
import Foundation
import Testing

@testable import BosunHostAgent

/// What a hook sends is bounded so the link accepts it (issue 8.2), and the fallback watch sees
/// what inotify would (issue 7.10).
@Suite struct RequestBoundsTests {
    func request(command: String?, paths: [String] = []) -> ApprovalRequest {
        ApprovalRequest(
            id: "r1", threadID: "t1", createdAt: Date(), deadlineAt: Date().addingTimeInterval(60),
            evidence: Evidence(tool: "Bash", command: command, paths: paths, purpose: "why", cwd: "/tmp"))
    }

    @Test func aHugeCommandIsCutMarkedAndDigested() throws {
        let command = "echo " + String(repeating: "é", count: 35_000)  // 70 005 bytes, two-byte characters
        let bounded = RequestBounds.bound(request(command: command))
        #expect(bounded.truncated)
        #expect(bounded.actionBytes == command.utf8.count)
        #expect(bounded.actionSHA256 == SHA256.hex(command))
        let shown = try #require(bounded.evidence.command)
        #expect(shown.hasPrefix("echo éé"))
        #expect(shown.contains("cut by bosun-host: 70005 bytes in all, sha256 \(SHA256.hex(command))"))
        #expect(shown.utf8.count < RequestBounds.commandBytes + 200)
        #expect(bounded.validationProblem == nil, "the supervisor accepts it")
        #expect(ServeLoop.undeliverable(.request(bounded)) == nil)
        #expect(ServeLoop.undeliverable(.request(request(command: command))) != nil, "the whole would be refused")
        // The marker travels: decoded as the supervisor decodes it.
        let data = try Timestamp.makeEncoder().encode(bounded)
        let decoded = try Timestamp.makeDecoder().decode(ApprovalRequest.self, from: data)
        #expect(decoded.truncated && decoded.actionSHA256 == bounded.actionSHA256)
    }

    @Test func ordinaryRequestsAreUntouched() {
        let plain = request(command: "git status", paths: ["a.swift"])
        let bounded = RequestBounds.bound(plain)
        #expect(bounded == plain)
        #expect(!bounded.truncated && bounded.actionSHA256 == nil)
    }

    @Test func manyOrLongPathsAreCutAndMarked() {
        let paths = (0..<5000).map { "/w/" + String(repeating: "p", count: 300) + "\($0)" }
        let bounded = RequestBounds.bound(request(command: nil, paths: paths))
        #expect(bounded.truncated)
        #expect(bounded.evidence.paths.count <= RequestBounds.maxPaths)
        #expect(bounded.validationProblem == nil)
        #expect(RequestBounds.encodedSize(bounded) <= RequestBounds.requestBytes)
    }

    @Test func aPolicyAllowOfATruncatedActionIsRefusedOnTheHost() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let spool = Spool(root: root)
        try spool.prepare()
        let runner = HookRunner(spool: spool, agent: .claude, settings: HookSettings(), environment: [:], output: -1)
        let huge = RequestBounds.bound(request(command: "ls " + String(repeating: "a", count: 70_000) + "; rm -rf ~"))
        func decision(_ by: String) -> Decision {
            Decision(
                requestID: "r1", verdict: .allow, tier: .continue, rule: "read", reason: "ok",
                decidedBy: DecidedBy(encoded: by),
                decidedAt: Date())
        }
        let refused = try runner.vetted(decision("policy:read"), for: huge).decision
        #expect(refused.verdict == .deny)
        #expect(refused.reason.contains("too large to show in full"))
        #expect(spool.outbox().count == 1, "what the host answered is reported")
        #expect(
            try runner.vetted(decision("operator:alice"), for: huge).decision.verdict == .allow,
            "a person saw the digest")
        #expect(try runner.vetted(decision("policy:read"), for: request(command: "ls")).decision.verdict == .allow)
    }

    @Test func serveAnswersAnUndeliverableRequestAndDropsAnUndeliverableOutboxEntry() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let spool = Spool(root: root)
        try spool.prepare()
        // As an older hook wrote them: a 70 KB command, unbounded, in a request and in the outbox.
        let huge = request(command: "echo " + String(repeating: "x", count: 70_000))
        try spool.write(huge, to: spool.requestPath(huge.id))
        let local = Decision(
            requestID: huge.id, verdict: .deny, tier: .expand, rule: nil, reason: "r",
            decidedBy: DecidedBy(encoded: "host:unreachable"),
            decidedAt: Date())
        try spool.enqueue(.localDecision(LocalDecision(request: huge, decision: local)), name: "local-\(huge.id)")
        var input: [Int32] = [-1, -1]
        var output: [Int32] = [-1, -1]
        #expect(pipe(&input) == 0 && pipe(&output) == 0)
        close(input[1])  // the supervisor hangs up at once: serve sends what it has, then ends
        let status = try ServeLoop(spool: spool, input: input[0], output: output[1]).run()
        close(input[0])
        close(output[1])
        let sent = FileHandle(fileDescriptor: output[0], closeOnDealloc: true).readDataToEndOfFile()
        #expect(status == 0)
        let lines = String(decoding: sent, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.contains("\"hello\"") == true, "only hello went out: \(lines.count)")
        let answer = try #require(spool.readDecision(id: huge.id), "the hook gets an answer")
        #expect(answer.verdict == .deny && answer.decidedBy.encoded == "host:undeliverable")
        #expect(spool.outbox().isEmpty, "never resent")
    }

    @Test func anOversizedOutcomeIsNotSentForEver() {
        let outcome = Outcome(
            threadID: "t1", requestID: nil, tool: "Bash", command: String(repeating: "x", count: 70_000),
            exitCode: 0, finishedAt: Date())
        #expect(ServeLoop.undeliverable(.outcome(outcome)) != nil)
    }

    @Test func theFallbackWatchReportsCreatedChangedAndRemovedFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("watch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let watch = DirectoryWatch(polling: true)
        #expect(watch.isPolling)
        try watch.add(root)
        func next() -> [String] {
            for _ in 0..<50 {
                let names = watch.wait(timeoutMs: 1000).map(\.name)
                if !names.isEmpty { return names }
            }
            return []
        }
        try Data("1".utf8).write(to: URL(fileURLWithPath: root + "/a.json"))
        #expect(next() == ["a.json"])
        try Data("22".utf8).write(to: URL(fileURLWithPath: root + "/a.json"))
        #expect(next() == ["a.json"])
        try FileManager.default.removeItem(atPath: root + "/a.json")
        #expect(next() == ["a.json"])
    }
}
