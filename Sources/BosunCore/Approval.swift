public import FoundationEssentials

/// How far-reaching an action is, lowest to highest (ARCHITECTURE.md §5).
public enum Tier: String, Codable, Sendable, CaseIterable, Comparable {
    /// Operator guidance.
    case steer
    /// Narrow, local, reversible: read commands, focused tests.
    case `continue`
    /// Installs, network, credentials, edits outside the workspace.
    case expand
    /// Push, merge, release, deploy, secrets, infrastructure.
    case commit

    var rank: Int { Tier.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: Tier, rhs: Tier) -> Bool { lhs.rank < rhs.rank }
}

/// What the policy says about an action.
public enum Verdict: String, Codable, Sendable, CaseIterable, Comparable {
    case allow, ask, deny

    /// Strictness order: allow < ask < deny.
    var rank: Int { Verdict.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: Verdict, rhs: Verdict) -> Bool { lhs.rank < rhs.rank }
}

/// How a request ended, as delivered to the host. `expired` is a timeout, never a person's denial.
public enum DecisionVerdict: String, Codable, Sendable, CaseIterable {
    case allow, deny, expired
}

/// A test-like command the thread ran earlier, and how it ended (from PostToolUse).
public struct TestRun: Codable, Sendable, Equatable {
    public var command: String
    public var exitCode: Int32?
    public var at: Date

    public init(command: String, exitCode: Int32?, at: Date) {
        self.command = command
        self.exitCode = exitCode
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case command, at
        case exitCode = "exit_code"
    }
}

/// What a person needs to decide in one sentence. Secrets are redacted on the host before it leaves.
public struct Evidence: Codable, Sendable, Equatable {
    /// The agent's tool: `Bash`, `Edit`, `Write`, `apply_patch`, `mcp__server__tool`, …
    public var tool: String
    /// The exact shell command, for command tools.
    public var command: String?
    /// Files the action reads or writes (Edit/Write targets, patch files).
    public var paths: [String]
    /// What the agent says it is doing (Claude's `description`). JSON key `reason`, as deployed
    /// helpers send it; a tier's `require = ["reason"]` names it too.
    public var purpose: String?
    public var hookEvent: String
    public var agent: AgentKind
    public var sessionID: String?
    public var cwd: String
    public var repo: String?
    public var branch: String?
    public var head: String?
    public var changedFiles: [String]
    public var testsRun: [TestRun]
    /// Derived from the command: writes, deletes, installs, process control…
    public var sideEffects: [String]
    /// Derived: network tools and destinations.
    public var network: [String]
    /// Derived: credential files, tokens, key material referenced.
    public var credentials: [String]
    /// What the agent said it will do next (the end of its transcript's last assistant message,
    /// redacted, at most ~500 characters); absent when the hook had no transcript. Optional on the
    /// wire: hosts that do not send it are still understood.
    public var nextStep: String?

    public init(
        tool: String, command: String? = nil, paths: [String] = [], purpose: String? = nil,
        hookEvent: String = "PreToolUse", agent: AgentKind = .generic, sessionID: String? = nil, cwd: String,
        repo: String? = nil, branch: String? = nil, head: String? = nil, changedFiles: [String] = [],
        testsRun: [TestRun] = [], sideEffects: [String] = [], network: [String] = [], credentials: [String] = [],
        nextStep: String? = nil
    ) {
        self.tool = tool
        self.command = command
        self.paths = paths
        self.purpose = purpose
        self.hookEvent = hookEvent
        self.agent = agent
        self.sessionID = sessionID
        self.cwd = cwd
        self.repo = repo
        self.branch = branch
        self.head = head
        self.changedFiles = changedFiles
        self.testsRun = testsRun
        self.sideEffects = sideEffects
        self.network = network
        self.credentials = credentials
        self.nextStep = nextStep
    }

    enum CodingKeys: String, CodingKey {
        case tool, command, paths, purpose = "reason", agent, cwd, repo, branch, head, network, credentials
        case hookEvent = "hook_event"
        case sessionID = "session_id"
        case changedFiles = "changed_files"
        case testsRun = "tests_run"
        case sideEffects = "side_effects"
        case nextStep = "next_step"
    }

    /// Evidence field names a tier may `require`.
    public static let requirableFields = [
        "reason", "command", "paths", "repo", "branch", "head", "changed_files", "tests_run",
    ]

    /// Which of `required` are absent or empty.
    public func missing(_ required: [String]) -> [String] {
        required.filter { field in
            switch field {
            case "reason": purpose?.isEmpty ?? true
            case "command": command?.isEmpty ?? true
            case "paths": paths.isEmpty
            case "repo": repo == nil
            case "branch": branch == nil
            case "head": head == nil
            case "changed_files": changedFiles.isEmpty
            case "tests_run": testsRun.isEmpty
            default: false
            }
        }
    }
}

/// One approval an agent needs, as the host sends it.
public struct ApprovalRequest: Codable, Sendable, Equatable {
    /// Unique on its host; the supervisor keys requests by (host, id).
    public var id: RequestID
    public var threadID: ThreadID
    public var createdAt: Date
    /// When the hook must have answered the agent.
    public var deadlineAt: Date
    public var evidence: Evidence
    /// The host shortened the action (command or paths) to fit the link: `evidence` shows only its
    /// start. The supervisor must not let policy `allow` a truncated action (at least `ask`).
    public var truncated: Bool
    /// SHA-256 (hex) of the whole action as the host evaluated it, and its length in bytes, when truncated.
    public var actionSHA256: String?
    public var actionBytes: Int?

    public init(
        id: RequestID, threadID: ThreadID, createdAt: Date, deadlineAt: Date, evidence: Evidence,
        truncated: Bool = false,
        actionSHA256: String? = nil, actionBytes: Int? = nil
    ) {
        self.id = id
        self.threadID = threadID
        self.createdAt = createdAt
        self.deadlineAt = deadlineAt
        self.evidence = evidence
        self.truncated = truncated
        self.actionSHA256 = actionSHA256
        self.actionBytes = actionBytes
    }

    enum CodingKeys: String, CodingKey {
        case id, evidence, truncated
        case threadID = "thread_id"
        case createdAt = "created_at"
        case deadlineAt = "deadline_at"
        case actionSHA256 = "action_sha256"
        case actionBytes = "action_bytes"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(RequestID.self, forKey: .id)
        threadID = try container.decode(ThreadID.self, forKey: .threadID)
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        deadlineAt = try container.decode(Date.self, forKey: .deadlineAt)
        evidence = try container.decode(Evidence.self, forKey: .evidence)
        truncated = try container.decodeIfPresent(Bool.self, forKey: .truncated) ?? false
        actionSHA256 = try container.decodeIfPresent(String.self, forKey: .actionSHA256)
        actionBytes = try container.decodeIfPresent(Int.self, forKey: .actionBytes)
    }
}

/// The final answer to a request. Built by the named constructors in `Decision+Deciders.swift`
/// (and `DecisionRule.Ruling.decision` for policy), so each call site says what decided.
public struct Decision: Codable, Sendable, Equatable {
    public var requestID: RequestID
    public var verdict: DecisionVerdict
    public var tier: Tier
    /// The deciding policy rule id, when policy decided.
    public var rule: String?
    /// Shown to the agent (and the model): why.
    public var reason: String
    /// Who or what decided. On the wire and in SQLite it is the string ``DecidedBy/encoded``
    /// (`decided_by`), byte for byte as before it was typed.
    public var decidedBy: DecidedBy
    public var decidedAt: Date

    /// Package-only: Sources build a decision through the named constructors in
    /// `Decision+Deciders.swift` (`scripts/check-imports` keeps it so); tests and benchmarks in this
    /// package may still spell one out field by field.
    package init(
        requestID: RequestID, verdict: DecisionVerdict, tier: Tier, rule: String?, reason: String, decidedBy: DecidedBy,
        decidedAt: Date
    ) {
        self.requestID = requestID
        self.verdict = verdict
        self.tier = tier
        self.rule = rule
        self.reason = reason
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
    }

    enum CodingKeys: String, CodingKey {
        case verdict, tier, rule, reason
        case requestID = "request_id"
        case decidedBy = "decided_by"
        case decidedAt = "decided_at"
    }
}

/// Who or what decided a request. The wire, the database column `decided_by` and the audit log keep
/// the string ``encoded``; `bosun audit verify` compares those strings, so an encoding never changes.
/// Any string decodes (``init(encoded:)``): one no part of Bosun writes is kept as ``unrecognized(_:)``
/// and re-encodes byte for byte. Two values are equal when their encodings are.
public enum DecidedBy: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A policy rule (`default` when no rule matched): `policy:<rule>`.
    case policy(rule: String)
    /// Operators: one who denied, or the quorum of approvers, names sorted: `operator:<a, b>`.
    case operators([String])
    /// The request's time to live ran out on the supervisor: `timeout`.
    case timeout
    /// A supervisor limit refused it: `limit:<kind>`.
    case limit(Limit)
    /// A host's last policy snapshot, with no supervisor link: `host-snapshot:<rule>`.
    case hostSnapshot(rule: String)
    /// What a host claims it answered by itself: `host:<basis>` (deadline, unreachable, agent-gone,
    /// failure, undeliverable, truncated: ``HostBasis``; a host may claim any word).
    case hostClaim(basis: String)
    /// A host's own answer as the supervisor records it: `host:<name>/<basis>`.
    case host(name: String, basis: String)
    /// A string with no known form (a newer or a lying peer, an edited row), kept as it was.
    case unrecognized(String)

    /// The supervisor limits that can decide a request.
    public enum Limit: String, Sendable, CaseIterable {
        case maxPendingRequests = "max_pending_requests"
        /// The store's disk is nearly full.
        case storage
        /// The store refuses writes.
        case store
    }

    /// Why a host answered a request by itself (what its hook claims in `host:<basis>`).
    public enum HostBasis: String, Sendable, CaseIterable {
        /// The hook's deadline passed with no decision (a timeout: verdict `expired`).
        case deadline
        /// No supervisor link within the grace (deny, fail closed).
        case unreachable
        /// The agent went away before a decision (verdict `expired`).
        case agentGone = "agent-gone"
        /// The host helper failed (deny).
        case failure
        /// The request cannot be sent to the supervisor (deny).
        case undeliverable
        /// The supervisor's allow of an action it saw only part of (deny).
        case truncated

        /// What the agent is told: a timeout, never a denial, when nobody could decide in time.
        public var verdict: DecisionVerdict {
            switch self {
            case .deadline, .agentGone: .expired
            case .unreachable, .failure, .undeliverable, .truncated: .deny
            }
        }
    }

    /// The rule id for a policy (or snapshot) decision with no matching rule.
    public static func ruleName(_ rule: String?) -> String { rule ?? "default" }

    /// The stable string form stored as `decided_by`.
    public var encoded: String {
        switch self {
        case .policy(let rule): "policy:\(rule)"
        case .operators(let names): "operator:\(names.joined(separator: ", "))"
        case .timeout: "timeout"
        case .limit(let kind): "limit:\(kind.rawValue)"
        case .hostSnapshot(let rule): "host-snapshot:\(rule)"
        case .hostClaim(let basis): "host:\(basis)"
        case .host(let name, let basis): "host:\(name)/\(basis)"
        case .unrecognized(let text): text
        }
    }

    public var description: String { encoded }

    /// Reads an encoded `decided_by`; nil for a string with no known prefix.
    public init?(parsing text: String) {
        func after(_ prefix: String) -> String? { text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : nil }
        if text == "timeout" {
            self = .timeout
        } else if let rule = after("policy:") {
            self = .policy(rule: rule)
        } else if let names = after("operator:") {
            self = .operators(names.components(separatedBy: ", "))
        } else if let kind = after("limit:") {
            guard let limit = Limit(rawValue: kind) else { return nil }
            self = .limit(limit)
        } else if let rule = after("host-snapshot:") {
            self = .hostSnapshot(rule: rule)
        } else if let rest = after("host:") {
            if let slash = rest.firstIndex(of: "/") {
                self = .host(name: String(rest[..<slash]), basis: String(rest[rest.index(after: slash)...]))
            } else {
                self = .hostClaim(basis: rest)
            }
        } else {
            return nil
        }
    }

    /// Reads any `decided_by` string: the typed form when it has one, else ``unrecognized(_:)``.
    /// `DecidedBy(encoded: s).encoded == s` for every string `s`.
    public init(encoded text: String) {
        self = DecidedBy(parsing: text) ?? .unrecognized(text)
    }

    public init(from decoder: any Decoder) throws {
        self.init(encoded: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(encoded)
    }

    public static func == (lhs: DecidedBy, rhs: DecidedBy) -> Bool { lhs.encoded == rhs.encoded }

    public func hash(into hasher: inout Hasher) { hasher.combine(encoded) }

    /// Whether people decided (an operator's vote or a quorum), not a rule, limit or timer.
    public var isOperator: Bool {
        if case .operators = self { return true }
        return false
    }
}
