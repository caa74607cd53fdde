import BosunCore
import Foundation
import Testing

@testable import BosunHostAgent

@Suite struct SpoolPruneTests {
    @Test func prunesOnlyWhatIsOldAndDone() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let spool = Spool(root: root)
        try spool.prepare()
        let old = Date().addingTimeInterval(-10 * 86400)
        let live = AgentThread(
            id: "live", agent: .codex, argv: ["codex"], cwd: "/", state: .running, startedAt: old, lastActivity: old)
        var gone = live
        gone.id = "gone"
        gone.state = .exited
        var recent = gone
        recent.id = "recent"
        recent.lastActivity = Date()
        for thread in [live, gone, recent] { try spool.writeThread(thread) }
        try Data("{}".utf8).write(to: URL(fileURLWithPath: spool.answeredDirectory + "/a.json"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: spool.answeredDirectory + "/b.json"))
        try FileManager.default.setAttributes(
            [.modificationDate: old], ofItemAtPath: spool.answeredDirectory + "/a.json")

        #expect(spool.prune() == 2)
        #expect(spool.readThreads().map(\.id).sorted() == ["live", "recent"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.answeredDirectory) == ["b.json"])
    }
}
