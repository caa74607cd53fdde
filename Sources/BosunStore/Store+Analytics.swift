public import BosunCore
import Foundation
import GRDB

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
            let usable = hosts.filter { !$0.rawValue.utf8.contains(0) }
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
    /// per request, the first vote and the outcome joined in SQL). `filesOf`: the requests whose
    /// files (paths, changed files, repository) to read, chosen from the requests read.
    public func analytics(
        _ query: AnalyticsQuery, filesOf: @escaping @Sendable ([AnalyticsRequest]) -> [Int64] = { _ in [] }
    ) async throws(StoreError) -> AnalyticsSnapshot {
        let (filter, arguments) = Self.analyticsFilter(query)
        return try await readValue { db in
            var requests: [AnalyticsRequest] = []
            // The first vote is joined from one grouping (SQLite takes a bare column from the row
            // of the MIN); the first outcome with an exit code is looked up in `outcomes_by_request`
            // for allowed requests only (cheaper than grouping every outcome: 100,000 requests);
            // the action is read from the evidence only where it is shown (queued or marked requests).
            let statement = try db.cachedStatement(
                sql: """
                    SELECT r.number, r.host, r.thread_id,
                      CASE WHEN \(Self.shownAction) THEN json_extract(r.evidence, '$.tool') END,
                      CASE WHEN \(Self.shownAction) THEN json_extract(r.evidence, '$.command') END,
                      r.created_at, r.received_at, r.deadline_at, r.decided_at, r.tier, r.policy_verdict, r.status,
                      r.decided_by, r.channel, r.local, r.missing_evidence <> '[]', v.first_at, v.operator, v.channel,
                      CASE WHEN r.status = 'allowed' THEN
                        (SELECT o.exit_code FROM outcomes o WHERE o.host = r.host AND o.request_id = r.id
                           AND o.exit_code IS NOT NULL ORDER BY o.finished_at, o.rowid LIMIT 1) END
                    FROM requests r
                    LEFT JOIN (SELECT request_number, MIN(at) AS first_at, operator, channel FROM reviews
                      GROUP BY request_number) v ON v.request_number = r.number
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
                        number: number, host: HostName(host), threadID: ThreadID(thread),
                        tool: column.text(3) ?? "unknown",
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
                wanted.insert(request.host.rawValue + "\u{0}" + request.threadID.rawValue)
            }
            if !wanted.isEmpty {
                let lookup = try db.cachedStatement(
                    sql: "SELECT started_at, last_activity FROM threads WHERE host = ? AND id = ?")
                for key in wanted.sorted() {
                    let parts = key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
                    guard parts.count == 2 else { continue }
                    let host = HostName(String(parts[0]))
                    let id = ThreadID(String(parts[1]))
                    if let row = try Row.fetchOne(lookup, arguments: [host, id]) {
                        threads.append(
                            AnalyticsThread(
                                host: host, id: id, startedAt: Date(timeIntervalSince1970: row[0]),
                                lastActivity: Date(timeIntervalSince1970: row[1])))
                    }
                }
            }
            // The files of the requests `filesOf` names (for rework), looked up by number.
            var files: [Int64: AnalyticsFiles] = [:]
            let numbers = filesOf(requests)
            if !numbers.isEmpty {
                let rows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT number, json_extract(evidence, '$.paths'), json_extract(evidence, '$.changed_files'),
                          json_extract(evidence, '$.repo')
                        FROM requests WHERE number IN (SELECT value FROM json_each(?))
                        """, arguments: ["[" + numbers.map(String.init).joined(separator: ",") + "]"])
                while let row = try rows.next() {
                    let paths = (row[1] as String?).flatMap(JSONStringArray.decode) ?? []
                    let changed = (row[2] as String?).flatMap(JSONStringArray.decode) ?? []
                    files[row[0]] = AnalyticsFiles(paths: paths, changedFiles: changed, repo: row[3])
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
                let host = try HostName.fetchOne(
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
