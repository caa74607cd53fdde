import BosunCore
import Foundation
import GRDB

/// Which requests review analytics read: created at or after `since`, on `hosts` (nil: every
/// host), of `tier`, and only those `operator` voted on.
public struct AnalyticsQuery: Sendable, Equatable {
    public var since: Date?
    public var hosts: [String]?
    public var tier: Tier?
    public var `operator`: String?

    public init(since: Date? = nil, hosts: [String]? = nil, tier: Tier? = nil, operator: String? = nil) {
        self.since = since
        self.hosts = hosts
        self.tier = tier
        self.operator = `operator`
    }
}

/// One stored request as review analytics need it: no evidence beyond the action, so 100,000 of
/// them read in well under a second.
public struct AnalyticsRequest: Sendable, Equatable {
    public var number: Int64
    public var host: String
    public var threadID: String
    public var tool: String
    public var command: String?
    public var agent: String?
    public var createdAt: Date
    /// When the supervisor stored it (for a queued request: when it reached the queue).
    public var receivedAt: Date
    /// When the hook stops waiting.
    public var deadlineAt: Date
    public var decidedAt: Date?
    public var tier: Tier
    public var policyVerdict: Verdict
    /// `pending`, `allowed`, `denied`, `expired`, `cancelled`.
    public var status: String
    public var decidedBy: String?
    /// Where the decision came from: an operator's channel, `policy`, `timer`, `host`.
    public var channel: String?
    public var local: Bool
    /// Evidence fields the tier required and the request lacked.
    public var missingEvidence: Bool
    /// The first operator vote: when, by whom, from which channel.
    public var firstVoteAt: Date?
    public var firstVoter: String?
    public var firstVoteChannel: String?
    /// For an allowed request: the exit code of the first PostToolUse outcome that reported one.
    public var outcomeExit: Int64?

    public init(
        number: Int64, host: String, threadID: String, tool: String, command: String?, agent: String? = nil,
        createdAt: Date, receivedAt: Date, deadlineAt: Date, decidedAt: Date?, tier: Tier, policyVerdict: Verdict,
        status: String, decidedBy: String?, channel: String?, local: Bool, missingEvidence: Bool,
        firstVoteAt: Date? = nil, firstVoter: String? = nil, firstVoteChannel: String? = nil, outcomeExit: Int64? = nil
    ) {
        self.number = number
        self.host = host
        self.threadID = threadID
        self.tool = tool
        self.command = command
        self.agent = agent
        self.createdAt = createdAt
        self.receivedAt = receivedAt
        self.deadlineAt = deadlineAt
        self.decidedAt = decidedAt
        self.tier = tier
        self.policyVerdict = policyVerdict
        self.status = status
        self.decidedBy = decidedBy
        self.channel = channel
        self.local = local
        self.missingEvidence = missingEvidence
        self.firstVoteAt = firstVoteAt
        self.firstVoter = firstVoter
        self.firstVoteChannel = firstVoteChannel
        self.outcomeExit = outcomeExit
    }

    /// Whether it waited in the queue for a person: not decided by policy on arrival (channel
    /// `policy`: a rule, missing evidence, a limit), and not an answer its host gave alone and only
    /// reported (stored already decided: received and decided in the same instant, by the host).
    public var queued: Bool {
        if channel == "policy" { return false }
        if local, let decidedAt, decidedAt == receivedAt, firstVoteAt == nil { return false }
        return true
    }
}

/// When a thread ran, for asks per hour of runtime.
public struct AnalyticsThread: Sendable, Equatable {
    public var host: String
    public var id: String
    public var startedAt: Date
    public var lastActivity: Date

    public init(host: String, id: String, startedAt: Date, lastActivity: Date) {
        self.host = host
        self.id = id
        self.startedAt = startedAt
        self.lastActivity = lastActivity
    }
}

/// The files a request's evidence names: the paths its tool writes, and the repository's changed
/// files when it was asked.
public struct AnalyticsFiles: Sendable, Equatable {
    public var paths: [String]
    public var changedFiles: [String]
    /// The repository root the changed files are relative to.
    public var repo: String?

    public init(paths: [String], changedFiles: [String], repo: String? = nil) {
        self.paths = paths
        self.changedFiles = changedFiles
        self.repo = repo
    }
}

/// An operator's note that a request was an incident or a near miss.
public struct RequestMark: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case incident
        case nearMiss = "near-miss"
    }

    public var number: Int64
    public var kind: Kind
    public var text: String
    public var `operator`: String
    public var channel: String
    public var at: Date

    public init(number: Int64, kind: Kind, text: String, operator: String, channel: String, at: Date) {
        self.number = number
        self.kind = kind
        self.text = text
        self.operator = `operator`
        self.channel = channel
        self.at = at
    }
}

/// Everything `stats` computes from, read in one transaction.
public struct AnalyticsSnapshot: Sendable, Equatable {
    public var requests: [AnalyticsRequest]
    /// The threads of the queued requests.
    public var threads: [AnalyticsThread]
    /// The files of every request in a thread where a person approved something from `mobile`.
    public var files: [Int64: AnalyticsFiles]
    public var marks: [RequestMark]

    public init(
        requests: [AnalyticsRequest], threads: [AnalyticsThread], files: [Int64: AnalyticsFiles],
        marks: [RequestMark]
    ) {
        self.requests = requests
        self.threads = threads
        self.files = files
        self.marks = marks
    }
}

/// A whole stored request with what happened after it, for replay, suggestions and the evaluation set.
public struct AnalyticsRecord: Sendable, Equatable {
    public var record: RequestRecord
    public var reviews: [Review]
    /// Exit code of the first PostToolUse outcome that reported one.
    public var outcomeExit: Int64?
    public var marks: [RequestMark]
    /// The `decided_at` column as stored (the decision's own timestamp may be rounded).
    public var decidedAt: Date?

    /// Whether it waited in the queue for a person (as `AnalyticsRequest.queued`).
    public var queued: Bool {
        if record.channel == "policy" { return false }
        if record.local, reviews.isEmpty, let decidedAt, decidedAt == record.receivedAt { return false }
        return true
    }
}

extension Store {
    /// The `WHERE` of an analytics query over `requests r`, and its arguments.
    static func analyticsFilter(_ query: AnalyticsQuery) -> (String, StatementArguments) {
        var clauses: [String] = []
        var arguments = StatementArguments()
        if let since = query.since {
            clauses.append("r.created_at >= ?")
            arguments += [since.timeIntervalSince1970]
        }
        if let hosts = query.hosts {
            let usable = hosts.filter { !$0.utf8.contains(0) }
            if usable.isEmpty {
                clauses.append("0")
            } else {
                clauses.append("r.host IN (\(usable.map { _ in "?" }.joined(separator: ",")))")
                arguments += StatementArguments(usable)
            }
        }
        if let tier = query.tier {
            clauses.append("r.tier = ?")
            arguments += [tier.rawValue]
        }
        if let name = query.operator {
            clauses.append("r.number IN (SELECT request_number FROM reviews WHERE operator = ?)")
            arguments += [name.utf8.contains(0) ? "" : name]
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), arguments)
    }

    /// Requests whose action `stats` shows: possibly queued (not decided by policy on arrival), or marked.
    static let shownAction =
        "(r.channel IS NULL OR r.channel <> 'policy' OR r.number IN (SELECT request_number FROM request_marks))"

    /// The requests, threads, files and marks `stats` needs (one read transaction; a few columns
    /// per request, the first vote and the outcome joined in SQL).
    public func analytics(_ query: AnalyticsQuery) async throws(StoreError) -> AnalyticsSnapshot {
        let (filter, arguments) = Self.analyticsFilter(query)
        return try await readValue { db in
            var requests: [AnalyticsRequest] = []
            // The first vote and the first outcome with an exit code are joined from one grouping
            // each (SQLite takes a bare column from the row of the MIN); the action is read from
            // the evidence only where it is shown (queued or marked requests).
            let statement = try db.cachedStatement(
                sql: """
                    SELECT r.number, r.host, r.thread_id,
                      CASE WHEN \(Self.shownAction) THEN json_extract(r.evidence, '$.tool') END,
                      CASE WHEN \(Self.shownAction) THEN json_extract(r.evidence, '$.command') END,
                      r.created_at, r.received_at, r.deadline_at, r.decided_at, r.tier, r.policy_verdict, r.status,
                      r.decided_by, r.channel, r.local, r.missing_evidence <> '[]', v.first_at, v.operator, v.channel,
                      CASE WHEN r.status = 'allowed' THEN o.exit_code END
                    FROM requests r
                    LEFT JOIN (SELECT request_number, MIN(at) AS first_at, operator, channel FROM reviews
                      GROUP BY request_number) v ON v.request_number = r.number
                    LEFT JOIN (SELECT host, request_id, exit_code, MIN(finished_at) FROM outcomes
                      WHERE exit_code IS NOT NULL AND request_id IS NOT NULL GROUP BY host, request_id) o
                      ON o.host = r.host AND o.request_id = r.id
                    \(filter) ORDER BY r.number
                    """)
            let rows = try Row.fetchCursor(statement, arguments: arguments)
            while let row = try rows.next() {
                let column = ColumnReader(row: row, statement: statement.sqliteStatement)
                guard let number = column.int64(0), let host = column.string(1), let thread = column.string(2),
                    let tier = column.string(9).flatMap(Tier.init),
                    let verdict = column.string(10).flatMap(Verdict.init), let status = column.string(11)
                else { continue }
                func date(_ index: Int32) -> Date? { column.double(index).map(Date.init(timeIntervalSince1970:)) }
                requests.append(
                    AnalyticsRequest(
                        number: number, host: host, threadID: thread, tool: column.text(3) ?? "unknown",
                        command: column.text(4), createdAt: date(5) ?? Date(timeIntervalSince1970: 0),
                        receivedAt: date(6) ?? Date(timeIntervalSince1970: 0),
                        deadlineAt: date(7) ?? Date(timeIntervalSince1970: 0), decidedAt: date(8), tier: tier,
                        policyVerdict: verdict, status: status, decidedBy: column.string(12),
                        channel: column.string(13), local: (column.int64(14) ?? 0) != 0,
                        missingEvidence: (column.int64(15) ?? 0) != 0, firstVoteAt: date(16),
                        firstVoter: column.string(17), firstVoteChannel: column.string(18),
                        outcomeExit: column.int64(19)))
            }
            // The threads that asked: for asks per hour of runtime.
            var wanted = Set<String>()
            var threads: [AnalyticsThread] = []
            for request in requests where request.queued {
                wanted.insert(request.host + "\u{0}" + request.threadID)
            }
            if !wanted.isEmpty {
                let lookup = try db.cachedStatement(
                    sql: "SELECT started_at, last_activity FROM threads WHERE host = ? AND id = ?")
                for key in wanted.sorted() {
                    let parts = key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
                    guard parts.count == 2 else { continue }
                    let host = String(parts[0])
                    let id = String(parts[1])
                    if let row = try Row.fetchOne(lookup, arguments: [host, id]) {
                        threads.append(
                            AnalyticsThread(
                                host: host, id: id, startedAt: Date(timeIntervalSince1970: row[0]),
                                lastActivity: Date(timeIntervalSince1970: row[1])))
                    }
                }
            }
            // Files of the requests in threads where a person approved from `mobile`, for rework.
            var files: [Int64: AnalyticsFiles] = [:]
            // Per thread: from its first mobile approval on (earlier requests are never consulted).
            var mobileThreads: [String: (host: String, thread: String, from: Double)] = [:]
            for request in requests
            where request.status == "allowed" && request.channel == "mobile"
                && (request.decidedBy?.hasPrefix("operator:") ?? false)
            {
                let key = request.host + "\u{0}" + request.threadID
                let from = request.createdAt.timeIntervalSince1970
                if let known = mobileThreads[key], known.from <= from { continue }
                mobileThreads[key] = (request.host, request.threadID, from)
            }
            if !mobileThreads.isEmpty {
                let read = try db.cachedStatement(
                    sql: """
                        SELECT number, json_extract(evidence, '$.paths'), json_extract(evidence, '$.changed_files'),
                          json_extract(evidence, '$.repo')
                        FROM requests WHERE host = ? AND thread_id = ? AND created_at >= ?
                        """)
                for key in mobileThreads.keys.sorted() {
                    guard let thread = mobileThreads[key] else { continue }
                    let rows = try Row.fetchCursor(read, arguments: [thread.host, thread.thread, thread.from])
                    while let row = try rows.next() {
                        let paths = (row[1] as String?).flatMap(JSONStringArray.decode) ?? []
                        let changed = (row[2] as String?).flatMap(JSONStringArray.decode) ?? []
                        files[row[0]] = AnalyticsFiles(paths: paths, changedFiles: changed, repo: row[3])
                    }
                }
            }
            let marks = try Self.fetchMarks(db, filter: filter, arguments: arguments)
            return AnalyticsSnapshot(requests: requests, threads: threads, files: files, marks: marks)
        }
    }

    /// Whole requests (evidence, votes, outcome, marks) matching `query`, oldest first: for replay,
    /// suggestions and the evaluation set. `queuedOrMarked` keeps only what went to a person or
    /// carries a mark.
    public func analyticsRecords(_ query: AnalyticsQuery, queuedOrMarked: Bool = false, limit: Int = 1_000_000)
        async throws(StoreError) -> [AnalyticsRecord]
    {
        let (base, arguments) = Self.analyticsFilter(query)
        // A superset of `queued` (the exact test is below): not decided by policy on arrival, or marked.
        let filter =
            queuedOrMarked
            ? base + (base.isEmpty ? "WHERE " : " AND ")
                + "(r.channel IS NULL OR r.channel <> 'policy' OR r.number IN (SELECT request_number FROM request_marks))"
            : base
        return try await readValue { db in
            let marks = Dictionary(
                grouping: try Self.fetchMarks(db, filter: filter, arguments: arguments), by: \.number)
            var reviews: [Int64: [Review]] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT v.* FROM reviews v JOIN requests r ON r.number = v.request_number \(filter)
                    ORDER BY v.at, v.rowid
                    """, arguments: arguments)
            {
                guard let vote = Review.Vote(rawValue: row["vote"]) else { continue }
                reviews[row["request_number"], default: []].append(
                    Review(
                        operator: row["operator"], channel: row["channel"], vote: vote, note: row["note"],
                        at: Date(timeIntervalSince1970: row["at"])))
            }
            var records: [AnalyticsRecord] = []
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT r.*, CASE WHEN r.status = 'allowed' THEN
                        (SELECT o.exit_code FROM outcomes o WHERE o.host = r.host AND o.request_id = r.id
                           AND o.exit_code IS NOT NULL ORDER BY o.finished_at, o.rowid LIMIT 1) END AS outcome_exit
                    FROM requests r \(filter) ORDER BY r.number LIMIT ?
                    """, arguments: arguments + [max(0, limit)])
            while let row = try rows.next() {
                guard let record = Self.requestRecord(row) else { continue }
                let item = AnalyticsRecord(
                    record: record, reviews: reviews[record.number] ?? [], outcomeExit: row["outcome_exit"],
                    marks: marks[record.number] ?? [],
                    decidedAt: (row["decided_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
                if queuedOrMarked, !item.queued, item.marks.isEmpty { continue }
                records.append(item)
            }
            return records
        }
    }

    static func fetchMarks(_ db: Database, filter: String, arguments: StatementArguments) throws -> [RequestMark] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT m.request_number, m.kind, m.text, m.operator, m.channel, m.at FROM request_marks m
                JOIN requests r ON r.number = m.request_number \(filter) ORDER BY m.id
                """, arguments: arguments
        ).compactMap { row in
            guard let kind = RequestMark.Kind(rawValue: row[1]) else { return nil }
            return RequestMark(
                number: row[0], kind: kind, text: row[2], operator: row[3], channel: row[4],
                at: Date(timeIntervalSince1970: row[5]))
        }
    }

    /// Attaches an incident or near-miss note to request `number` (audited). Nil when there is no
    /// such request.
    public func mark(_ mark: RequestMark, key: String? = nil, source: String? = nil) async throws(StoreError)
        -> RequestMark?
    {
        try await writeTransaction { db in
            guard
                let host = try String.fetchOne(
                    db, sql: "SELECT host FROM requests WHERE number = ?", arguments: [mark.number])
            else { return nil }
            try db.execute(
                sql:
                    "INSERT INTO request_marks (request_number, kind, text, operator, channel, at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    mark.number, mark.kind.rawValue, mark.text, mark.operator, mark.channel,
                    mark.at.timeIntervalSince1970,
                ])
            try Self.appendAudit(
                db, actor: "operator:\(mark.operator)", channel: mark.channel, host: host, kind: "mark",
                details: [
                    "request": .int(mark.number), "mark": .string(mark.kind.rawValue), "text": .string(mark.text),
                    "key": .optional(key), "source": .optional(source),
                ], now: mark.at)
            return mark
        }
    }
}
