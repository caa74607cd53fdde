public import BosunCore
public import Foundation
import GRDB

/// What a write produced: the request as stored, and the outbox entry to send, if any.
public struct RequestChange: Sendable {
    public var record: RequestRecord
    /// True when this call created the request (false: a resend of a known one).
    public var isNew: Bool
    /// A decision queued for the host: (outbox id = message seq, decision).
    public var delivery: (id: Int64, decision: Decision)?
}

/// What `Store.receiveRequests` makes of a new request: its policy result, when it expires, and
/// the decision taken at once (nil: it waits for a person).
public struct RequestRuling: Sendable {
    public var policy: PolicyResult
    public var expiresAt: Date
    public var immediate: Decision?

    public init(policy: PolicyResult, expiresAt: Date, immediate: Decision?) {
        self.policy = policy
        self.expiresAt = expiresAt
        self.immediate = immediate
    }
}

/// A request from a host for `Store.receiveRequests`.
public struct IncomingRequest: Sendable {
    public var host: HostName
    public var request: ApprovalRequest
    /// What it takes of its host's storage bounds (checked when the batch has limits); nil: not checked.
    public var admission: Store.Admission?
    /// Whether `decide` reads the pending count (else it gets 0 and nothing is counted).
    public var needsPendingCount: Bool
    /// Rules on a new request (not on a resend of a stored one) given how many requests of its
    /// host wait for a person, counted inside the batch's transaction.
    public var decide: @Sendable (_ pending: Int) -> RequestRuling

    public init(
        host: HostName, request: ApprovalRequest, admission: Store.Admission?, needsPendingCount: Bool,
        decide: @escaping @Sendable (_ pending: Int) -> RequestRuling
    ) {
        self.host = host
        self.request = request
        self.admission = admission
        self.needsPendingCount = needsPendingCount
        self.decide = decide
    }
}

/// What became of one request of a batch.
public enum RequestReceipt: Sendable {
    /// Not stored: its host is over a storage bound (why).
    case refused(String)
    case stored(RequestChange)
}

extension Store {
    // MARK: Requests

    /// Stores a request from `host` with the policy's result; `immediate` decides it at once.
    /// A request already known (a resend after reconnect) is not stored twice; if it was decided,
    /// its decision is queued again so the host can apply it (idempotently).
    public func receiveRequest(
        host: HostName, _ request: ApprovalRequest, policy: PolicyResult, expiresAt: Date, immediate: Decision?,
        now: Date = Date()
    ) async throws(StoreError) -> RequestChange {
        let item = IncomingRequest(host: host, request: request, admission: nil, needsPendingCount: false) { _ in
            RequestRuling(policy: policy, expiresAt: expiresAt, immediate: immediate)
        }
        let receipts = try await receiveRequests([item], limits: nil, now: now)
        guard case .stored(let change) = receipts.first else { throw StoreError("request not stored") }
        return change
    }

    /// Stores requests from hosts in one transaction (group commit: one fsync for every request
    /// that arrived while the previous batch was being stored), each exactly as `receiveRequest`
    /// would one after the other, in order: admitted within its host's `limits` (or refused, not
    /// stored), ruled by its `decide` with its host's pending count as it stands at that point of
    /// the batch, stored with its audit records, and decided at once when the ruling says so.
    /// Nothing is stored when any of them fails: the caller then has every decision undelivered.
    public func receiveRequests(_ items: [IncomingRequest], limits: HostLimits?, now: Date = Date())
        async throws(StoreError) -> [RequestReceipt]
    {
        guard !items.isEmpty else { return [] }
        return try await writeTransaction { db in
            var writer = try RequestWriter(db, now: now)
            var receipts: [RequestReceipt] = []
            receipts.reserveCapacity(items.count)
            for item in items {
                if let admission = item.admission, let limits,
                    let reason = try Self.admit(db, host: item.host, admission, limits: limits)
                {
                    receipts.append(.refused(reason))
                    continue
                }
                receipts.append(.stored(try writer.receive(item)))
            }
            return receipts
        }
    }

    /// One transaction's request writes: statements prepared once, the audit chain's head kept in
    /// memory, each value encoded to JSON once.
    struct RequestWriter {
        let db: Database
        let now: Date
        let encoder = Timestamp.makeEncoder()
        var chain: AuditChain
        let existing: Statement
        let pendingOutbox: Statement
        let pendingCount: Statement
        let insert: Statement

        init(_ db: Database, now: Date) throws {
            self.db = db
            self.now = now
            chain = try AuditChain(db)
            existing = try db.cachedStatement(sql: "SELECT * FROM requests WHERE host = ? AND id = ?")
            pendingOutbox = try db.cachedStatement(
                sql: "SELECT COUNT(*) FROM outbox WHERE host = ? AND message_id = ? AND delivered_at IS NULL")
            pendingCount = try db.cachedStatement(
                sql: "SELECT COUNT(*) FROM requests WHERE host = ? AND status = 'pending'")
            insert = try db.cachedStatement(
                sql: """
                    INSERT INTO requests (host, id, thread_id, created_at, deadline_at, expires_at, received_at, tier,
                      policy_verdict, rule, rule_source, policy_reason, missing_evidence, evidence, status, truncated,
                      action_sha256, action_bytes, decision, decided_by, decided_at, channel)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
        }

        func json<T: Encodable>(_ value: T) -> String {
            String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
        }

        mutating func receive(_ item: IncomingRequest) throws -> RequestChange {
            let host = item.host
            let request = item.request
            if let row = try Row.fetchOne(existing, arguments: [host, request.id]),
                let existing = Store.requestRecord(row)
            {
                var delivery: (Int64, Decision)?
                if let decision = existing.decision, !existing.local {
                    let pending = try Int.fetchOne(pendingOutbox, arguments: [host, request.id]) ?? 0
                    if pending == 0 {
                        delivery = (try Store.enqueue(db, host: host, decision: decision, now: now), decision)
                    }
                }
                return RequestChange(record: existing, isNew: false, delivery: delivery)
            }
            let pending = item.needsPendingCount ? try Int.fetchOne(pendingCount, arguments: [host]) ?? 0 : 0
            let ruling = item.decide(pending)
            let policy = ruling.policy
            let decision = ruling.immediate
            let decisionJSON = decision.map { json($0) }
            // Decided at once: stored decided in the same row (what `decide` would set on it).
            let status = decision.map { RequestStatus($0.verdict) } ?? .pending
            try insert.execute(arguments: [
                host, request.id, request.threadID, request.createdAt.timeIntervalSince1970,
                request.deadlineAt.timeIntervalSince1970, ruling.expiresAt.timeIntervalSince1970,
                now.timeIntervalSince1970, policy.tier.rawValue, policy.verdict.rawValue, policy.rule,
                policy.ruleSource, policy.reason, json(policy.missingEvidence), json(request.evidence),
                status.rawValue, request.truncated, request.actionSHA256, request.actionBytes, decisionJSON,
                decision?.decidedBy.encoded, decision?.decidedAt.timeIntervalSince1970, decision.map { _ in "policy" },
            ])
            let number = db.lastInsertedRowID
            try chain.append(
                db, actor: "host:\(host)", channel: "link", host: host, kind: "request",
                details: [
                    "request": .int(number), "id": .string(request.id.rawValue),
                    "thread": .string(request.threadID.rawValue),
                    "tool": .string(request.evidence.tool), "command": .optional(request.evidence.command),
                ], now: now)
            try chain.append(
                db, actor: policy.rule.map { "policy:\($0)" } ?? "policy:default", channel: "policy", host: host,
                kind: "policy",
                details: [
                    "request": .int(number), "tier": .string(policy.tier.rawValue),
                    "verdict": .string(policy.verdict.rawValue), "reason": .string(policy.reason),
                    "missing_evidence": .strings(policy.missingEvidence),
                ], now: now)
            var delivery: (Int64, Decision)?
            if let decision, let decisionJSON {
                try chain.append(
                    db, actor: decision.decidedBy.encoded, channel: "policy", host: host,
                    kind: decision.verdict == .expired ? "expiry" : "decision",
                    details: [
                        "request": .int(number), "id": .string(decision.requestID.rawValue),
                        "verdict": .string(decision.verdict.rawValue), "reason": .string(decision.reason),
                        "note": .null,
                    ], now: now)
                delivery = (
                    try Store.enqueue(
                        db, host: host, kind: MessageKind.decision.name, messageID: decision.requestID.rawValue,
                        payload: decisionJSON, now: now),
                    decision
                )
            }
            // The row as `fetchRequest` would read it back, without reading and decoding it.
            let record = RequestRecord(
                number: number, host: host, request: request, receivedAt: Self.stored(now),
                expiresAt: Self.stored(ruling.expiresAt), policy: policy, status: status, decision: decision,
                channel: decision.map { _ in "policy" }, note: nil, local: false)
            return RequestChange(record: record, isNew: true, delivery: delivery)
        }

        /// A date as it reads back from its REAL column.
        static func stored(_ date: Date) -> Date { Date(timeIntervalSince1970: date.timeIntervalSince1970) }
    }

    /// Records a vote; when `decide` returns a decision for the votes so far, the request is decided.
    public func vote(
        number: Int64, review: Review, decide: @escaping @Sendable (RequestRecord, [Review]) -> Decision?
    ) async throws(StoreError) -> Result<RequestChange, VoteRefusal> {
        try await writeTransaction { db in
            guard let record = try Self.fetchRequest(db, number: number) else {
                return .failure(VoteRefusal("no request #\(number)"))
            }
            guard record.status == .pending else {
                if record.local {
                    return .failure(
                        VoteRefusal(
                            "request #\(number) was already answered on host \(record.host) (\(record.status.rawValue) by \(record.decision?.decidedBy.encoded ?? "the host")); the agent has its answer, so no vote can change it"
                        ))
                }
                return .failure(VoteRefusal("request #\(number) is already \(record.status.rawValue)"))
            }
            guard review.at < record.request.deadlineAt else {
                return .failure(
                    VoteRefusal(
                        "request #\(number) is past its hook's deadline (\(Timestamp.format(record.request.deadlineAt))): the agent was already answered on its host (a timeout), so no vote can reach it"
                    ))
            }
            var existing = try Self.fetchReviews(db, number: number)
            var details: [String: AuditValue] = [
                "request": .int(number), "vote": .string(review.vote.rawValue), "note": .optional(review.note),
                "key": .optional(review.keyFingerprint), "source": .optional(review.source),
            ]
            var kind = "vote"
            if let mine = existing.first(where: { $0.operator == review.operator }) {
                // The operator changes their own vote while the request waits (a quorum still
                // counts each operator once).
                guard mine.vote != review.vote else {
                    return .failure(
                        VoteRefusal(
                            "\(review.operator) already voted \(mine.vote.rawValue) on #\(number); a quorum needs distinct approvers ('\(mine.vote == .approve ? "deny" : "approve") \(number)' changes your vote, 'withdraw \(number)' removes it)"
                        ))
                }
                try db.execute(
                    sql: "DELETE FROM reviews WHERE request_number = ? AND operator = ?",
                    arguments: [number, review.operator])
                existing.removeAll { $0.operator == review.operator }
                kind = "vote_changed"
                details["previous"] = .string(mine.vote.rawValue)
            }
            try db.execute(
                sql:
                    "INSERT INTO reviews (request_number, operator, channel, vote, note, at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    number, review.operator, review.channel, review.vote.rawValue, review.note,
                    review.at.timeIntervalSince1970,
                ])
            try Self.appendAudit(
                db, actor: "operator:\(review.operator)", channel: review.channel, host: record.host, kind: kind,
                details: details, now: review.at)
            var delivery: (Int64, Decision)?
            if let decision = decide(record, existing + [review]) {
                let id = try Self.decide(
                    db, number: number, host: record.host, decision: decision, channel: review.channel,
                    note: review.note,
                    now: review.at)
                delivery = (id, decision)
            }
            guard let updated = try Self.fetchRequest(db, number: number) else { throw StoreError("request vanished") }
            return .success(RequestChange(record: updated, isNew: false, delivery: delivery))
        }
    }

    /// Times out every pending request whose time to live ran out (verdict and status `expired`,
    /// audit kind `expiry`, as stored since v1); returns what to deliver.
    public func timeOutDue(now: Date = Date()) async throws(StoreError) -> [RequestChange] {
        try await writeTransaction { db in
            let due = try Row.fetchAll(
                db, sql: "SELECT number FROM requests WHERE status = 'pending' AND expires_at <= ?",
                arguments: [now.timeIntervalSince1970])
            var changes: [RequestChange] = []
            for row in due {
                let number: Int64 = row["number"]
                guard let record = try Self.fetchRequest(db, number: number) else { continue }
                let decision = Decision.timedOut(
                    request: record.request.id, tier: record.policy.tier, rule: record.policy.rule,
                    reason:
                        "Bosun: no decision within \(Self.seconds(record.expiresAt.timeIntervalSince(record.request.createdAt))) s; the request expired (a timeout, not a denial by a person)",
                    at: now)
                let id = try Self.decide(
                    db, number: number, host: record.host, decision: decision, channel: "timer", note: nil, now: now)
                if let updated = try Self.fetchRequest(db, number: number) {
                    changes.append(RequestChange(record: updated, isNew: false, delivery: (id, decision)))
                }
            }
            return changes
        }
    }

    /// The earliest time a pending request times out (`expires_at`).
    public func nextTimeout() async throws(StoreError) -> Date? {
        try await readValue { db in
            try Double.fetchOne(db, sql: "SELECT MIN(expires_at) FROM requests WHERE status = 'pending'")
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    /// Records what a host answered by itself (no supervisor link, its snapshot policy, the hook's
    /// deadline, a helper failure, the agent gone). That answer is what the agent was told, so it is
    /// the request's one final state: a pending request is closed with it, and a decision the
    /// supervisor made that never reached the agent is superseded (its undelivered outbox entry is
    /// withdrawn, audited `not_applied`). A host asserts only its own verdict: the author is always
    /// `host:<name>/<basis>` (never an operator a host names), the tier and rule are the
    /// supervisor's own evaluation, and only this host's request `(host, id)` is touched.
    /// Returns the request as stored when something changed.
    @discardableResult
    public func recordLocalDecision(
        host: HostName, _ local: LocalDecision, policy: PolicyResult, now: Date = Date()
    ) async throws(StoreError) -> RequestRecord? {
        try await writeTransaction { db in
            let claimed = local.decision
            let basis = Self.localBasis(claimed.decidedBy.encoded)
            let reason = String(claimed.reason.prefix(4096))
            let decision = Decision.fromHost(
                host, basis: basis, claimed.verdict, request: local.request.id, tier: policy.tier, rule: policy.rule,
                reason: reason, at: now)
            var existing = try Self.fetchRequest(db, host: host, id: local.request.id)
            if existing == nil {
                try db.execute(
                    sql: """
                        INSERT INTO requests (host, id, thread_id, created_at, deadline_at, expires_at, received_at, tier,
                          policy_verdict, rule, rule_source, policy_reason, missing_evidence, evidence, status, local,
                          truncated, action_sha256, action_bytes)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 1, ?, ?, ?)
                        """,
                    arguments: [
                        host, local.request.id, local.request.threadID, local.request.createdAt.timeIntervalSince1970,
                        local.request.deadlineAt.timeIntervalSince1970, local.request.deadlineAt.timeIntervalSince1970,
                        now.timeIntervalSince1970, policy.tier.rawValue, policy.verdict.rawValue, policy.rule,
                        policy.ruleSource, policy.reason, Self.json(policy.missingEvidence),
                        Self.json(local.request.evidence), local.request.truncated, local.request.actionSHA256,
                        local.request.actionBytes,
                    ])
                existing = try Self.fetchRequest(db, number: db.lastInsertedRowID)
            }
            guard let record = existing else { return nil }
            // A resend of the same answer (the host re-reports it after a reconnect) changes nothing.
            if record.local, let stored = record.decision, stored.verdict == decision.verdict,
                stored.decidedBy == decision.decidedBy
            {
                return nil
            }
            // Superseding a decision the supervisor made: only that one never reached the agent.
            let supersedes = record.status != .pending && !record.local
            var details: [String: AuditValue] = [
                "request": .int(record.number), "id": .string(local.request.id.rawValue),
                "verdict": .string(decision.verdict.rawValue), "basis": .string(basis),
                "reason": .string(reason), "supervisor_status": .string(record.status.rawValue),
                "supervisor_policy": .string(policy.verdict.rawValue),
                "host_claimed_by": .string(String(claimed.decidedBy.encoded.prefix(256))),
            ]
            if supersedes {
                details["supersedes"] = .string(record.decision?.decidedBy.encoded ?? record.status.rawValue)
            }
            try Self.appendAudit(
                db, actor: decision.decidedBy.encoded, channel: "host", host: host, kind: "local_decision",
                details: details,
                now: now)
            if record.status == .pending {
                try Self.close(db, number: record.number, decision: decision, channel: "host", note: nil, local: true)
            } else if supersedes {
                // The supervisor decided, but the agent had its answer from the host already.
                try db.execute(
                    sql: """
                        UPDATE requests SET status = ?, decision = ?, decided_by = ?, decided_at = ?, channel = 'host',
                          local = 1
                        WHERE number = ?
                        """,
                    arguments: [
                        RequestStatus(decision.verdict).rawValue, Self.json(decision), decision.decidedBy.encoded,
                        now.timeIntervalSince1970, record.number,
                    ])
                try Self.withdrawDecisions(db, host: host, requestID: local.request.id, now: now)
            } else {
                return nil
            }
            return try Self.fetchRequest(db, number: record.number)
        }
    }

    /// Marks the undelivered decisions for a request as not applied: the host's hook answered first.
    static func withdrawDecisions(_ db: Database, host: HostName, requestID: RequestID, now: Date) throws {
        let ids = try Int64.fetchAll(
            db,
            sql:
                "SELECT id FROM outbox WHERE host = ? AND kind = ? AND message_id = ? AND delivered_at IS NULL",
            arguments: [host, MessageKind.decision.name, requestID])
        for id in ids {
            try db.execute(
                sql: "UPDATE outbox SET delivered_at = ? WHERE id = ?", arguments: [now.timeIntervalSince1970, id])
            try appendAudit(
                db, actor: "host:\(host)", channel: "link", host: host, kind: "not_applied",
                details: ["outbox": .int(id), "id": .string(requestID.rawValue)], now: now)
        }
    }

    /// Why a host answered by itself, from what it says: only these words are kept (a host that
    /// claims `operator:alice` gets `unspecified`). A snapshot rule id is kept as a short token.
    static func localBasis(_ claimed: String) -> String {
        switch claimed {
        case "host:deadline": return "deadline"
        case "host:unreachable": return "unreachable"
        case "host:agent-gone": return "agent-gone"
        case "host:failure": return "failure"
        // The supervisor's own answer when it could not store the request, reported back.
        case "limit:store", "limit:storage": return "unstored"
        default:
            let prefix = "host-snapshot:"
            if claimed.hasPrefix(prefix) {
                let rule = String(claimed.dropFirst(prefix.count)).unicodeScalars.filter {
                    $0.isASCII
                        && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0))
                }
                return "snapshot:" + String(String.UnicodeScalarView(rule.prefix(64)))
            }
            return "unspecified"
        }
    }

    /// How many requests from `host` wait for a person.
    public func pendingCount(host: HostName) async throws(StoreError) -> Int {
        try await readValue { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM requests WHERE host = ? AND status = 'pending'", arguments: [host]) ?? 0
        }
    }

    public func requests(status: [RequestStatus] = []) async throws(StoreError) -> [RequestRecord] {
        try await readValue { db in
            let filter =
                status.isEmpty ? "" : "WHERE status IN (\(status.map { "'\($0.rawValue)'" }.joined(separator: ",")))"
            return try Row.fetchAll(db, sql: "SELECT * FROM requests \(filter) ORDER BY number").compactMap(
                Self.requestRecord)
        }
    }

    public func request(number: Int64) async throws(StoreError) -> RequestRecord? {
        try await readValue { db in try Self.fetchRequest(db, number: number) }
    }

    /// The request `id` of `host`, if stored (a read: it works while writes fail, e.g. disk full).
    public func request(host: HostName, id: RequestID) async throws(StoreError) -> RequestRecord? {
        try await readValue { db in try Self.fetchRequest(db, host: host, id: id) }
    }

    /// Removes `actor`'s own vote from a request that still waits (audited `vote_withdrawn` with
    /// the actor's channel, key and source).
    public func withdrawVote(number: Int64, by actor: Operator, now: Date = Date()) async throws(StoreError)
        -> Result<RequestRecord, VoteRefusal>
    {
        let name = actor.name
        return try await writeTransaction { db in
            guard let record = try Self.fetchRequest(db, number: number) else {
                return .failure(VoteRefusal("no request #\(number)"))
            }
            guard record.status == .pending else {
                return .failure(VoteRefusal("request #\(number) is already \(record.status.rawValue); its votes stand"))
            }
            guard let mine = try Self.fetchReviews(db, number: number).first(where: { $0.operator == name }) else {
                return .failure(VoteRefusal("\(name) has no vote on #\(number) to withdraw"))
            }
            try db.execute(
                sql: "DELETE FROM reviews WHERE request_number = ? AND operator = ?", arguments: [number, name])
            try Self.appendAudit(
                db, actor: "operator:\(name)", channel: actor.channel, host: record.host, kind: "vote_withdrawn",
                details: actor.details.merging(["request": .int(number), "vote": .string(mine.vote.rawValue)]) { $1 },
                now: now)
            return .success(record)
        }
    }

    /// Records what `operator` saw of request `number` (`show N`).
    public func recordView(number: Int64, operator name: String, digest: String, at: Date = Date())
        async throws(StoreError)
    {
        try await writeTransaction { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO request_views (request_number, operator, digest, at) VALUES (?, ?, ?, ?)",
                arguments: [number, name, digest, at.timeIntervalSince1970])
        }
    }

    /// The digest of what `operator` last saw of request `number`, if they looked at it.
    public func viewDigest(number: Int64, operator name: String) async throws(StoreError) -> String? {
        try await readValue { db in
            try String.fetchOne(
                db, sql: "SELECT digest FROM request_views WHERE request_number = ? AND operator = ?",
                arguments: [number, name])
        }
    }

    public func reviews(number: Int64) async throws(StoreError) -> [Review] {
        try await readValue { db in try Self.fetchReviews(db, number: number) }
    }

    // MARK: Outbox

    /// Messages not yet acknowledged by `host`, oldest first: (outbox id = message seq, message).
    public func undelivered(host: HostName) async throws(StoreError) -> [(id: Int64, message: SupervisorMessage)] {
        try await readValue { db in
            try Row.fetchAll(
                db, sql: "SELECT id, kind, payload FROM outbox WHERE host = ? AND delivered_at IS NULL ORDER BY id",
                arguments: [host]
            ).compactMap { row in
                // A kind no longer kept in an outbox, or a body that no longer decodes, is skipped.
                SupervisorMessage.fromOutbox(kind: row["kind"], body: Data((row["payload"] as String).utf8))
                    .map { (row["id"], $0) }
            }
        }
    }

    /// `undelivered(host:)` for several hosts in one read (hosts coming up together).
    public func undelivered(hosts: [HostName]) async throws(StoreError) -> [HostName: [(
        id: Int64, message: SupervisorMessage
    )]] {
        guard !hosts.isEmpty else { return [:] }
        let names = Array(Set(hosts))
        return try await readValue { db in
            var result: [HostName: [(id: Int64, message: SupervisorMessage)]] = [:]
            let placeholders = Array(repeating: "?", count: names.count).joined(separator: ",")
            let rows = try Row.fetchCursor(
                db,
                sql:
                    "SELECT id, host, kind, payload FROM outbox WHERE host IN (\(placeholders)) AND delivered_at IS NULL ORDER BY id",
                arguments: StatementArguments(names.map(\.rawValue)))
            while let row = try rows.next() {
                let host = HostName(row["host"] as String)
                guard
                    let message = SupervisorMessage.fromOutbox(
                        kind: row["kind"], body: Data((row["payload"] as String).utf8))
                else { continue }
                result[host, default: []].append((row["id"], message))
            }
            return result
        }
    }

    /// Which of `ids` the hosts have acknowledged.
    public func delivered(_ ids: [Int64]) async throws(StoreError) -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        return try await readValue { db in
            Set(
                try Int64.fetchAll(
                    db,
                    sql:
                        "SELECT id FROM outbox WHERE delivered_at IS NOT NULL AND id IN (\(ids.map(String.init).joined(separator: ",")))"
                ))
        }
    }

    /// The host acknowledged outbox entry `id`. Returns false for an unknown or repeated ack.
    @discardableResult
    public func markDelivered(host: HostName, id: Int64, now: Date = Date()) async throws(StoreError) -> Bool {
        try await writeTransaction { db in
            try db.execute(
                sql: "UPDATE outbox SET delivered_at = ? WHERE id = ? AND host = ? AND delivered_at IS NULL",
                arguments: [now.timeIntervalSince1970, id, host])
            guard db.changesCount > 0 else { return false }
            let messageID = try String.fetchOne(db, sql: "SELECT message_id FROM outbox WHERE id = ?", arguments: [id])
            try Self.appendAudit(
                db, actor: "host:\(host)", channel: "link", host: host, kind: "delivered",
                details: ["outbox": .int(id), "id": .optional(messageID)], now: now)
            return true
        }
    }

    // MARK: Outcomes

    public func recordOutcome(host: HostName, _ outcome: Outcome) async throws(StoreError) {
        try await writeTransaction { db in
            try db.execute(
                sql: """
                    INSERT INTO outcomes (host, thread_id, request_id, tool, command, exit_code, finished_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    host, outcome.threadID, outcome.requestID, outcome.tool, outcome.command,
                    outcome.exitCode.map { Int($0) }, outcome.finishedAt.timeIntervalSince1970,
                ])
        }
    }

    /// Adds a host's follow-up `changed_files` to its own request of that thread, when the request
    /// has none yet (evidence is only ever added: a decision, a vote or files already there stay as
    /// they are). Returns whether the request changed.
    @discardableResult
    public func attachChangedFiles(host: HostName, _ message: ChangedFiles) async throws(StoreError) -> Bool {
        guard !message.files.isEmpty else { return false }
        guard let encoded = try? JSONEncoder().encode(message.files) else { return false }
        let files = String(decoding: encoded, as: UTF8.self)
        return try await writeTransaction { db in
            try db.execute(
                sql: """
                    UPDATE requests SET evidence = json_set(evidence, '$.changed_files', json(?))
                    WHERE host = ? AND id = ? AND thread_id = ?
                      AND coalesce(json_array_length(evidence, '$.changed_files'), 0) = 0
                    """,
                arguments: [files, host, message.requestID, message.threadID])
            return db.changesCount > 0
        }
    }

    // MARK: Internals

    /// Decides a pending request, queues the decision for its host, audits it. Returns the outbox id.
    static func decide(
        _ db: Database, number: Int64, host: HostName, decision: Decision, channel: String, note: String?, now: Date
    ) throws -> Int64 {
        try close(db, number: number, decision: decision, channel: channel, note: note, local: false)
        try appendAudit(
            db, actor: decision.decidedBy.encoded, channel: channel, host: host,
            kind: decision.verdict == .expired ? "expiry" : "decision",
            details: [
                "request": .int(number), "id": .string(decision.requestID.rawValue),
                "verdict": .string(decision.verdict.rawValue),
                "reason": .string(decision.reason), "note": .optional(note),
            ], now: now)
        return try enqueue(db, host: host, decision: decision, now: now)
    }

    static func close(
        _ db: Database, number: Int64, decision: Decision, channel: String, note: String?, local: Bool
    ) throws {
        try db.execute(
            sql: """
                UPDATE requests SET status = ?, decision = ?, decided_by = ?, decided_at = ?, channel = ?, note = ?,
                  local = (local OR ?)
                WHERE number = ? AND status = 'pending'
                """,
            arguments: [
                RequestStatus(decision.verdict).rawValue, json(decision), decision.decidedBy.encoded,
                decision.decidedAt.timeIntervalSince1970, channel, note, local, number,
            ])
    }

    static func enqueue(_ db: Database, host: HostName, decision: Decision, now: Date) throws -> Int64 {
        try enqueue(db, host: host, .decision(decision), now: now)
    }

    /// Queues a message for `host`; its row id is the message's seq, acknowledged by the host. The
    /// row's `kind` is the message's name on the wire, `message_id` the id the host applies it once by.
    static func enqueue(_ db: Database, host: HostName, _ message: SupervisorMessage, now: Date) throws -> Int64 {
        guard let kind = message.kind, kind.isKeptInOutbox, let body = message.body else {
            throw StoreError("\(message.kind?.name ?? "?") is not kept in the outbox", code: .invalid)
        }
        return try enqueue(
            db, host: host, kind: kind.name, messageID: body.idempotencyKey, payload: json(body), now: now)
    }

    /// Queues a message already encoded (`payload`, the body's JSON) for `host`.
    static func enqueue(
        _ db: Database, host: HostName, kind: String, messageID: String?, payload: String, now: Date
    ) throws -> Int64 {
        try db.cachedStatement(
            sql: "INSERT INTO outbox (host, kind, message_id, payload, created_at) VALUES (?, ?, ?, ?, ?)"
        ).execute(arguments: [host, kind, messageID, payload, now.timeIntervalSince1970])
        return db.lastInsertedRowID
    }

    /// Whole seconds for a message; never traps on a value out of Int's range.
    static func seconds(_ interval: TimeInterval) -> Int {
        guard interval.isFinite else { return 0 }
        return Int(max(0, min(interval, 1e12)).rounded(.down))
    }

    static func json<T: Encodable>(_ value: T) -> String {
        String(decoding: (try? Timestamp.makeEncoder().encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    static func fetchRequest(_ db: Database, host: HostName, id: RequestID) throws -> RequestRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM requests WHERE host = ? AND id = ?", arguments: [host, id])
            .flatMap(requestRecord)
    }

    static func fetchRequest(_ db: Database, number: Int64) throws -> RequestRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM requests WHERE number = ?", arguments: [number]).flatMap(requestRecord)
    }

    static func fetchReviews(_ db: Database, number: Int64) throws -> [Review] {
        try Row.fetchAll(db, sql: "SELECT * FROM reviews WHERE request_number = ? ORDER BY at", arguments: [number])
            .compactMap { row in
                guard let vote = Review.Vote(rawValue: row["vote"]) else { return nil }
                return Review(
                    operator: row["operator"], channel: row["channel"], vote: vote, note: row["note"],
                    at: Date(timeIntervalSince1970: row["at"]))
            }
    }

    static func requestRecord(_ row: Row) -> RequestRecord? {
        let decoder = Timestamp.makeDecoder()
        let evidenceText: String = row["evidence"]
        guard let evidence = try? decoder.decode(Evidence.self, from: Data(evidenceText.utf8)),
            let tier = Tier(rawValue: row["tier"]), let verdict = Verdict(rawValue: row["policy_verdict"]),
            let status = RequestStatus(rawValue: row["status"])
        else { return nil }
        let missingText: String = row["missing_evidence"]
        let decisionText: String? = row["decision"]
        let request = ApprovalRequest(
            id: row["id"], threadID: row["thread_id"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
            deadlineAt: Date(timeIntervalSince1970: row["deadline_at"]), evidence: evidence,
            truncated: (row["truncated"] as Bool?) ?? false, actionSHA256: row["action_sha256"],
            actionBytes: row["action_bytes"])
        return RequestRecord(
            number: row["number"], host: row["host"], request: request,
            receivedAt: Date(timeIntervalSince1970: row["received_at"]),
            expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
            policy: PolicyResult(
                tier: tier, verdict: verdict, rule: row["rule"], ruleSource: row["rule_source"],
                reason: row["policy_reason"],
                missingEvidence: (try? JSONDecoder().decode([String].self, from: Data(missingText.utf8))) ?? []),
            status: status,
            decision: decisionText.flatMap { try? decoder.decode(Decision.self, from: Data($0.utf8)) },
            channel: row["channel"], note: row["note"], local: row["local"])
    }
}
