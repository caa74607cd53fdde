public import FoundationEssentials

// What the store reads for review analytics (`stats`, `policy suggest|replay`, `export evalset`):
// plain values the store, the fleet and the shell share, like the other records in SupervisorRecords.

/// Which requests review analytics read: created at or after `since`, on `hosts` (nil: every
/// host), of `tier`, and only those `operator` voted on.
public struct AnalyticsQuery: Sendable, Equatable {
    public var since: Date?
    public var hosts: [HostName]?
    public var tier: Tier?
    public var `operator`: String?

    public init(since: Date? = nil, hosts: [HostName]? = nil, tier: Tier? = nil, operator: String? = nil) {
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
    public var host: HostName
    public var threadID: ThreadID
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
        number: Int64, host: HostName, threadID: ThreadID, tool: String, command: String?, agent: String? = nil,
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
    public var host: HostName
    public var id: ThreadID
    public var startedAt: Date
    public var lastActivity: Date

    public init(host: HostName, id: ThreadID, startedAt: Date, lastActivity: Date) {
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
    /// The files of the requests the rework measure reads (`ReviewReport.reworkReads`).
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

    public init(
        record: RequestRecord, reviews: [Review], outcomeExit: Int64?, marks: [RequestMark], decidedAt: Date?
    ) {
        self.record = record
        self.reviews = reviews
        self.outcomeExit = outcomeExit
        self.marks = marks
        self.decidedAt = decidedAt
    }

    /// Whether it waited in the queue for a person (as `AnalyticsRequest.queued`).
    public var queued: Bool {
        if record.channel == "policy" { return false }
        if record.local, reviews.isEmpty, let decidedAt, decidedAt == record.receivedAt { return false }
        return true
    }
}
