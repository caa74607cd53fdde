import BosunCore
import Foundation
import GRDB

/// A store failure, with the SQLite/GRDB text.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// What the store remembers about a host's link between daemon runs.
public struct HostRecord: Sendable, Equatable {
    public var name: String
    public var hostname: String?
    public var hostVersion: String?
    public var bootID: String?
    public var hostKey: String?
    public var lastSeen: Date?
    public var rttMs: Double?
    /// The host's hook coverage summary from its last `hello` (untrusted text, bounded at decode).
    public var hooks: String?

    public init(
        name: String, hostname: String? = nil, hostVersion: String? = nil, bootID: String? = nil,
        hostKey: String? = nil,
        lastSeen: Date? = nil, rttMs: Double? = nil, hooks: String? = nil
    ) {
        self.name = name
        self.hostname = hostname
        self.hostVersion = hostVersion
        self.bootID = bootID
        self.hostKey = hostKey
        self.lastSeen = lastSeen
        self.rttMs = rttMs
        self.hooks = hooks
    }
}

/// A thread as the supervisor knows it: what its host last reported, and whether that is current.
public struct ThreadRecord: Sendable, Equatable {
    public var host: String
    public var thread: AgentThread
    /// True when the host's link is down (or the daemon restarted) since this was reported.
    public var stale: Bool
    public var updatedAt: Date

    public init(host: String, thread: AgentThread, stale: Bool, updatedAt: Date) {
        self.host = host
        self.thread = thread
        self.stale = stale
        self.updatedAt = updatedAt
    }
}

/// Bosun's SQLite store (WAL, via GRDB). Every call runs on GRDB's own queues, never blocking the
/// concurrency pool.
public final class Store: Sendable {
    private let pool: DatabasePool

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
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = \(durability.rawValue)")
            }
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw StoreError("cannot open database \(path): \(error)")
        }
    }

    func writeTransaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T
    {
        do {
            return try await pool.write(body)
        } catch {
            throw StoreError("database write failed: \(error)")
        }
    }

    func readValue<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw StoreError("database read failed: \(error)")
        }
    }

    // MARK: Hosts

    /// Makes the host table match the configured names: adds new ones, forgets removed ones and their threads.
    public func syncHosts(configured names: [String]) async throws(StoreError) {
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
        try await writeTransaction { db in
            try db.execute(
                sql: """
                    INSERT INTO hosts (name, hostname, host_version, boot_id, host_key, last_seen, rtt_ms, hooks)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET hostname = excluded.hostname, host_version = excluded.host_version,
                      boot_id = excluded.boot_id, host_key = excluded.host_key, last_seen = excluded.last_seen,
                      rtt_ms = excluded.rtt_ms, hooks = excluded.hooks
                    """,
                arguments: [
                    host.name, Self.text(host.hostname), Self.text(host.hostVersion), host.bootID, host.hostKey,
                    host.lastSeen?.timeIntervalSince1970, host.rttMs, Self.text(host.hooks),
                ])
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
                    hooks: row["hooks"])
            }
        }
    }

    // MARK: Threads

    /// Records what a host reported about one of its threads (current, not stale).
    /// With `limits`, a new thread beyond the host's bounds is not stored: returns why (see `admit`).
    @discardableResult
    public func saveThread(host: String, _ thread: AgentThread, at now: Date = Date(), limits: HostLimits? = nil)
        async throws(StoreError) -> String?
    {
        let argv = String(decoding: (try? JSONEncoder().encode(thread.argv)) ?? Data("[]".utf8), as: UTF8.self)
        return try await writeTransaction { db in
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
    }

    /// Marks a host's threads (or every thread, when `host` is nil) as stale.
    public func markThreadsStale(host: String? = nil) async throws(StoreError) {
        try await writeTransaction { db in
            if let host {
                try db.execute(sql: "UPDATE threads SET stale = 1 WHERE host = ?", arguments: [host])
            } else {
                try db.execute(sql: "UPDATE threads SET stale = 1")
            }
        }
    }

    /// Threads that have not exited, per host.
    public func liveThreadCounts() async throws(StoreError) -> [String: Int] {
        try await readValue { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT host, COUNT(*) AS n FROM threads WHERE state != 'exited' GROUP BY host")
            {
                counts[row["host"]] = row["n"]
            }
            return counts
        }
    }

    /// Every known thread, by host then start time.
    public func threads() async throws(StoreError) -> [ThreadRecord] {
        try await readValue { db in
            try Row.fetchAll(db, sql: "SELECT * FROM threads ORDER BY host, started_at, id").compactMap(
                Self.threadRecord)
        }
    }

    private static func threadRecord(_ row: Row) -> ThreadRecord? {
        guard let agent = AgentKind(rawValue: row["agent"]), var state = ThreadState(rawValue: row["state"]) else {
            return nil
        }
        if state == .paused, (row["stopped"] as Bool?) == true { state = .stopped }
        let argvText: String = row["argv"]
        let argv = (try? JSONSerialization.jsonObject(with: Data(argvText.utf8))) as? [String] ?? []
        let thread = AgentThread(
            id: row["id"], agent: agent, argv: argv, cwd: row["cwd"], repo: row["repo"], branch: row["branch"],
            pid: (row["pid"] as Int?).map { Int32(truncatingIfNeeded: $0) }, state: state,
            startedAt: Date(timeIntervalSince1970: row["started_at"]),
            lastActivity: Date(timeIntervalSince1970: row["last_activity"]), title: row["title"],
            sessionID: row["session_id"], exitCode: (row["exit_code"] as Int?).map { Int32(truncatingIfNeeded: $0) },
            hookedAt: (row["hooked_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
        return ThreadRecord(
            host: row["host"], thread: thread, stale: row["stale"],
            updatedAt: Date(timeIntervalSince1970: row["updated_at"]))
    }
}
