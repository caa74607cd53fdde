public import BosunCore
import Foundation
import GRDB

/// How much one host may have stored; beyond it the oldest finished state is forgotten, and what
/// cannot make room is dropped (bosund.toml `[links]` `max_threads_per_host`, …).
public struct HostLimits: Sendable, Equatable {
    public var threads: Int
    public var requests: Int
    public var outcomes: Int
    public var bytes: Int

    public init(threads: Int, requests: Int, outcomes: Int, bytes: Int) {
        self.threads = threads
        self.requests = requests
        self.outcomes = outcomes
        self.bytes = bytes
    }
}

/// What a host has stored.
public struct HostUsage: Sendable, Equatable {
    public var threads = 0
    public var requests = 0
    public var outcomes = 0
    public var bytes = 0

    public init() {}
}

extension Store {
    /// Something a host wants stored, for `admit`.
    public enum Admission: Sendable {
        case thread(id: ThreadID, bytes: Int)
        case request(id: RequestID, bytes: Int)
        case outcome(bytes: Int)
    }

    /// Makes room for one new item of `host` within `limits`: forgets the host's oldest finished
    /// state (outcomes, decided requests, exited threads) as needed. Returns nil when the item may
    /// be stored, or why it must be dropped. Updates of a thread or request already stored are
    /// always admitted (their fields are bounded by the protocol).
    public func admit(host: HostName, _ item: Admission, limits: HostLimits) async throws(StoreError) -> String? {
        // The common case (an update, or room to spare) is a read: no write, no fsync per message.
        let fits = try await readValue { db in try Self.fits(db, host: host, item, limits: limits) }
        if fits { return nil }
        return try await writeTransaction { db in try Self.admit(db, host: host, item, limits: limits) }
    }

    /// `admit` inside a write transaction (also used by `saveThread`, so a thread message costs one
    /// transaction).
    static func admit(_ db: Database, host: HostName, _ item: Admission, limits: HostLimits) throws -> String? {
        do {
            let bytes: Int
            switch item {
            case .thread(let id, let size):
                if try Bool.fetchOne(
                    db.cachedStatement(sql: "SELECT 1 FROM threads WHERE host = ? AND id = ?"), arguments: [host, id])
                    ?? false
                {
                    return nil
                }
                bytes = size
            case .request(let id, let size):
                if try Bool.fetchOne(
                    db.cachedStatement(sql: "SELECT 1 FROM requests WHERE host = ? AND id = ?"), arguments: [host, id])
                    ?? false
                {
                    return nil
                }
                bytes = size
            case .outcome(let size):
                bytes = size
            }
            // Bounded work per message: at most this many old items are forgotten for one new one.
            for _ in 0..<64 {
                let usage = try Self.usage(db, host: host)
                let countFull: Bool
                switch item {
                case .thread: countFull = usage.threads >= limits.threads
                case .request: countFull = usage.requests >= limits.requests
                case .outcome: countFull = usage.outcomes >= limits.outcomes
                }
                let bytesFull = usage.bytes + bytes > limits.bytes
                if !countFull && !bytesFull { return nil }
                var evicted = false
                switch item {
                case .thread where countFull: evicted = try Self.evictThread(db, host: host)
                case .request where countFull: evicted = try Self.evictRequest(db, host: host)
                case .outcome where countFull: evicted = try Self.evictOutcome(db, host: host)
                default:
                    evicted =
                        try Self.evictOutcome(db, host: host) || Self.evictRequest(db, host: host)
                        || Self.evictThread(db, host: host)
                }
                if !evicted {
                    switch item {
                    case .thread where countFull: return "threads over max_threads_per_host (\(limits.threads))"
                    case .request where countFull: return "requests over max_requests_per_host (\(limits.requests))"
                    case .outcome where countFull: return "outcomes over max_outcomes_per_host (\(limits.outcomes))"
                    default: return "stored bytes over max_bytes_per_host (\(limits.bytes))"
                    }
                }
            }
            return "too much stored state to make room at once (limits of [links] max_*_per_host)"
        }
    }

    /// True when `item` is already stored (an update) or fits within `limits` as it is.
    static func fits(_ db: Database, host: HostName, _ item: Admission, limits: HostLimits) throws -> Bool {
        let usage = try usage(db, host: host)
        switch item {
        case .thread(let id, let size):
            if try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM threads WHERE host = ? AND id = ?"), arguments: [host, id])
                ?? false
            {
                return true
            }
            return usage.threads < limits.threads && usage.bytes + size <= limits.bytes
        case .request(let id, let size):
            if try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM requests WHERE host = ? AND id = ?"), arguments: [host, id])
                ?? false
            {
                return true
            }
            return usage.requests < limits.requests && usage.bytes + size <= limits.bytes
        case .outcome(let size):
            return usage.outcomes < limits.outcomes && usage.bytes + size <= limits.bytes
        }
    }

    /// What `host` has stored now.
    public func usage(host: HostName) async throws(StoreError) -> HostUsage {
        try await readValue { db in try Self.usage(db, host: host) }
    }

    static func usage(_ db: Database, host: HostName) throws -> HostUsage {
        var usage = HostUsage()
        if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT threads, requests, outcomes, bytes FROM host_usage WHERE host = ?"),
            arguments: [host])
        {
            usage.threads = row[0]
            usage.requests = row[1]
            usage.outcomes = row[2]
            usage.bytes = row[3]
        }
        return usage
    }

    /// Forgets the host's exited thread that was active longest ago.
    static func evictThread(_ db: Database, host: HostName) throws -> Bool {
        try db.execute(
            sql: """
                DELETE FROM threads WHERE rowid = (SELECT rowid FROM threads WHERE host = ? AND state = 'exited'
                  ORDER BY last_activity LIMIT 1)
                """, arguments: [host])
        return db.changesCount > 0
    }

    /// Forgets the host's oldest decided request (its votes and delivered messages with it; the
    /// audit keeps their record). Pending requests are never forgotten.
    static func evictRequest(_ db: Database, host: HostName) throws -> Bool {
        guard
            let row = try Row.fetchOne(
                db,
                sql: "SELECT number, id FROM requests WHERE host = ? AND status != 'pending' ORDER BY number LIMIT 1",
                arguments: [host])
        else { return false }
        let number: Int64 = row["number"]
        let id: String = row["id"]
        try db.execute(sql: "DELETE FROM reviews WHERE request_number = ?", arguments: [number])
        try db.execute(
            sql:
                "DELETE FROM outbox WHERE host = ? AND kind = ? AND message_id = ? AND delivered_at IS NOT NULL",
            arguments: [host, MessageKind.decision.name, id])
        try db.execute(sql: "DELETE FROM requests WHERE number = ?", arguments: [number])
        return true
    }

    /// Forgets the host's oldest outcome.
    static func evictOutcome(_ db: Database, host: HostName) throws -> Bool {
        try db.execute(
            sql: """
                DELETE FROM outcomes WHERE rowid = (SELECT rowid FROM outcomes WHERE host = ?
                  ORDER BY finished_at LIMIT 1)
                """, arguments: [host])
        return db.changesCount > 0
    }
}
