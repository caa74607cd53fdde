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

    /// Temporaries a writer left when it died between writing and renaming (hidden `.….tmp` in
    /// pauses/, plain ones in tmp/) are removed once an hour old; a fresh one (a
    /// write in progress) and every `*.json` stay. Fails before: nothing pruned them.
    @Test func prunesStaleTemporariesOnly() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let spool = Spool(root: root)
        try spool.prepare()
        try FileManager.default.createDirectory(atPath: root + "/pauses", withIntermediateDirectories: true)
        let old = Date().addingTimeInterval(-2 * 3600)
        let stale = [root + "/pauses/.a1.tmp", root + "/tmp/c3.tmp"]
        let kept = [root + "/pauses/.d4.tmp", root + "/pauses/breaker-x.json", root + "/threads/t.json"]
        for path in stale + kept { try Data("{}".utf8).write(to: URL(fileURLWithPath: path)) }
        for path in stale + [root + "/pauses/breaker-x.json", root + "/threads/t.json"] {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: path)
        }

        #expect(spool.pruneTemporaries() == 2)
        for path in stale { #expect(!FileManager.default.fileExists(atPath: path), "\(path)") }
        for path in kept { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
    }
}
