import BosunCore
import Foundation
import Testing

@testable import BosunStore

/// The store's outbox rows come from the message table, keyed by `message_id` (migration v9), and
/// store errors keep SQLite's result codes (issue 9).
@Suite struct OutboxTableTests {
    let actor = Operator(name: "alice", role: .operator, channel: "desk")

    @Test func outboxRowsAreNamedByTheMessageTable() async throws {
        let path = temporaryDatabase("outbox")
        defer { removeDatabase(path) }
        let store = try Store(path: path)
        let steer = Steer(messageID: "m1", threadID: "t1", text: "focus", from: "alice")
        _ = try await store.queueSteer(host: "h1", steer, by: actor)
        let pause = Pause(scope: .all, threadID: nil, breakerID: "b-1", hard: false, reason: "r")
        _ = try await store.queueControl(.pause(pause), hosts: ["h1"], by: actor, details: [:])
        #expect(
            try sqlite(path, "SELECT kind, COALESCE(message_id, '-') FROM outbox ORDER BY id") == "steer|m1\npause|-")
        #expect(try sqlite(path, "SELECT kind FROM audit ORDER BY seq") == "steer\npause")
        #expect(try await store.undelivered(host: "h1").map(\.message) == [.steer(steer), .pause(pause)])
        await #expect(throws: StoreError("", code: .invalid)) {
            try await store.queueControl(.ack(1), hosts: ["h1"], by: actor, details: [:])
        }
    }

    @Test func anOutboxWrittenBeforeTheRenameIsDeliveredAfterIt() async throws {
        let path = temporaryDatabase("outbox")
        defer { removeDatabase(path) }
        do { _ = try Store(path: path) }
        // The database as v8 left it: the column still `request_id`, holding a steer id.
        _ = try sqlite(
            path,
            """
            ALTER TABLE outbox RENAME COLUMN message_id TO request_id;
            DELETE FROM grdb_migrations WHERE identifier = 'v10-outbox-message-id';
            INSERT INTO outbox (host, kind, request_id, payload, created_at) VALUES ('h1', 'steer', 'm1',
              '{"from":"alice","message_id":"m1","text":"focus","thread_id":"t1"}', 0);
            """)
        let store = try Store(path: path)
        let pending = try await store.undelivered(host: "h1")
        #expect(
            pending.map(\.message) == [.steer(Steer(messageID: "m1", threadID: "t1", text: "focus", from: "alice"))])
        let id = try #require(pending.first?.id)
        #expect(try await store.markDelivered([Acknowledgement(host: "h1", id: id)]) == [id])
        #expect(try sqlite(path, "SELECT message_id FROM outbox") == "m1")
        let delivered = try await store.auditEntries().last
        #expect(delivered?.kind == "delivered")
        #expect(delivered?.details.contains(#""id":"m1""#) == true)
    }

    @Test func aStoreErrorKeepsSQLitesResultCodes() async throws {
        let path = temporaryDatabase("outbox")
        defer { removeDatabase(path) }
        let store = try Store(path: path)
        let breaker = BreakerRecord(
            id: "b-1", reason: "r", hard: false, createdBy: "alice", createdAt: Date(), releasedAt: nil)
        try await store.createBreaker(breaker)
        do {
            try await store.createBreaker(breaker)
            Issue.record("a second breaker with the same id was stored")
        } catch {
            #expect(error.code == .database)
            #expect(error.resultCode == 19, "SQLITE_CONSTRAINT")
            #expect(error.extendedResultCode == 1555, "SQLITE_CONSTRAINT_PRIMARYKEY")
            #expect(!error.isDiskFull && !error.isReadOnly)
        }
        #expect(StoreError("request vanished").resultCode == nil)
    }
}
