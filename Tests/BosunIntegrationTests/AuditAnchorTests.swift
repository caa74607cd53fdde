import Foundation
import Testing

/// The audit chain anchored outside the database: bosund writes signed checkpoints, and deleting
/// the newest audit rows (which the chain alone cannot notice) fails `audit verify`.
@Suite(.serialized, .timeLimit(.minutes(10))) struct AuditAnchorTests {
    /// A daemon with one host that has decided one request, stopped cleanly (which writes a checkpoint).
    func decidedAndStopped() async throws -> Fixture {
        let fixture = try Fixture(hosts: 1)
        try await fixture.startDaemon()
        try await eventually("host up") { fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" } }
        try await eventually("host welcomed") {
            FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json")
        }
        let allowed = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "ls -la")).wait()
        #expect(Payload.specific(allowed)?["permissionDecision"] as? String == "allow")
        try await eventually("the decision delivered") {
            fixture.bosun("audit", "--json").jsonLines.contains { $0["kind"] as? String == "delivered" }
        }
        fixture.stopDaemon()
        return fixture
    }

    @Test func deletingTheNewestAuditRowsFailsVerifyAgainstTheCheckpoint() async throws {
        let fixture = try await decidedAndStopped()
        defer { fixture.shutdown() }
        // A clean stop wrote a checkpoint of the head, signed with the supervisor's key.
        let file = fixture.root + "/state/audit-checkpoints"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("BEGIN SSH SIGNATURE"), "\(text)")

        // Someone with write access to the database removes the newest rows.
        let database = fixture.root + "/state/bosun.db"
        let sqlite = Fixture.run(
            "/usr/bin/sqlite3", [database, "DELETE FROM audit WHERE seq >= (SELECT MAX(seq) - 1 FROM audit)"])
        #expect(sqlite.status == 0, "\(sqlite.stderr)")

        try await fixture.startDaemon()
        let verify = fixture.bosun("audit", "verify")
        #expect(verify.status == 1, "\(verify.stdout)")
        #expect(verify.stderr.contains("BROKEN"), "\(verify.stderr)")
        #expect(verify.stderr.contains("checkpoint"), "\(verify.stderr)")
    }

    @Test func anIntactChainVerifiesAgainstItsSignedCheckpoint() async throws {
        let fixture = try await decidedAndStopped()
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        let verify = fixture.bosun("audit", "verify")
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("matches the signed checkpoint"), "\(verify.stdout)")
        // Naming another checkpoint file is for admins only; the socket's root caller is one.
        let missing = fixture.bosun("audit", "verify", "--checkpoint", fixture.root + "/nope")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no such checkpoint file"), "\(missing.stderr)")
    }
}
