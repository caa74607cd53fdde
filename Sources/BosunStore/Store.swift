public import BosunCore
public import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// A store failure: a code, SQLite's result codes when SQLite refused, and the SQLite/GRDB text.
/// Compared by code.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// SQLite refused (see ``StoreError/resultCode``): disk full, read-only, I/O, busy, constraint…
        public static let database = Code("database")
        /// The database could not be opened or migrated.
        public static let open = Code("open")
        /// A file beside the database (audit checkpoints) could not be read or written.
        public static let file = Code("file")
        /// A caller's input the store does not take (a message not kept in the outbox, a bad checkpoint line).
        public static let invalid = Code("invalid")
        /// The store's own invariant broke (a row vanished within its transaction).
        public static let inconsistent = Code("inconsistent")

        public var description: String { name }
    }

    public let code: Code
    public let message: String
    /// SQLite's primary result code (`SQLITE_FULL` 13, `SQLITE_READONLY` 8, `SQLITE_IOERR` 10, …)
    /// when SQLite refused, else nil.
    public let resultCode: Int32?
    /// SQLite's extended result code (e.g. `SQLITE_IOERR_WRITE` 778) when SQLite refused, else nil.
    public let extendedResultCode: Int32?

    public init(_ message: String, code: Code = .inconsistent) {
        self.code = code
        self.message = message
        self.resultCode = nil
        self.extendedResultCode = nil
    }

    /// `message` about `error`: SQLite's codes when GRDB reports them (code `.database`), a
    /// StoreError's own code, else `fallback`.
    init(_ message: String, wrapping error: any Error, fallback: Code) {
        if let sqlite = error as? DatabaseError {
            code = fallback == .open ? .open : .database
            resultCode = sqlite.resultCode.rawValue
            extendedResultCode = sqlite.extendedResultCode.rawValue
        } else if let store = error as? StoreError {
            code = store.code
            resultCode = store.resultCode
            extendedResultCode = store.extendedResultCode
        } else {
            code = fallback
            resultCode = nil
            extendedResultCode = nil
        }
        self.message = message
    }

    /// The disk holding the database is full (`SQLITE_FULL`).
    public var isDiskFull: Bool { resultCode == ResultCode.SQLITE_FULL.rawValue }
    /// The database cannot be written (`SQLITE_READONLY`).
    public var isReadOnly: Bool { resultCode == ResultCode.SQLITE_READONLY.rawValue }
    /// The operating system failed a read or write (`SQLITE_IOERR`).
    public var isIOError: Bool { resultCode == ResultCode.SQLITE_IOERR.rawValue }

    public var description: String { message }

    public static func == (lhs: StoreError, rhs: StoreError) -> Bool { lhs.code == rhs.code }
}

/// What the store remembers about a host's link between daemon runs.
public struct HostRecord: Sendable, Equatable {
    public var name: HostName
    public var hostname: String?
    public var hostVersion: String?
    public var bootID: String?
    public var hostKey: String?
    public var lastSeen: Date?
    public var rttMs: Double?
    /// The host's hook coverage summary from its last `hello` (untrusted text, bounded at decode).
    public var hooks: String?
    /// The bosun-host release from its last `hello` (untrusted text, bounded at decode).
    public var helperVersion: String?

    public init(
        name: HostName, hostname: String? = nil, hostVersion: String? = nil, bootID: String? = nil,
        hostKey: String? = nil,
        lastSeen: Date? = nil, rttMs: Double? = nil, hooks: String? = nil, helperVersion: String? = nil
    ) {
        self.name = name
        self.hostname = hostname
        self.hostVersion = hostVersion
        self.bootID = bootID
        self.hostKey = hostKey
        self.lastSeen = lastSeen
        self.rttMs = rttMs
        self.hooks = hooks
        self.helperVersion = helperVersion
    }
}

/// Bosun's SQLite store (WAL, via GRDB). Every call runs on GRDB's own queues, never blocking the
/// concurrency pool.
public final class Store: Sendable {
    private let pool: DatabasePool
    private let writes = Atomic<Int>(0)

    /// How many write transactions this store has committed (tests count them: group commit).
    package var committedWrites: Int { writes.load(ordering: .relaxed) }

    /// How far a commit is on disk when it returns.
    public enum Durability: String, Sendable {
        /// The WAL is fsynced at every commit: a decision the agent has heard survives a power
        /// failure. bosund always runs with it.
        case full = "FULL"
        /// fsync only at checkpoints: the last commits can be lost. For benchmarks that measure
        /// what durability costs, never for a daemon.
        case normal = "NORMAL"
    }

    /// Opens (creating if needed) the database at `path` and applies migrations.
    public init(path: String, durability: Durability = .full) throws(StoreError) {
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            pool = try DatabasePool(path: path, configuration: configuration)
            // Set on the writer after the pool is open: GRDB's WAL set-up sets `synchronous =
            // NORMAL` on it after `prepareDatabase` has run (GRDB Database.setUpWALMode), which
            // left every commit unsynced (0 fsyncs in 1,392 writes, issue 10's profile).
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(durability.rawValue)")
            }
            try Self.migrator.migrate(pool)
        } catch {
            throw StoreError("cannot open database \(path): \(error)", wrapping: error, fallback: .open)
        }
    }

    /// The writer connection's `synchronous` setting (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA).
    package func writerSynchronous() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    func writeTransaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T
    {
        do {
            let value = try await pool.write(body)
            writes.add(1, ordering: .relaxed)
            return value
        } catch {
            throw StoreError("database write failed: \(error)", wrapping: error, fallback: .database)
        }
    }

    func readValue<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw StoreError("database read failed: \(error)", wrapping: error, fallback: .database)
        }
    }

    // MARK: Hosts

    /// Makes the host table match the configured names: adds new ones, forgets removed ones and their threads.
    public func syncHosts(configured names: [HostName]) async throws(StoreError) {
        try await writeTransaction { db in
            for name in names {
                try db.execute(sql: "INSERT OR IGNORE INTO hosts (name) VALUES (?)", arguments: [name])
            }
            let placeholders = names.isEmpty ? "''" : Array(repeating: "?", count: names.count).joined(separator: ",")
            try db.execute(
                sql: "DELETE FROM threads WHERE host NOT IN (\(placeholders))", arguments: StatementArguments(names))
            try db.execute(
                sql: "DELETE FROM hosts WHERE name NOT IN (\(placeholders))", arguments: StatementArguments(names))
        }
    }

    public func saveHost(_ host: HostRecord) async throws(StoreError) {
        try await saveHosts([host])
    }

    /// Stores every record in `hosts` in one transaction (the hellos of a fleet coming up).
    public func saveHosts(_ hosts: [HostRecord]) async throws(StoreError) {
        guard !hosts.isEmpty else { return }
        try await writeTransaction { db in
            for host in hosts {
                try db.execute(
                    sql: """
                        INSERT INTO hosts (name, hostname, host_version, boot_id, host_key, last_seen, rtt_ms, hooks,
                          helper_version)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(name) DO UPDATE SET hostname = excluded.hostname, host_version = excluded.host_version,
                          boot_id = excluded.boot_id, host_key = excluded.host_key, last_seen = excluded.last_seen,
                          rtt_ms = excluded.rtt_ms, hooks = excluded.hooks, helper_version = excluded.helper_version
                        """,
                    arguments: [
                        host.name, Self.text(host.hostname), Self.text(host.hostVersion), host.bootID, host.hostKey,
                        host.lastSeen?.timeIntervalSince1970, host.rttMs, Self.text(host.hooks),
                        Self.text(host.helperVersion),
                    ])
            }
        }
    }

    public func hosts() async throws(StoreError) -> [HostRecord] {
        try await readValue { db in
            try Row.fetchAll(db, sql: "SELECT * FROM hosts ORDER BY name").map { row in
                HostRecord(
                    name: row["name"], hostname: row["hostname"], hostVersion: row["host_version"],
                    bootID: row["boot_id"], hostKey: row["host_key"],
                    lastSeen: (row["last_seen"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    rttMs: row["rtt_ms"],
                    hooks: row["hooks"], helperVersion: row["helper_version"])
            }
        }
    }

    // MARK: Threads

    /// Records what a host reported about one of its threads (current, not stale).
    /// With `limits`, a new thread beyond the host's bounds is not stored: returns why (see `admit`).
    @discardableResult
    public func saveThread(host: HostName, _ thread: AgentThread, at now: Date = Date(), limits: HostLimits? = nil)
        async throws(StoreError) -> String?
    {
        try await saveThreads([(host, thread)], at: now, limits: limits).first ?? nil
    }

    /// Stores hosts' thread records in one transaction, in order, each within its host's bounds
    /// as `saveThread` does; returns, per record, why it was refused (nil: stored).
    public func saveThreads(
        _ threads: [(host: HostName, thread: AgentThread)], at now: Date = Date(), limits: HostLimits? = nil
    ) async throws(StoreError) -> [String?] {
        let argvs = threads.map {
            String(decoding: (try? JSONEncoder().encode($0.thread.argv)) ?? Data("[]".utf8), as: UTF8.self)
        }
        return try await writeTransaction { db in
            try zip(threads, argvs).map { item, argv in
                try Self.upsertThread(db, host: item.host, item.thread, argv: argv, now: now, limits: limits)
            }
        }
    }

    private static func upsertThread(
        _ db: Database, host: HostName, _ thread: AgentThread, argv: String, now: Date, limits: HostLimits?
    ) throws -> String? {
        if let limits,
            let reason = try Self.admit(
                db, host: host, .thread(id: thread.id, bytes: argv.utf8.count + thread.cwd.utf8.count),
                limits: limits)
        {
            return reason
        }
        try db.execute(
            sql: """
                INSERT INTO threads (host, id, agent, argv, cwd, repo, branch, pid, state, started_at,
                  last_activity, title, session_id, exit_code, stale, updated_at, hooked_at, stopped)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
                ON CONFLICT(host, id) DO UPDATE SET agent = excluded.agent, argv = excluded.argv, cwd = excluded.cwd,
                  repo = excluded.repo, branch = excluded.branch, pid = excluded.pid, state = excluded.state,
                  started_at = excluded.started_at, last_activity = excluded.last_activity, title = excluded.title,
                  session_id = excluded.session_id, exit_code = excluded.exit_code, stale = 0,
                  updated_at = excluded.updated_at, hooked_at = excluded.hooked_at, stopped = excluded.stopped
                """,
            arguments: [
                host, thread.id, thread.agent.rawValue, argv, Self.text(thread.cwd), Self.text(thread.repo),
                Self.text(thread.branch), thread.pid.map { Int($0) }, Self.storedState(thread.state).rawValue,
                thread.startedAt.timeIntervalSince1970, thread.lastActivity.timeIntervalSince1970,
                Self.text(thread.title), Self.text(thread.sessionID), thread.exitCode.map { Int($0) },
                now.timeIntervalSince1970, thread.hookedAt?.timeIntervalSince1970, thread.state == .stopped,
            ])
        return nil
    }

    /// Marks a host's threads (or every thread, when `host` is nil) as stale.
    public func markThreadsStale(host: HostName? = nil) async throws(StoreError) {
        try await writeTransaction { db in
            if let host {
                try db.execute(sql: "UPDATE threads SET stale = 1 WHERE host = ?", arguments: [host])
            } else {
                try db.execute(sql: "UPDATE threads SET stale = 1")
            }
        }
    }

    /// Threads that have not exited, per host.
    public func liveThreadCounts() async throws(StoreError) -> [HostName: Int] {
        try await readValue { db in
            var counts: [HostName: Int] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT host, COUNT(*) AS n FROM threads WHERE state != 'exited' GROUP BY host")
            {
                counts[row["host"]] = row["n"]
            }
            return counts
        }
    }

    /// Known threads by host then start time: every host's, or only those of `hosts` (read
    /// through the threads_by_host_start index, never by loading every thread).
    public func threads(hosts: [HostName]? = nil) async throws(StoreError) -> [ThreadRecord] {
        try await readValue { db in
            var records: [ThreadRecord] = []
            guard let hosts else {
                try Self.collectThreads(db, sql: Self.threadListSQL(byHost: false), into: &records)
                return records
            }
            // One indexed range per host, in host order (the order of the whole listing).
            for host in Set(hosts).sorted() where !host.rawValue.utf8.contains(0) {
                try Self.collectThreads(db, sql: Self.threadListSQL(byHost: true), arguments: [host], into: &records)
            }
            return records
        }
    }

    /// What a thread reference matches: threads whose id starts with `idPrefix` (on `host` only,
    /// when given), counted, and the first `limit` of them by host, start time and id; with a
    /// host, also the thread whose id is exactly `idPrefix`. Served by the threads_by_id index
    /// (or the primary key, with a host): a range over the matching ids only.
    public func threadMatches(idPrefix: String, host: HostName? = nil, limit: Int = 5) async throws(StoreError)
        -> ThreadMatches
    {
        // A NUL cannot be bound (GRDB passes C strings) and no thread id or host name holds one.
        guard !idPrefix.isEmpty, !idPrefix.utf8.contains(0), !(host?.rawValue.utf8.contains(0) ?? false) else {
            return ThreadMatches(exact: nil, count: 0, first: [])
        }
        let upper = Self.prefixUpperBound(idPrefix)
        var arguments: StatementArguments = [idPrefix, idPrefix, idPrefix]
        if let upper { arguments += [upper] }
        if let host { arguments += [host] }
        let filter = Self.threadMatchFilter(host: host != nil, upperBound: upper != nil)
        return try await readValue { [arguments] db in
            let count =
                try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT COUNT(*) FROM threads \(filter)"), arguments: arguments)
                ?? 0
            var first: [ThreadRecord] = []
            try Self.collectThreads(
                db, sql: "SELECT \(Self.threadColumns) FROM threads \(filter) ORDER BY host, started_at, id LIMIT ?",
                arguments: arguments + [max(0, limit)], into: &first)
            var exact: [ThreadRecord] = []
            if let host {
                try Self.collectThreads(
                    db, sql: "SELECT \(Self.threadColumns) FROM threads WHERE host = ? AND id = ?",
                    arguments: [host, idPrefix], into: &exact)
            }
            return ThreadMatches(exact: exact.first, count: count, first: first)
        }
    }

    /// Renders known threads straight from their rows (listing order; every host's, or only
    /// those of `hosts`), without building a `ThreadRecord` each: `render` gets each row's view,
    /// valid only during the call, and accumulates into `output`. A row whose agent or state is
    /// not known is skipped, as `threads(hosts:)` skips it.
    public func renderThreads<Output: Sendable>(
        hosts: [HostName]? = nil, into output: Output,
        _ render: @escaping @Sendable (inout Output, ThreadRowView) -> Void
    ) async throws(StoreError) -> Output {
        try await readValue { db in
            var output = output
            func scan(_ sql: String, _ arguments: StatementArguments) throws {
                let statement = try db.cachedStatement(sql: sql)
                let rows = try Row.fetchCursor(statement, arguments: arguments)
                while let row = try rows.next() {
                    if let view = ThreadRowView(ColumnReader(row: row, statement: statement.sqliteStatement)) {
                        render(&output, view)
                    }
                }
            }
            guard let hosts else {
                try scan(Self.threadListSQL(byHost: false), [])
                return output
            }
            for host in Set(hosts).sorted() where !host.rawValue.utf8.contains(0) {
                try scan(Self.threadListSQL(byHost: true), [host])
            }
            return output
        }
    }

    /// `SELECT` of every thread, or of one host's (`?`), in listing order.
    static func threadListSQL(byHost: Bool) -> String {
        "SELECT \(threadColumns) FROM threads \(byHost ? "WHERE host = ? " : "")ORDER BY host, started_at, id"
    }

    /// The `WHERE` of an id-prefix match; arguments: the prefix three times, then the upper bound
    /// and the host when present. The range is what the index serves; `substr` keeps the match
    /// exact whatever the prefix holds.
    static func threadMatchFilter(host: Bool, upperBound: Bool) -> String {
        "WHERE id >= ? AND substr(id, 1, length(?)) = ?" + (upperBound ? " AND id < ?" : "")
            + (host ? " AND host = ?" : "")
    }

    /// The smallest string greater than every string that starts with `prefix` (code point order,
    /// which is SQLite's byte order for UTF-8 text), or nil when there is none.
    static func prefixUpperBound(_ prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var value = last.value + 1
            if (0xD800...0xDFFF).contains(value) { value = 0xE000 }
            if let next = Unicode.Scalar(value) {
                scalars.append(next)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars)
                return String(view)
            }
        }
        return nil
    }

    /// The columns `threadRecord` reads, by position.
    static let threadColumns = """
        host, id, agent, argv, cwd, repo, branch, pid, state, started_at, last_activity, title, session_id, \
        exit_code, stale, updated_at, hooked_at, stopped
        """

    /// Runs a `SELECT threadColumns …` and appends its rows (a cursor over a cached statement:
    /// listings read thousands of rows).
    static func collectThreads(
        _ db: Database, sql: String, arguments: StatementArguments = [], into records: inout [ThreadRecord]
    ) throws {
        let statement = try db.cachedStatement(sql: sql)
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try rows.next() {
            if let record = threadRecord(ColumnReader(row: row, statement: statement.sqliteStatement)) {
                records.append(record)
            }
        }
    }

    /// Typed reads of the current row straight from SQLite (GRDB's generic decoding costs more
    /// than the rest of a listing); NULL checked first, so nothing traps on a value it did not expect.
    struct ColumnReader {
        let row: Row
        let statement: SQLiteStatement

        func isNull(_ index: Int32) -> Bool { row.hasNull(atIndex: Int(index)) }

        /// Plain text (ids, names, enums, JSON).
        func string(_ index: Int32) -> String? {
            isNull(index) ? nil : String(sqliteStatement: statement, index: index)
        }

        /// A column written with `Store.text` (host text: a BLOB when it holds a NUL), whole.
        func text(_ index: Int32) -> String? {
            isNull(index) ? nil : String.fromDatabaseValue(DatabaseValue(sqliteStatement: statement, index: index))
        }

        func double(_ index: Int32) -> Double? {
            isNull(index) ? nil : Double(sqliteStatement: statement, index: index)
        }

        func int64(_ index: Int32) -> Int64? {
            isNull(index) ? nil : Int64(sqliteStatement: statement, index: index)
        }
    }

    /// SQLite's plan for `sql` (for tests: lookups must be served by an index).
    func queryPlan(_ sql: String, arguments: StatementArguments = []) async throws(StoreError) -> String {
        try await readValue { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
                .joined(separator: "\n")
        }
    }

    private static func threadRecord(_ row: ColumnReader) -> ThreadRecord? {
        guard let host = row.string(0), let id = row.string(1), let agent = row.string(2).flatMap(AgentKind.init),
            var state = row.string(8).flatMap(ThreadState.init), let argvText = row.string(3)
        else { return nil }
        if state == .paused, (row.int64(17) ?? 0) != 0 { state = .stopped }
        let argv =
            JSONStringArray.decode(argvText)
            ?? (try? JSONSerialization.jsonObject(with: Data(argvText.utf8))) as? [String] ?? []
        let thread = AgentThread(
            id: ThreadID(id), agent: agent, argv: argv, cwd: row.text(4) ?? "", repo: row.text(5), branch: row.text(6),
            pid: row.int64(7).map { Int32(truncatingIfNeeded: $0) }, state: state,
            startedAt: Date(timeIntervalSince1970: row.double(9) ?? 0),
            lastActivity: Date(timeIntervalSince1970: row.double(10) ?? 0), title: row.text(11),
            sessionID: row.text(12), exitCode: row.int64(13).map { Int32(truncatingIfNeeded: $0) },
            hookedAt: row.double(16).map(Date.init(timeIntervalSince1970:)))
        return ThreadRecord(
            host: HostName(host), thread: thread, stale: (row.int64(14) ?? 0) != 0,
            updatedAt: Date(timeIntervalSince1970: row.double(15) ?? 0))
    }
}

/// Reads one stored thread row in place for `Store.renderThreads`: text columns as SQLite's
/// column bytes (UTF-8; host text holding a NUL is a BLOB of its UTF-8), no copy.
struct ThreadColumnReader: ThreadRowReader {
    let reader: Store.ColumnReader

    /// The column's position in `Store.threadColumns`.
    static func position(_ column: ThreadRowView.Column) -> Int32 {
        switch column {
        case .id: 1
        case .argv: 3
        case .cwd: 4
        case .repo: 5
        case .branch: 6
        case .pid: 7
        case .startedAt: 9
        case .lastActivity: 10
        case .title: 11
        case .sessionID: 12
        case .exitCode: 13
        case .stale: 14
        case .hookedAt: 16
        }
    }

    func withBytes<T>(_ column: ThreadRowView.Column, _ body: (UnsafeRawBufferPointer?) -> T) -> T {
        let index = Self.position(column)
        guard sqlite3_column_type(reader.statement, index) != SQLITE_NULL else { return body(nil) }
        guard let bytes = sqlite3_column_blob(reader.statement, index) else {
            return body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let count = Int(max(0, sqlite3_column_bytes(reader.statement, index)))
        return body(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    func double(_ column: ThreadRowView.Column) -> Double? { reader.double(Self.position(column)) }

    func int64(_ column: ThreadRowView.Column) -> Int64? { reader.int64(Self.position(column)) }

    var argv: [String] {
        let text = reader.string(Self.position(.argv)) ?? "[]"
        return JSONStringArray.decode(text)
            ?? (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String] ?? []
    }
}

extension ThreadRowView {
    /// The row `reader` is on; nil when it lacks what every thread has (host, id, agent, state, argv).
    init?(_ reader: Store.ColumnReader) {
        guard let host = reader.string(0), let agent = reader.string(2).flatMap(AgentKind.init),
            var state = reader.string(8).flatMap(ThreadState.init), !reader.isNull(1), !reader.isNull(3)
        else { return nil }
        if state == .paused, (reader.int64(17) ?? 0) != 0 { state = .stopped }
        self.init(host: HostName(host), agent: agent, state: state, reader: ThreadColumnReader(reader: reader))
    }
}

/// What a thread reference matches (see `Store.threadMatches`).
public struct ThreadMatches: Sendable, Equatable {
    /// The thread of the given host whose id is exactly the reference.
    public var exact: ThreadRecord?
    /// How many threads' ids start with the reference.
    public var count: Int
    /// The first of them by host, start time and id (at most the limit asked for).
    public var first: [ThreadRecord]
}
