import Foundation
import Testing

@testable import BosunStore

/// The audit chain against a real SQLite file, tampered with by the real `sqlite3` tool.
@Suite struct AuditChainTests {
    func makeStore() async throws -> (Store, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).db").path
        let store = try Store(path: path)
        for index in 1...5 {
            try await store.audit(
                actor: "operator:alice", channel: "desk", host: "h1", kind: "vote",
                details: ["request": .int(Int64(index)), "note": .string("ok \(index)")])
        }
        return (store, path)
    }

    func sqlite(_ path: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [path, sql]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    @Test func anIntactChainVerifies() async throws {
        let (store, path) = try await makeStore()
        defer { remove(path) }
        let report = try await store.verifyAudit()
        #expect(report.problem == nil)
        #expect(report.rows == 5)
    }

    @Test func anEditedRowIsFoundAndNamed() async throws {
        let (store, path) = try await makeStore()
        defer { remove(path) }
        try sqlite(path, "UPDATE audit SET details = '{\"note\":\"approved by mallory\",\"request\":3}' WHERE seq = 3")
        let report = try await store.verifyAudit()
        #expect(report.problem?.contains("row 3") == true, "\(report.problem ?? "none")")
        #expect(report.problem?.contains("edited") == true)
    }

    @Test func aDeletedRowIsFoundAndNamed() async throws {
        let (store, path) = try await makeStore()
        defer { remove(path) }
        try sqlite(path, "DELETE FROM audit WHERE seq = 2")
        let report = try await store.verifyAudit()
        #expect(report.problem?.contains("row 2 is missing") == true, "\(report.problem ?? "none")")
    }

    @Test func anEditWithARecomputedHashIsCaughtByTheNextRow() async throws {
        let (store, path) = try await makeStore()
        defer { remove(path) }
        let row = try #require(try await store.auditEntries().first { $0.seq == 3 })
        let forged = #"{"note":"approved by mallory","request":3}"#
        let hash = AuditEntry.computeHash(
            prevHash: row.prevHash, seq: row.seq, at: row.at, actor: row.actor, channel: row.channel, host: row.host,
            kind: row.kind, details: forged)
        try sqlite(path, "UPDATE audit SET details = '\(forged)', hash = '\(hash)' WHERE seq = 3")
        let report = try await store.verifyAudit()
        #expect(
            report.problem?.contains("row 4: prev_hash does not match row 3") == true, "\(report.problem ?? "none")")
    }
}
