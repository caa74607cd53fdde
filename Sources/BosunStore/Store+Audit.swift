public import BosunCore
public import Foundation
import GRDB

extension AuditValue {
    var json: Any {
        switch self {
        case .string(let text): text
        case .int(let number): number
        case .strings(let list): list
        case .null: NSNull()
        }
    }
}

extension AuditEntry {
    /// The SHA-256 over everything but `hash`; any edit changes it.
    static func computeHash(
        prevHash: String, seq: Int64, at: String, actor: String, channel: String, host: String, kind: String,
        details: String
    ) -> String {
        SHA256.hex([prevHash, String(seq), at, actor, channel, host, kind, details].joined(separator: "\n"))
    }
}

extension AuditCheckpoint {
    /// Parses a checkpoint file's text; names the line of the first malformed entry.
    public static func parse(_ text: String, file: String) throws(StoreError) -> [AuditCheckpoint] {
        var checkpoints: [AuditCheckpoint] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let checkpoint = try? JSONDecoder().decode(AuditCheckpoint.self, from: Data(line.utf8)),
                checkpoint.seq >= 1, checkpoint.hash.count == 64,
                checkpoint.hash.allSatisfy({ $0.isHexDigit && !$0.isUppercase })
            else {
                throw StoreError(
                    "\(file):\(index + 1): expected a checkpoint {\"seq\":N,\"hash\":\"<64 hex>\",\"at\":…}",
                    code: .invalid)
            }
            checkpoints.append(checkpoint)
        }
        return checkpoints
    }
}

extension Store {
    /// Audit details as JSON text: keys sorted, no whitespace, `/` unescaped — byte for byte what
    /// `JSONSerialization` writes with `.sortedKeys` and `.withoutEscapingSlashes` (tested), at a
    /// fraction of its cost (it was a third of a decision's CPU).
    static func auditJSON(_ details: [String: AuditValue]) -> String {
        var text = "{"
        for (index, (key, value)) in details.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { text += "," }
            appendJSONString(key, to: &text)
            text += ":"
            switch value {
            case .string(let string): appendJSONString(string, to: &text)
            case .int(let number): text += String(number)
            case .strings(let list):
                text += "["
                for (position, string) in list.enumerated() {
                    if position > 0 { text += "," }
                    appendJSONString(string, to: &text)
                }
                text += "]"
            case .null: text += "null"
            }
        }
        return text + "}"
    }

    /// A JSON string literal: `"` and `\` escaped, control characters as `\b \f \n \r \t` or
    /// `\u00xx` (lowercase hex), everything else as it is.
    static func appendJSONString(_ string: String, to text: inout String) {
        text += "\""
        var plain = true
        for unit in string.utf8 where unit < 0x20 || unit == 0x22 || unit == 0x5C {
            plain = false
            break
        }
        guard !plain else {
            text += string
            text += "\""
            return
        }
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\u{8}": text += "\\b"
            case "\u{C}": text += "\\f"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{0}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }

    static let genesisHash = String(repeating: "0", count: 64)

    /// Appends one audit record chained to the previous one. Call inside the write that made the change.
    static func appendAudit(
        _ db: Database, actor: String, channel: String, host: HostName, kind: String, details: [String: AuditValue],
        now: Date
    ) throws {
        var chain = try AuditChain(db)
        try chain.append(db, actor: actor, channel: channel, host: host, kind: kind, details: details, now: now)
    }

    /// The audit log's head within one write transaction: read once, then kept in memory while
    /// records are appended (nothing else writes the log inside the transaction).
    struct AuditChain {
        private(set) var seq: Int64
        private(set) var hash: String
        /// The last record's time and its text (a batch stamps many records with one time).
        private var stamp: (date: Date, text: String)?

        init(_ db: Database) throws {
            let last = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"))
            seq = last?["seq"] as Int64? ?? 0
            hash = last?["hash"] ?? Store.genesisHash
        }

        /// Appends one record chained to the head, which it becomes.
        mutating func append(
            _ db: Database, actor: String, channel: String, host: HostName, kind: String,
            details: [String: AuditValue], now: Date
        ) throws {
            let seq = self.seq + 1
            let detailsText = Store.auditJSON(details)
            let at = stamp?.date == now ? stamp?.text ?? Timestamp.format(now) : Timestamp.format(now)
            stamp = (now, at)
            let hash = AuditEntry.computeHash(
                prevHash: self.hash, seq: seq, at: at, actor: actor, channel: channel, host: host.rawValue, kind: kind,
                details: detailsText)
            try db.cachedStatement(
                sql: """
                    INSERT INTO audit (seq, at, actor, channel, host, kind, details, prev_hash, hash)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [seq, at, actor, channel, host, kind, detailsText, self.hash, hash])
            self.seq = seq
            self.hash = hash
        }
    }

    /// Appends an audit record on its own (for events with no other state change).
    public func audit(
        actor: String, channel: String, host: HostName, kind: String, details: [String: AuditValue], now: Date = Date()
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
            if let kind = filter.kind {
                clauses.append("kind = ?")
                arguments.append(kind)
            }
            // Text that holds a NUL cannot be bound (GRDB passes C strings) and matches nothing.
            if let thread = filter.thread {
                guard !thread.rawValue.utf8.contains(0) else { return [] }
                clauses.append(
                    """
                    (json_extract(details, '$.thread') = ?
                      OR json_extract(details, '$.request') IN (SELECT number FROM requests WHERE thread_id = ?))
                    """)
                arguments += [thread, thread]
            }
            if let request = filter.request {
                // The request's own records, and the deliveries of its decision (keyed by its id).
                clauses.append(
                    """
                    (json_extract(details, '$.request') = ?
                      OR (kind IN ('delivered', 'not_applied') AND EXISTS (SELECT 1 FROM requests r
                        WHERE r.number = ? AND r.host = audit.host AND r.id = json_extract(audit.details, '$.id'))))
                    """)
                arguments += [request, request]
            }
            let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            let limit = filter.limit.map { "LIMIT \($0)" } ?? ""
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM (SELECT * FROM audit \(whereClause) ORDER BY seq DESC \(limit)) ORDER BY seq",
                arguments: StatementArguments(arguments))
            return rows.map(Self.auditEntry)
        }
    }

    /// The newest audit record's seq and hash; nil while the log is empty.
    public func auditHead() async throws(StoreError) -> (seq: Int64, hash: String)? {
        try await readValue { db in
            try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").map {
                (seq: $0["seq"] as Int64, hash: $0["hash"] as String)
            }
        }
    }

    /// Recomputes the chain; reports the first edited, deleted or reordered row, a chain that no
    /// longer reaches (or no longer matches) a checkpoint, and a request whose stored state differs
    /// from what its audit records say.
    public func verifyAudit(checkpoints: [AuditCheckpoint] = []) async throws(StoreError) -> AuditVerification {
        try await readValue { db in
            var report = try Self.verifyChain(db, checkpoints: checkpoints)
            guard report.problem == nil else { return report }
            (report.requestsChecked, report.problem) = try Self.verifyRequests(db)
            return report
        }
    }

    private static func verifyChain(_ db: Database, checkpoints: [AuditCheckpoint]) throws -> AuditVerification {
        var previous = Self.genesisHash
        var expectedSeq: Int64 = 1
        var count = 0
        var wanted = Dictionary(checkpoints.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        let newest = checkpoints.max { $0.seq < $1.seq }
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
                host: entry.host.rawValue, kind: entry.kind, details: entry.details)
            if recomputed != entry.hash {
                return AuditVerification(
                    rows: count, problem: "row \(entry.seq): contents do not match its hash: edited", lastHash: previous
                )
            }
            if let checkpoint = wanted.removeValue(forKey: entry.seq), checkpoint.hash != entry.hash {
                return AuditVerification(
                    rows: count,
                    problem:
                        "row \(entry.seq): hash differs from the checkpoint of \(checkpoint.at): the chain was rewritten",
                    lastHash: previous)
            }
            previous = entry.hash
            expectedSeq += 1
        }
        if let missing = wanted.values.min(by: { $0.seq < $1.seq }) {
            return AuditVerification(
                rows: count,
                problem:
                    "the chain ends at row \(count) but the checkpoint of \(missing.at) recorded row \(missing.seq): rows were deleted (truncated)",
                lastHash: previous)
        }
        return AuditVerification(rows: count, problem: nil, lastHash: previous, checkpoint: newest)
    }

    /// Every request's stored state must be what its audit records say: the record that closed it
    /// (a decision, expiry or the host's own answer) gives the state and who decided.
    private static func verifyRequests(_ db: Database) throws -> (checked: Int, problem: String?) {
        struct Closing {
            var status: String
            var actor: String
            var seq: Int64
        }
        var audited: Set<Int64> = []
        var closings: [Int64: Closing] = [:]
        let cursor = try Row.fetchCursor(
            db,
            sql: """
                SELECT seq, actor, kind, details FROM audit
                WHERE kind IN ('request', 'decision', 'expiry', 'local_decision') ORDER BY seq
                """)
        while let row = try cursor.next() {
            let details =
                (try? JSONSerialization.jsonObject(with: Data((row["details"] as String).utf8))) as? [String: Any]
            guard let number = (details?["request"] as? NSNumber)?.int64Value else { continue }
            let kind: String = row["kind"]
            if kind == "request" || kind == "local_decision" { audited.insert(number) }
            // The host's own answer closes a pending request, or supersedes a supervisor decision
            // that never reached the agent (Store.recordLocalDecision); otherwise it is only a record.
            let supersedes = kind == "local_decision" && details?["supersedes"] != nil
            if kind == "local_decision", details?["supervisor_status"] as? String != "pending", !supersedes {
                continue
            }
            guard kind != "request", closings[number] == nil || supersedes,
                let verdict = (details?["verdict"] as? String).flatMap(DecisionVerdict.init(rawValue:))
            else { continue }
            closings[number] = Closing(
                status: RequestStatus(verdict).rawValue, actor: row["actor"], seq: row["seq"])
        }
        var checked = 0
        let requests = try Row.fetchCursor(db, sql: "SELECT number, status, decided_by FROM requests ORDER BY number")
        while let row = try requests.next() {
            let number: Int64 = row["number"]
            let status: String = row["status"]
            let decidedBy: String? = row["decided_by"]
            checked += 1
            guard audited.contains(number) else {
                return (checked, "request \(number) has no audit record: inserted outside bosund")
            }
            switch (closings[number], status) {
            case (nil, "pending"):
                continue
            case (nil, _):
                return (checked, "request \(number) is \(status) but no audit record decided it: edited")
            case (let closing?, _) where closing.status != status || closing.actor != (decidedBy ?? ""):
                return (
                    checked,
                    "request \(number) is \(status) by \(decidedBy ?? "nobody") but audit row \(closing.seq) says \(closing.status) by \(closing.actor): edited"
                )
            default:
                continue
            }
        }
        return (checked, nil)
    }

    static func auditEntry(_ row: Row) -> AuditEntry {
        AuditEntry(
            seq: row["seq"], at: row["at"], actor: row["actor"], channel: row["channel"], host: row["host"],
            kind: row["kind"], details: row["details"], prevHash: row["prev_hash"], hash: row["hash"])
    }
}
