public import BosunCore
public import Foundation
import GRDB

/// A fleet-wide pause (`pause all`).
public struct BreakerRecord: Sendable, Equatable {
    public var id: String
    public var reason: String
    public var hard: Bool
    public var createdBy: String
    public var createdAt: Date
    public var releasedAt: Date?

    public init(id: String, reason: String, hard: Bool, createdBy: String, createdAt: Date, releasedAt: Date?) {
        self.id = id
        self.reason = reason
        self.hard = hard
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.releasedAt = releasedAt
    }
}

extension Operator {
    var details: [String: AuditValue] { detailsForAudit }

    /// Key fingerprint and source address, as audit details.
    public var detailsForAudit: [String: AuditValue] {
        ["key": .optional(keyFingerprint), "source": .optional(source)]
    }
}

/// A host's acknowledgement of outbox entry `id` (the seq the supervisor sent it with).
public struct Acknowledgement: Sendable, Hashable {
    public var host: HostName
    public var id: Int64

    public init(host: HostName, id: Int64) {
        self.host = host
        self.id = id
    }

    /// Nil for a seq no outbox entry can have (beyond Int64): ignored, never trapped on.
    public init?(host: HostName, seq: UInt64) {
        guard let id = Int64(exactly: seq) else { return nil }
        self.init(host: host, id: id)
    }
}

extension Store {
    // MARK: Acknowledgements

    /// Marks a batch of acknowledgements delivered, in one transaction (one fsync however many
    /// hosts acknowledged at once), each first delivery audited as by its host. Returns the ids
    /// delivered to the host that acknowledged them (now or by an earlier ack); an unknown id, or
    /// one queued for another host, is not among them.
    public func markDelivered(_ acks: [Acknowledgement], now: Date = Date()) async throws(StoreError) -> Set<Int64> {
        guard !acks.isEmpty else { return [] }
        return try await writeTransaction { db in
            var delivered: Set<Int64> = []
            let update = try db.cachedStatement(
                sql: """
                    UPDATE outbox SET delivered_at = ? WHERE id = ? AND host = ? AND delivered_at IS NULL
                    RETURNING message_id
                    """)
            let earlier = try db.cachedStatement(
                sql: "SELECT 1 FROM outbox WHERE id = ? AND host = ? AND delivered_at IS NOT NULL")
            for ack in acks where !delivered.contains(ack.id) {
                if let row = try Row.fetchOne(update, arguments: [now.timeIntervalSince1970, ack.id, ack.host]) {
                    delivered.insert(ack.id)
                    try Self.appendAudit(
                        db, actor: "host:\(ack.host)", channel: "link", host: ack.host, kind: "delivered",
                        details: ["outbox": .int(ack.id), "id": .optional(row["message_id"] as String?)], now: now)
                } else if try Row.fetchOne(earlier, arguments: [ack.id, ack.host]) != nil {
                    delivered.insert(ack.id)
                }
            }
            return delivered
        }
    }

    // MARK: Steering

    /// Stores a steering message and queues it for its host. Returns the outbox id.
    public func queueSteer(host: HostName, _ steer: Steer, by actor: Operator, now: Date = Date())
        async throws(StoreError)
        -> Int64
    {
        try await writeTransaction { db in
            try db.execute(
                sql: """
                    INSERT INTO steer_messages (id, host, thread_id, text, from_operator, channel, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    steer.messageID, host, steer.threadID, steer.text, steer.from, actor.channel,
                    now.timeIntervalSince1970,
                ])
            try Self.appendAudit(
                db, actor: "operator:\(actor.name)", channel: actor.channel, host: host, kind: "steer",
                details: actor.details.merging([
                    "message": .string(steer.messageID), "thread": .string(steer.threadID.rawValue),
                    "text": .string(steer.text),
                ]) { $1 }, now: now)
            return try Self.enqueue(db, host: host, .steer(steer), now: now)
        }
    }

    /// The host reported that a thread received a steering message.
    public func markSteerDelivered(host: HostName, messageID: String, now: Date = Date()) async throws(StoreError) {
        try await writeTransaction { db in
            try db.execute(
                sql: "UPDATE steer_messages SET delivered_at = ? WHERE id = ? AND host = ? AND delivered_at IS NULL",
                arguments: [now.timeIntervalSince1970, messageID, host])
            guard db.changesCount > 0 else { return }
            try Self.appendAudit(
                db, actor: "host:\(host)", channel: "link", host: host, kind: "steer_delivered",
                details: ["message": .string(messageID)], now: now)
        }
    }

    public func steerMessages(host: HostName, thread: ThreadID) async throws(StoreError) -> [SteerRecord] {
        try await readValue { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM steer_messages WHERE host = ? AND thread_id = ? ORDER BY created_at",
                arguments: [host, thread]
            ).map { row in
                SteerRecord(
                    steer: Steer(
                        messageID: row["id"], threadID: row["thread_id"], text: row["text"], from: row["from_operator"]),
                    host: row["host"], channel: row["channel"],
                    createdAt: Date(timeIntervalSince1970: row["created_at"]),
                    deliveredAt: (row["delivered_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    cancelledAt: (row["cancelled_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    /// Where a steering message is: its host and thread, and whether the host has it.
    public enum SteerState: Sendable, Equatable {
        case unknown
        case cancelled
        case delivered
        /// The host acknowledged it: delivered at the thread's next hook.
        case onHost(host: HostName)
        /// Still in the outbox (outbox id).
        case queued(host: HostName, outbox: Int64)
    }

    public func steerState(messageID: String) async throws(StoreError) -> SteerState {
        try await readValue { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT host, delivered_at, cancelled_at FROM steer_messages WHERE id = ?",
                    arguments: [messageID])
            else { return .unknown }
            let host: HostName = row["host"]
            if (row["cancelled_at"] as Double?) != nil { return .cancelled }
            if (row["delivered_at"] as Double?) != nil { return .delivered }
            guard
                let outbox = try Row.fetchOne(
                    db, sql: "SELECT id, delivered_at FROM outbox WHERE host = ? AND kind = ? AND message_id = ?",
                    arguments: [host, MessageKind.steer.name, messageID])
            else { return .onHost(host: host) }
            if (outbox["delivered_at"] as Double?) != nil { return .onHost(host: host) }
            return .queued(host: host, outbox: outbox["id"])
        }
    }

    /// Takes back a steering message its host has not acknowledged (removed from the outbox,
    /// audited `steer_cancelled`); false when it is no longer queued.
    public func cancelSteer(messageID: String, by actor: Operator, now: Date = Date()) async throws(StoreError)
        -> Bool
    {
        try await writeTransaction { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT s.host, s.thread_id, o.id AS outbox FROM steer_messages s
                        JOIN outbox o ON o.host = s.host AND o.kind = '\(MessageKind.steer)' AND o.message_id = s.id
                        WHERE s.id = ? AND s.delivered_at IS NULL AND s.cancelled_at IS NULL AND o.delivered_at IS NULL
                        """, arguments: [messageID])
            else { return false }
            let host: HostName = row["host"]
            let outbox: Int64 = row["outbox"]
            try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [outbox])
            try db.execute(
                sql: "UPDATE steer_messages SET cancelled_at = ? WHERE id = ?",
                arguments: [now.timeIntervalSince1970, messageID])
            try Self.appendAudit(
                db, actor: "operator:\(actor.name)", channel: actor.channel, host: host, kind: "steer_cancelled",
                details: actor.details.merging([
                    "message": .string(messageID), "thread": .string(row["thread_id"] as String),
                ]) { $1 }, now: now)
            return true
        }
    }

    // MARK: Pause and resume

    /// Queues a pause or resume for each of `hosts` (audited once, as `kind`, by default the
    /// message's); returns each host's outbox id.
    public func queueControl(
        _ message: SupervisorMessage, hosts: [HostName], kind: String? = nil, by actor: Operator,
        details: [String: AuditValue], now: Date = Date()
    ) async throws(StoreError) -> [HostName: Int64] {
        guard let type = message.kind, type == .pause || type == .resume else {
            throw StoreError("only pause and resume are queued this way", code: .invalid)
        }
        return try await writeTransaction { db in
            var ids: [HostName: Int64] = [:]
            for host in hosts {
                ids[host] = try Self.enqueue(db, host: host, message, now: now)
            }
            try Self.appendAudit(
                db, actor: "operator:\(actor.name)", channel: actor.channel, host: hosts.count == 1 ? hosts[0] : "*",
                kind: kind ?? type.name, details: actor.details.merging(details) { $1 }, now: now)
            return ids
        }
    }

    public func createBreaker(_ breaker: BreakerRecord) async throws(StoreError) {
        try await writeTransaction { db in
            try db.execute(
                sql: "INSERT INTO breakers (id, reason, hard, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    breaker.id, breaker.reason, breaker.hard, breaker.createdBy,
                    breaker.createdAt.timeIntervalSince1970,
                ])
        }
    }

    /// Marks every active breaker released; returns them.
    public func releaseBreakers(by actor: String, now: Date = Date()) async throws(StoreError) -> [BreakerRecord] {
        try await writeTransaction { db in
            let active = try Self.fetchBreakers(db, activeOnly: true)
            try db.execute(
                sql: "UPDATE breakers SET released_by = ?, released_at = ? WHERE released_at IS NULL",
                arguments: [actor, now.timeIntervalSince1970])
            return active
        }
    }

    public func activeBreakers() async throws(StoreError) -> [BreakerRecord] {
        try await readValue { db in try Self.fetchBreakers(db, activeOnly: true) }
    }

    static func fetchBreakers(_ db: Database, activeOnly: Bool) throws -> [BreakerRecord] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM breakers \(activeOnly ? "WHERE released_at IS NULL" : "") ORDER BY created_at"
        ).map { row in
            BreakerRecord(
                id: row["id"], reason: row["reason"], hard: row["hard"], createdBy: row["created_by"],
                createdAt: Date(timeIntervalSince1970: row["created_at"]),
                releasedAt: (row["released_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
        }
    }
}

extension Store {
    /// Host text for a TEXT column, whole. GRDB binds a Swift string as a C string (length -1), so
    /// SQLite keeps only what precedes a NUL; text holding a NUL is stored as its UTF-8 bytes (a
    /// BLOB) instead, which reads back as the complete String.
    static func text(_ value: String?) -> DatabaseValue {
        guard let value else { return .null }
        return value.utf8.contains(0) ? Data(value.utf8).databaseValue : value.databaseValue
    }

    /// The `state` column's value: `stopped` (a hard pause that took effect) is stored as `paused`
    /// with `stopped = 1` (the column's CHECK predates it; the table has triggers, so it is not
    /// rebuilt).
    static func storedState(_ state: ThreadState) -> ThreadState {
        state == .stopped ? .paused : state
    }
}
