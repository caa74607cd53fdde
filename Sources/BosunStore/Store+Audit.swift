import BosunCore
import Foundation
import GRDB

/// A value in an audit record's details (kept simple so the hashed text is canonical).
public enum AuditValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case strings([String])
    case null

    public static func optional(_ text: String?) -> AuditValue { text.map(AuditValue.string) ?? .null }

    var json: Any {
        switch self {
        case .string(let text): text
        case .int(let number): number
        case .strings(let list): list
        case .null: NSNull()
        }
    }
}

/// One row of the hash-chained audit log.
public struct AuditEntry: Sendable, Equatable {
    public var seq: Int64
    public var at: String
    public var actor: String
    public var channel: String
    public var host: String
    public var kind: String
    /// Canonical JSON (sorted keys).
    public var details: String
    public var prevHash: String
    public var hash: String

    /// The SHA-256 over everything but `hash`; any edit changes it.
    static func computeHash(
        prevHash: String, seq: Int64, at: String, actor: String, channel: String, host: String, kind: String,
        details: String
    ) -> String {
        SHA256.hex([prevHash, String(seq), at, actor, channel, host, kind, details].joined(separator: "\n"))
    }
}

/// The result of `audit verify`.
public struct AuditVerification: Sendable, Equatable {
    public var rows: Int
    /// The first problem found, naming the row; nil when the chain is intact.
    public var problem: String?
    public var lastHash: String
}

/// Filters for reading the audit log.
public struct AuditFilter: Sendable {
    public var host: String?
    public var since: Date?
    public var actor: String?
    public var limit: Int?

    public init(host: String? = nil, since: Date? = nil, actor: String? = nil, limit: Int? = nil) {
        self.host = host
        self.since = since
        self.actor = actor
        self.limit = limit
    }
}

extension Store {
    static let genesisHash = String(repeating: "0", count: 64)

    /// Appends one audit record chained to the previous one. Call inside the write that made the change.
    static func appendAudit(
        _ db: Database, actor: String, channel: String, host: String, kind: String, details: [String: AuditValue],
        now: Date
    ) throws {
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        let seq: Int64 = (last?["seq"] as Int64? ?? 0) + 1
        let prevHash: String = last?["hash"] ?? genesisHash
        let object = details.mapValues(\.json)
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        let detailsText = String(decoding: data, as: UTF8.self)
        let at = Timestamp.format(now)
        let hash = AuditEntry.computeHash(
            prevHash: prevHash, seq: seq, at: at, actor: actor, channel: channel, host: host, kind: kind,
            details: detailsText)
        try db.execute(
            sql: """
                INSERT INTO audit (seq, at, actor, channel, host, kind, details, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [seq, at, actor, channel, host, kind, detailsText, prevHash, hash])
    }

    /// Appends an audit record on its own (for events with no other state change).
    public func audit(
        actor: String, channel: String, host: String, kind: String, details: [String: AuditValue], now: Date = Date()
    ) async throws(StoreError) {
        try await writeTransaction { db in
            try Self.appendAudit(db, actor: actor, channel: channel, host: host, kind: kind, details: details, now: now)
        }
    }

    public func auditEntries(_ filter: AuditFilter = AuditFilter()) async throws(StoreError) -> [AuditEntry] {
        try await readValue { db in
            var clauses: [String] = []
            var arguments: [any DatabaseValueConvertible] = []
            if let host = filter.host {
                clauses.append("host = ?")
                arguments.append(host)
            }
            if let actor = filter.actor {
                clauses.append("(actor = ? OR actor LIKE ?)")
                arguments.append(actor)
                arguments.append("%:\(actor)")
            }
            if let since = filter.since {
                clauses.append("at >= ?")
                arguments.append(Timestamp.format(since))
            }
            let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            let limit = filter.limit.map { "LIMIT \($0)" } ?? ""
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM (SELECT * FROM audit \(whereClause) ORDER BY seq DESC \(limit)) ORDER BY seq",
                arguments: StatementArguments(arguments))
            return rows.map(Self.auditEntry)
        }
    }

    /// Recomputes the chain; reports the first edited, deleted or reordered row.
    public func verifyAudit() async throws(StoreError) -> AuditVerification {
        try await readValue { db in
            var previous = Self.genesisHash
            var expectedSeq: Int64 = 1
            var count = 0
            let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM audit ORDER BY seq")
            while let row = try cursor.next() {
                let entry = Self.auditEntry(row)
                count += 1
                if entry.seq != expectedSeq {
                    return AuditVerification(
                        rows: count, problem: "row \(expectedSeq) is missing (next row is \(entry.seq)): deleted",
                        lastHash: previous)
                }
                if entry.prevHash != previous {
                    return AuditVerification(
                        rows: count, problem: "row \(entry.seq): prev_hash does not match row \(entry.seq - 1)",
                        lastHash: previous)
                }
                let recomputed = AuditEntry.computeHash(
                    prevHash: entry.prevHash, seq: entry.seq, at: entry.at, actor: entry.actor, channel: entry.channel,
                    host: entry.host, kind: entry.kind, details: entry.details)
                if recomputed != entry.hash {
                    return AuditVerification(
                        rows: count, problem: "row \(entry.seq): contents do not match its hash: edited",
                        lastHash: previous)
                }
                previous = entry.hash
                expectedSeq += 1
            }
            return AuditVerification(rows: count, problem: nil, lastHash: previous)
        }
    }

    static func auditEntry(_ row: Row) -> AuditEntry {
        AuditEntry(
            seq: row["seq"], at: row["at"], actor: row["actor"], channel: row["channel"], host: row["host"],
            kind: row["kind"], details: row["details"], prevHash: row["prev_hash"], hash: row["hash"])
    }
}
