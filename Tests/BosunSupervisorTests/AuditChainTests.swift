import BosunCore
import BosunSupervisor
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
            prevHash: row.prevHash, seq: row.seq, at: row.at, actor: row.actor, channel: row.channel,
            host: row.host.rawValue,
            kind: row.kind, details: forged)
        try sqlite(path, "UPDATE audit SET details = '\(forged)', hash = '\(hash)' WHERE seq = 3")
        let report = try await store.verifyAudit()
        #expect(
            report.problem?.contains("row 4: prev_hash does not match row 3") == true, "\(report.problem ?? "none")")
    }
}

/// The chain's blind spots: rows deleted at its end, a chain rewritten consistently, and request
/// rows edited beside it. Checkpoints are signed by the real `ssh-keygen -Y`.
@Suite struct AuditAnchorTests {
    let base = AuditChainTests()

    func checkpoint(_ store: Store) async throws -> AuditCheckpoint {
        let head = try #require(try await store.auditHead())
        return AuditCheckpoint(seq: head.seq, hash: head.hash, at: "2026-12-06T00:00:00Z")
    }

    @Test func deletingTheNewestRowsIsCaughtByACheckpoint() async throws {
        let (store, path) = try await base.makeStore()
        defer { base.remove(path) }
        let anchor = try await checkpoint(store)
        try base.sqlite(path, "DELETE FROM audit WHERE seq >= 4")
        // Without an anchor outside the database, a shortened chain is still a valid chain.
        #expect(try await store.verifyAudit().problem == nil)
        let report = try await store.verifyAudit(checkpoints: [anchor])
        #expect(report.problem?.contains("truncated") == true, "\(report.problem ?? "none")")
    }

    @Test func aConsistentlyRewrittenChainIsCaughtByACheckpoint() async throws {
        let (store, path) = try await base.makeStore()
        defer { base.remove(path) }
        let anchor = try await checkpoint(store)
        // Rewrite rows 3…5 and recompute every hash after them: the chain itself stays valid.
        var previous = try #require(try await store.auditEntries().first { $0.seq == 2 }).hash
        for row in try await store.auditEntries() where row.seq >= 3 {
            let forged = #"{"note":"approved by mallory","request":\#(row.seq)}"#
            let hash = AuditEntry.computeHash(
                prevHash: previous, seq: row.seq, at: row.at, actor: row.actor, channel: row.channel,
                host: row.host.rawValue,
                kind: row.kind, details: forged)
            try base.sqlite(
                path,
                "UPDATE audit SET details = '\(forged)', prev_hash = '\(previous)', hash = '\(hash)' WHERE seq = \(row.seq)"
            )
            previous = hash
        }
        #expect(try await store.verifyAudit().problem == nil)
        let report = try await store.verifyAudit(checkpoints: [anchor])
        #expect(report.problem?.contains("rewritten") == true, "\(report.problem ?? "none")")
    }

    @Test func anEditedRequestRowIsCaught() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).db").path
        defer { base.remove(path) }
        let store = try Store(path: path)
        let now = Date()
        for (index, verdict) in [DecisionVerdict.deny, .allow].enumerated() {
            let request = ApprovalRequest(
                id: "r\(index)", threadID: "t1", createdAt: now, deadlineAt: now.addingTimeInterval(60),
                evidence: Evidence(tool: "Bash", command: "git push", cwd: "/w"))
            let decision = Decision(
                requestID: request.id, verdict: verdict, tier: .commit, rule: "r", reason: "policy",
                decidedBy: DecidedBy(encoded: "policy:r"), decidedAt: now)
            _ = try await store.receiveRequest(
                host: "h1", request,
                policy: PolicyResult(
                    tier: .commit, verdict: verdict == .deny ? .deny : .allow, rule: "r", ruleSource: nil,
                    reason: "policy", missingEvidence: []),
                expiresAt: now.addingTimeInterval(60), immediate: decision)
        }
        let intact = try await store.verifyAudit()
        #expect(intact.problem == nil, "\(intact.problem ?? "")")
        #expect(intact.requestsChecked == 2)
        try base.sqlite(
            path, "UPDATE requests SET status = 'allowed', decided_by = 'operator:alice' WHERE id = 'r0'")
        let report = try await store.verifyAudit()
        #expect(report.problem?.contains("request 1 is allowed by operator:alice") == true, "\(report.problem ?? "")")
        // A request row inserted behind bosund's back has no audit record at all.
        try base.sqlite(path, "UPDATE requests SET status = 'denied', decided_by = 'policy:r' WHERE id = 'r0'")
        try base.sqlite(
            path,
            """
            INSERT INTO requests (host, id, thread_id, created_at, deadline_at, expires_at, received_at, tier,
              policy_verdict, policy_reason, evidence, status, decided_by)
            SELECT host, 'forged', thread_id, created_at, deadline_at, expires_at, received_at, tier, policy_verdict,
              policy_reason, evidence, 'allowed', 'operator:alice' FROM requests WHERE id = 'r1'
            """)
        let inserted = try await store.verifyAudit()
        #expect(inserted.problem?.contains("request 3 has no audit record") == true, "\(inserted.problem ?? "")")
    }

    @Test func checkpointsAreSignedAndAForgedOneIsRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("anchor-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keygen = Process()
        keygen.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        keygen.arguments = ["-q", "-t", "ed25519", "-N", "", "-f", directory + "/id_ed25519"]
        try keygen.run()
        keygen.waitUntilExit()
        let checkpointer = AuditCheckpointer(
            file: directory + "/audit-checkpoints", identity: directory + "/id_ed25519")
        let first = try checkpointer.append(seq: 5, hash: String(repeating: "a", count: 64))
        _ = try checkpointer.append(seq: 9, hash: String(repeating: "b", count: 64))
        let loaded = try checkpointer.load()
        #expect(loaded.map(\.seq) == [5, 9])
        #expect(first.signature?.contains("BEGIN SSH SIGNATURE") == true)
        #expect(checkpointer.signatureProblem(loaded[1]) == nil)
        var forged = loaded[1]
        forged.seq = 7
        #expect(checkpointer.signatureProblem(forged)?.contains("bad signature") == true)
        var unsigned = loaded[1]
        unsigned.signature = nil
        #expect(checkpointer.signatureProblem(unsigned)?.contains("not signed") == true)
        // A malformed line is named, never trusted.
        try "{\"seq\":\"x\"}\n".write(toFile: directory + "/bad", atomically: true, encoding: .utf8)
        #expect(throws: StoreError.self) { try checkpointer.load(directory + "/bad") }
    }
}
