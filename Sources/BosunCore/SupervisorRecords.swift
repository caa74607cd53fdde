public import FoundationEssentials

// What the supervisor keeps about requests, threads, steering and its audit log, as plain values:
// the store reads and writes them, the fleet's control API returns them, the shell renders them.
// No module but the store knows how they are stored.

/// Where a request stands.
public enum RequestStatus: String, Sendable, Codable, CaseIterable {
    case pending, allowed, denied, expired, cancelled

    public init(_ verdict: DecisionVerdict) {
        switch verdict {
        case .allow: self = .allowed
        case .deny: self = .denied
        case .expired: self = .expired
        }
    }
}

/// What the policy said about a request when it arrived.
public struct PolicyResult: Sendable, Equatable {
    public var tier: Tier
    public var verdict: Verdict
    public var rule: String?
    public var ruleSource: String?
    public var reason: String
    public var missingEvidence: [String]

    public init(
        tier: Tier, verdict: Verdict, rule: String?, ruleSource: String?, reason: String, missingEvidence: [String]
    ) {
        self.tier = tier
        self.verdict = verdict
        self.rule = rule
        self.ruleSource = ruleSource
        self.reason = reason
        self.missingEvidence = missingEvidence
    }
}

/// A request as the supervisor keeps it. `number` is the short id operators type (`#42`).
public struct RequestRecord: Sendable, Equatable {
    public var number: Int64
    public var host: HostName
    public var request: ApprovalRequest
    public var receivedAt: Date
    public var expiresAt: Date
    public var policy: PolicyResult
    public var status: RequestStatus
    public var decision: Decision?
    public var channel: String?
    public var note: String?
    /// Decided on the host (no supervisor link, or the hook's deadline passed).
    public var local: Bool

    public init(
        number: Int64, host: HostName, request: ApprovalRequest, receivedAt: Date, expiresAt: Date,
        policy: PolicyResult, status: RequestStatus, decision: Decision?, channel: String?, note: String?, local: Bool
    ) {
        self.number = number
        self.host = host
        self.request = request
        self.receivedAt = receivedAt
        self.expiresAt = expiresAt
        self.policy = policy
        self.status = status
        self.decision = decision
        self.channel = channel
        self.note = note
        self.local = local
    }
}

/// One operator's vote on a request.
public struct Review: Sendable, Equatable {
    public enum Vote: String, Sendable { case approve, deny }
    public var `operator`: String
    public var channel: String
    public var vote: Vote
    public var note: String?
    public var at: Date
    /// The key fingerprint and source address the vote came with (audited, not stored per review).
    public var keyFingerprint: String?
    public var source: String?

    public init(
        operator: String, channel: String, vote: Vote, note: String?, at: Date, keyFingerprint: String? = nil,
        source: String? = nil
    ) {
        self.operator = `operator`
        self.channel = channel
        self.vote = vote
        self.note = note
        self.at = at
        self.keyFingerprint = keyFingerprint
        self.source = source
    }
}

/// A vote (or another operator action) that could not be carried out, phrased for the operator.
public struct VoteRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What the `queue` table shows of a request, read without decoding its whole evidence (a queue
/// of a thousand requests otherwise spends most of its time in JSONDecoder).
public struct RequestSummary: Sendable, Equatable {
    public var number: Int64
    public var host: HostName
    public var threadID: ThreadID
    public var tier: Tier
    public var status: RequestStatus
    public var createdAt: Date
    public var command: String?
    public var tool: String
    public var paths: [String]
    public var missingEvidence: [String]
    /// Distinct operators who voted to approve so far (quorum progress).
    public var approvals: Int

    public init(
        number: Int64, host: HostName, threadID: ThreadID, tier: Tier, status: RequestStatus, createdAt: Date,
        command: String?, tool: String, paths: [String], missingEvidence: [String], approvals: Int = 0
    ) {
        self.approvals = approvals
        self.number = number
        self.host = host
        self.threadID = threadID
        self.tier = tier
        self.status = status
        self.createdAt = createdAt
        self.command = command
        self.tool = tool
        self.paths = paths
        self.missingEvidence = missingEvidence
    }

    /// What the request would run: its command, else its tool and paths (as `queue` shows it).
    public var action: String {
        if let command { return command }
        return ([tool] + paths).joined(separator: " ")
    }
}

/// A thread as the supervisor knows it: what its host last reported, and whether that is current.
public struct ThreadRecord: Sendable, Equatable {
    public var host: HostName
    public var thread: AgentThread
    /// True when the host's link is down (or the daemon restarted) since this was reported.
    public var stale: Bool
    public var updatedAt: Date

    public init(host: HostName, thread: AgentThread, stale: Bool, updatedAt: Date) {
        self.host = host
        self.thread = thread
        self.stale = stale
        self.updatedAt = updatedAt
    }
}

/// Reads one stored thread row in place (the store implements it over its database's column bytes).
public protocol ThreadRowReader {
    /// The column's stored bytes (UTF-8 for text), nil for NULL; valid only inside `body`.
    func withBytes<T>(_ column: ThreadRowView.Column, _ body: (UnsafeRawBufferPointer?) -> T) -> T
    func double(_ column: ThreadRowView.Column) -> Double?
    func int64(_ column: ThreadRowView.Column) -> Int64?
    /// The argv as `ThreadRecord` has it (decoded).
    var argv: [String] { get }
}

/// One stored thread row as a listing renders it without building a `ThreadRecord` (ten thousand
/// threads as `threads --json`): text columns as their stored bytes. Valid only during the call
/// that hands it over.
public struct ThreadRowView {
    /// The columns a listing reads in place.
    public enum Column: Sendable {
        case id, argv, cwd, repo, branch, pid, startedAt, lastActivity, title, sessionID, exitCode, stale, hookedAt
    }

    let reader: any ThreadRowReader
    public let host: HostName
    public let agent: AgentKind
    /// As `ThreadRecord` has it (a hard pause that took effect is `stopped`).
    public let state: ThreadState

    public init(host: HostName, agent: AgentKind, state: ThreadState, reader: any ThreadRowReader) {
        self.host = host
        self.agent = agent
        self.state = state
        self.reader = reader
    }

    /// The column's stored bytes, nil for NULL (no copy).
    public func withBytes<T>(_ column: Column, _ body: (UnsafeRawBufferPointer?) -> T) -> T {
        reader.withBytes(column, body)
    }

    /// A text column as `ThreadRecord` has it: nil for NULL, or for bytes that are not UTF-8.
    public func text(_ column: Column) -> String? {
        withBytes(column) { bytes in bytes.flatMap { String(validating: $0, as: UTF8.self) } }
    }

    public func double(_ column: Column) -> Double? { reader.double(column) }

    public func int64(_ column: Column) -> Int64? { reader.int64(column) }

    /// The argv as `ThreadRecord` has it (decoded).
    public var argv: [String] { reader.argv }
}

/// A steering message and whether its thread has received it.
public struct SteerRecord: Sendable, Equatable {
    public var steer: Steer
    public var host: HostName
    public var channel: String
    public var createdAt: Date
    public var deliveredAt: Date?
    /// Taken back (`steer cancel`) before its host received it.
    public var cancelledAt: Date?

    public init(
        steer: Steer, host: HostName, channel: String, createdAt: Date, deliveredAt: Date?, cancelledAt: Date? = nil
    ) {
        self.steer = steer
        self.host = host
        self.channel = channel
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
        self.cancelledAt = cancelledAt
    }
}

/// A value in an audit record's details (kept simple so the hashed text is canonical).
public enum AuditValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case strings([String])
    case null

    public static func optional(_ text: String?) -> AuditValue { text.map(AuditValue.string) ?? .null }
}

/// One row of the hash-chained audit log.
public struct AuditEntry: Sendable, Equatable {
    public var seq: Int64
    public var at: String
    public var actor: String
    public var channel: String
    public var host: HostName
    public var kind: String
    /// Canonical JSON (sorted keys).
    public var details: String
    public var prevHash: String
    public var hash: String

    public init(
        seq: Int64, at: String, actor: String, channel: String, host: HostName, kind: String, details: String,
        prevHash: String, hash: String
    ) {
        self.seq = seq
        self.at = at
        self.actor = actor
        self.channel = channel
        self.host = host
        self.kind = kind
        self.details = details
        self.prevHash = prevHash
        self.hash = hash
    }
}

/// The result of `audit verify`.
public struct AuditVerification: Sendable, Equatable {
    public var rows: Int
    /// The first problem found, naming the row; nil when the chain is intact.
    public var problem: String?
    public var lastHash: String
    /// Requests whose stored state was checked against their audit records.
    public var requestsChecked = 0
    /// The newest checkpoint the chain was checked against, if any.
    public var checkpoint: AuditCheckpoint?

    public init(
        rows: Int, problem: String?, lastHash: String, requestsChecked: Int = 0, checkpoint: AuditCheckpoint? = nil
    ) {
        self.rows = rows
        self.problem = problem
        self.lastHash = lastHash
        self.requestsChecked = requestsChecked
        self.checkpoint = checkpoint
    }
}

/// A statement of the audit chain's head (`seq`, `hash`), kept outside the database — one JSON
/// line in the checkpoint file, signed with the supervisor's key — so that deleting the newest
/// audit rows, or rewriting the chain from some row on, no longer verifies.
public struct AuditCheckpoint: Sendable, Equatable, Codable {
    public var seq: Int64
    public var hash: String
    public var at: String
    /// An SSHSIG signature (`ssh-keygen -Y sign -n bosun-audit`) over `message`; nil when no key was available.
    public var signature: String?

    public init(seq: Int64, hash: String, at: String, signature: String? = nil) {
        self.seq = seq
        self.hash = hash
        self.at = at
        self.signature = signature
    }

    /// The exact bytes that are signed.
    public var message: String { "bosun-audit-checkpoint v1\nseq \(seq)\nhash \(hash)\nat \(at)\n" }

    /// One line of the checkpoint file (with its newline).
    public var line: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// Filters for reading the audit log.
public struct AuditFilter: Sendable {
    public var host: HostName?
    public var since: Date?
    public var actor: String?
    public var limit: Int?
    /// Only records of this kind (`vote`, `decision`, `pause`, …).
    public var kind: String?
    /// Only records about this request (its number), its deliveries included.
    public var request: Int64?
    /// Only records about this thread id: steering, pauses, and its requests' records.
    public var thread: ThreadID?

    public init(
        host: HostName? = nil, since: Date? = nil, actor: String? = nil, limit: Int? = nil, kind: String? = nil,
        request: Int64? = nil, thread: ThreadID? = nil
    ) {
        self.host = host
        self.since = since
        self.actor = actor
        self.limit = limit
        self.kind = kind
        self.request = request
        self.thread = thread
    }
}
