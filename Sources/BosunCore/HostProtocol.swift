public import FoundationEssentials

/// Host protocol v1 (ARCHITECTURE.md §3): one JSON object per line,
/// `{"v":1,"type":"…","seq":N,…}` over the exec channel between `bosund` and `bosun-host serve`.
///
/// Numbered messages (`seq > 0`) are acknowledged by an `ack` carrying the same `seq`; acks, pings and
/// pongs travel unnumbered (`seq` 0 on ping/pong, the acknowledged number on an ack).
public enum HostProtocol {
    public static let version = 1
    /// Longest accepted line, newline excluded.
    public static let maxLineBytes = 1 << 20
    /// Deepest nesting of JSON arrays and objects accepted in a line (messages use three levels).
    public static let maxNesting = 32
}

/// Sent by the host right after `serve` starts.
public struct Hello: MessageBody {
    public var hostVersion: String
    public var hostname: String
    public var bootID: String
    public var capabilities: [String]
    /// The host's agent-hook coverage as `bosun-host doctor` sums it up: `claude,codex`, `none`, or
    /// `broken: <first problem>`. Untrusted text, at most ``maxHooksBytes``; absent from older hosts.
    public var hooks: String?
    /// The `bosun-host` release that speaks for the host (`helper_version`); absent from older hosts.
    /// Untrusted text, at most ``maxHelperVersionBytes``.
    public var helperVersion: String?

    public static let maxHelperVersionBytes = 64

    /// Longest accepted `hooks` summary, in UTF-8 bytes (longer is a protocol error).
    public static let maxHooksBytes = 200

    public init(
        hostVersion: String, hostname: String, bootID: String, capabilities: [String], hooks: String? = nil,
        helperVersion: String? = nil
    ) {
        self.hostVersion = hostVersion
        self.hostname = hostname
        self.bootID = bootID
        self.capabilities = capabilities
        self.hooks = hooks
        self.helperVersion = helperVersion
    }

    /// `summary` cut to ``maxHooksBytes`` at a character boundary (for the sender).
    public static func boundedHooks(_ summary: String) -> String {
        guard summary.utf8.count > maxHooksBytes else { return summary }
        var result = ""
        for character in summary {
            guard result.utf8.count + character.utf8.count <= maxHooksBytes - 3 else { break }
            result.append(character)
        }
        return result + "…"
    }

    enum CodingKeys: String, CodingKey {
        case hostname, capabilities, hooks
        case hostVersion = "host_version"
        case bootID = "boot_id"
        case helperVersion = "helper_version"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hostVersion = try container.decode(String.self, forKey: .hostVersion)
        hostname = try container.decode(String.self, forKey: .hostname)
        bootID = try container.decode(String.self, forKey: .bootID)
        capabilities = try container.decode([String].self, forKey: .capabilities)
        hooks = try container.decodeIfPresent(String.self, forKey: .hooks)
        if let hooks, hooks.utf8.count > Self.maxHooksBytes {
            throw DecodingError.dataCorruptedError(
                forKey: .hooks, in: container,
                debugDescription: "longer than \(Self.maxHooksBytes) bytes (\(hooks.utf8.count))")
        }
        helperVersion = try container.decodeIfPresent(String.self, forKey: .helperVersion)
        if let helperVersion, helperVersion.utf8.count > Self.maxHelperVersionBytes {
            throw DecodingError.dataCorruptedError(
                forKey: .helperVersion, in: container,
                debugDescription: "longer than \(Self.maxHelperVersionBytes) bytes")
        }
    }
}

/// Sent by the supervisor in answer to `hello`.
public struct Welcome: MessageBody {
    public var supervisorVersion: String
    /// The current policy as JSON text, kept by the host to decide allow/deny rules while the
    /// supervisor is unreachable. (JSON text, so this module stays free of the policy types.)
    public var policySnapshot: String?
    /// The host's own labels from the supervisor's configuration, for evaluating that snapshot.
    public var labels: [String: String]
    /// Seconds between the supervisor's pings on an idle link: `serve` gives a silent supervisor
    /// up after a few of them (0.1…3600).
    public var keepaliveInterval: Double?

    public init(
        supervisorVersion: String, policySnapshot: String? = nil, labels: [String: String] = [:],
        keepaliveInterval: Double? = nil
    ) {
        self.supervisorVersion = supervisorVersion
        self.policySnapshot = policySnapshot
        self.labels = labels
        self.keepaliveInterval = keepaliveInterval
    }

    enum CodingKeys: String, CodingKey {
        case labels
        case supervisorVersion = "supervisor_version"
        case policySnapshot = "policy_snapshot"
        case keepaliveInterval = "keepalive_interval"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        supervisorVersion = try container.decode(String.self, forKey: .supervisorVersion)
        policySnapshot = try container.decodeIfPresent(String.self, forKey: .policySnapshot)
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        keepaliveInterval = try container.decodeIfPresent(Double.self, forKey: .keepaliveInterval)
        if let interval = keepaliveInterval, !(0.1...3600).contains(interval) {
            throw DecodingError.dataCorruptedError(
                forKey: .keepaliveInterval, in: container, debugDescription: "expected 0.1…3600 seconds")
        }
    }
}

/// What happened when the agent ran a tool (from PostToolUse): evidence of tests run, and metrics.
public struct Outcome: MessageBody {
    public var threadID: ThreadID
    /// The request that approved the call, when one did.
    public var requestID: RequestID?
    public var tool: String
    public var command: String?
    public var exitCode: Int32?
    public var finishedAt: Date

    public init(
        threadID: ThreadID, requestID: RequestID?, tool: String, command: String?, exitCode: Int32?, finishedAt: Date
    ) {
        self.threadID = threadID
        self.requestID = requestID
        self.tool = tool
        self.command = command
        self.exitCode = exitCode
        self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case tool, command
        case threadID = "thread_id"
        case requestID = "request_id"
        case exitCode = "exit_code"
        case finishedAt = "finished_at"
    }
}

/// A request the host decided itself (no supervisor link, or the hook's deadline passed),
/// reported when the link is back so the audit misses nothing.
public struct LocalDecision: MessageBody {
    public var request: ApprovalRequest
    public var decision: Decision

    public init(request: ApprovalRequest, decision: Decision) {
        self.request = request
        self.decision = decision
    }
}

/// A liveness probe; the answer carries the same nonce.
///
/// A ping may let the host hold its answer (`hold_ms`): the host answers after that long (or at
/// once when it has another ping to hold), and its pong says how long it held it (`held_ms`), so
/// the round trip is still measured. The supervisor sends its next ping in the wake-up that reads
/// a held pong: an idle link costs the supervisor one wake-up per interval instead of two (issue
/// 10). A ping without `hold_ms` is answered at once; a host that ignores it (an older helper)
/// answers at once too, and the supervisor then pings on its own timer as before.
public struct Probe: MessageBody {
    public var nonce: UInt64
    /// Ping only: how long the host may wait before it answers (ms).
    public var holdMs: UInt64?
    /// Pong only: how long the host waited before it answered (ms).
    public var heldMs: UInt64?

    /// The longest hold either side accepts (ms): a day, far past any keepalive interval.
    public static let maxHoldMs: UInt64 = 86_400_000

    public init(nonce: UInt64, holdMs: UInt64? = nil, heldMs: UInt64? = nil) {
        self.nonce = nonce
        self.holdMs = holdMs
        self.heldMs = heldMs
    }

    public var validationProblem: String? {
        if let heldMs, heldMs > Self.maxHoldMs { return "held_ms \(heldMs) over \(Self.maxHoldMs)" }
        if let holdMs, holdMs > Self.maxHoldMs { return "hold_ms \(holdMs) over \(Self.maxHoldMs)" }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case nonce
        case holdMs = "hold_ms"
        case heldMs = "held_ms"
    }
}

/// Operator guidance for a thread, delivered at its next hook.
public struct Steer: MessageBody {
    public var messageID: String
    public var threadID: ThreadID
    public var text: String
    /// The operator who wrote it.
    public var from: String

    public init(messageID: String, threadID: ThreadID, text: String, from: String) {
        self.messageID = messageID
        self.threadID = threadID
        self.text = text
        self.from = from
    }

    /// Applied once by its id (a resend is not shown twice).
    public var idempotencyKey: String? { messageID }

    enum CodingKeys: String, CodingKey {
        case text, from
        case messageID = "message_id"
        case threadID = "thread_id"
    }
}

/// Holds one thread, or every thread of the host (`scope` all, under a breaker id).
public struct Pause: MessageBody {
    public enum Scope: String, Codable, Sendable { case thread, all }
    public var scope: Scope
    public var threadID: ThreadID?
    /// For `all`: which breaker this is, so `resume` releases exactly what it paused.
    public var breakerID: String?
    /// Also SIGSTOP the process groups of threads launched with `bosun-host run`.
    public var hard: Bool
    public var reason: String

    public init(scope: Scope, threadID: ThreadID?, breakerID: String?, hard: Bool, reason: String) {
        self.scope = scope
        self.threadID = threadID
        self.breakerID = breakerID
        self.hard = hard
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case scope, hard, reason
        case threadID = "thread_id"
        case breakerID = "breaker_id"
    }
}

/// Releases a `Pause` with the same scope and thread or breaker id.
public struct Resume: MessageBody {
    public var scope: Pause.Scope
    public var threadID: ThreadID?
    public var breakerID: String?

    public init(scope: Pause.Scope, threadID: ThreadID?, breakerID: String?) {
        self.scope = scope
        self.threadID = threadID
        self.breakerID = breakerID
    }

    enum CodingKeys: String, CodingKey {
        case scope
        case threadID = "thread_id"
        case breakerID = "breaker_id"
    }
}

/// Something that happened to a thread on the host (`steer_delivered` with the message id).
public struct ThreadEvent: MessageBody {
    public var threadID: ThreadID
    public var kind: String
    public var text: String

    public init(threadID: ThreadID, kind: String, text: String) {
        self.threadID = threadID
        self.kind = kind
        self.text = text
    }

    enum CodingKeys: String, CodingKey {
        case kind, text
        case threadID = "thread_id"
    }
}

/// The files with uncommitted changes in a request's repository, sent after the request when the
/// hook answered without collecting them (`git status` is a subprocess: issue 10 keeps it off an
/// approval nobody reads). The supervisor only adds them to that host's own request of that thread
/// when it has none yet: evidence is added, a decision is never touched.
public struct ChangedFiles: MessageBody {
    public var requestID: RequestID
    public var threadID: ThreadID
    public var files: [String]

    /// At most this many files, each at most ``maxFileBytes`` (the request's own bounds).
    public static let maxFiles = 500
    public static let maxFileBytes = 4096

    public init(requestID: RequestID, threadID: ThreadID, files: [String]) {
        self.requestID = requestID
        self.threadID = threadID
        self.files = files
    }

    /// Applied once per request.
    public var idempotencyKey: String? { "changed-files-\(requestID)" }

    enum CodingKeys: String, CodingKey {
        case files
        case requestID = "request_id"
        case threadID = "thread_id"
    }
}

// MARK: The message table

/// Every message type of host protocol v1, declared once: its name on the wire, direction and
/// delivery. Each side's enum binds its kinds to body types and cases in its `table`; the codec,
/// the host spool's outbox, the supervisor's link events and its store outbox all derive from it.
/// Adding a message type: a kind here, a case and a table row below, and its handler (the compiler
/// asks for it in `Fleet` or `ServeLoop`).
extension MessageKind {
    // Host → supervisor.
    public static let hello = MessageKind("hello", .hostToSupervisor, .unnumbered)
    public static let thread = MessageKind("thread", .hostToSupervisor, .acknowledged)
    public static let request = MessageKind("request", .hostToSupervisor, .acknowledged)
    public static let outcome = MessageKind("outcome", .hostToSupervisor, .outbox)
    public static let localDecision = MessageKind("local_decision", .hostToSupervisor, .outbox)
    public static let event = MessageKind("event", .hostToSupervisor, .outbox)
    public static let changedFiles = MessageKind("changed_files", .hostToSupervisor, .outbox)
    public static let pong = MessageKind("pong", .hostToSupervisor, .probe)
    // Supervisor → host.
    public static let welcome = MessageKind("welcome", .supervisorToHost, .unnumbered)
    public static let decision = MessageKind("decision", .supervisorToHost, .outbox)
    public static let steer = MessageKind("steer", .supervisorToHost, .outbox)
    public static let pause = MessageKind("pause", .supervisorToHost, .outbox)
    public static let resume = MessageKind("resume", .supervisorToHost, .outbox)
    public static let ping = MessageKind("ping", .supervisorToHost, .probe)
    // Both ways.
    public static let ack = MessageKind("ack", .both, .acknowledgement)
}

/// Everything a host may say to the supervisor.
public enum HostMessage: ProtocolMessage {
    case hello(Hello)
    case thread(AgentThread)
    case request(ApprovalRequest)
    case outcome(Outcome)
    case localDecision(LocalDecision)
    case event(ThreadEvent)
    case changedFiles(ChangedFiles)
    case ack(UInt64)
    case pong(Probe)

    public static let direction = MessageDirection.hostToSupervisor
    public static let table = MessageTable<HostMessage>([
        .body(.hello, Hello.self, Self.hello) { if case .hello(let body) = $0 { body } else { nil } },
        .body(.thread, AgentThread.self, Self.thread) { if case .thread(let body) = $0 { body } else { nil } },
        .body(.request, ApprovalRequest.self, Self.request) { if case .request(let body) = $0 { body } else { nil } },
        .body(.outcome, Outcome.self, Self.outcome) { if case .outcome(let body) = $0 { body } else { nil } },
        .body(.localDecision, LocalDecision.self, Self.localDecision) {
            if case .localDecision(let body) = $0 { body } else { nil }
        },
        .body(.event, ThreadEvent.self, Self.event) { if case .event(let body) = $0 { body } else { nil } },
        .body(.changedFiles, ChangedFiles.self, Self.changedFiles) {
            if case .changedFiles(let body) = $0 { body } else { nil }
        },
        .acknowledgement(.ack, Self.ack) { if case .ack(let seq) = $0 { seq } else { nil } },
        .body(.pong, Probe.self, Self.pong) { if case .pong(let body) = $0 { body } else { nil } },
    ])
}

/// Everything the supervisor may say to a host.
public enum SupervisorMessage: ProtocolMessage {
    case welcome(Welcome)
    case decision(Decision)
    case steer(Steer)
    case pause(Pause)
    case resume(Resume)
    case ack(UInt64)
    case ping(Probe)

    public static let direction = MessageDirection.supervisorToHost
    public static let table = MessageTable<SupervisorMessage>([
        .body(.welcome, Welcome.self, Self.welcome) { if case .welcome(let body) = $0 { body } else { nil } },
        .body(.decision, Decision.self, Self.decision) { if case .decision(let body) = $0 { body } else { nil } },
        .body(.steer, Steer.self, Self.steer) { if case .steer(let body) = $0 { body } else { nil } },
        .body(.pause, Pause.self, Self.pause) { if case .pause(let body) = $0 { body } else { nil } },
        .body(.resume, Resume.self, Self.resume) { if case .resume(let body) = $0 { body } else { nil } },
        .acknowledgement(.ack, Self.ack) { if case .ack(let seq) = $0 { seq } else { nil } },
        .body(.ping, Probe.self, Self.ping) { if case .ping(let body) = $0 { body } else { nil } },
    ])
}

/// A message with its sequence number.
public struct Envelope<Message: Sendable & Equatable>: Sendable, Equatable {
    public var seq: UInt64
    public var message: Message

    public init(seq: UInt64, _ message: Message) {
        self.seq = seq
        self.message = message
    }
}
