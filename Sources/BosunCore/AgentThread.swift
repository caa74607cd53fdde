public import FoundationEssentials

/// The lifecycle state of an agent thread as the host reports it. `paused` is a soft pause (its
/// hooks answer "paused by operator"); `stopped` is a hard pause that took effect: the host
/// SIGSTOPped the thread's process group (threads launched by `bosun-host run`).
public enum ThreadState: String, Codable, Sendable, CaseIterable {
    case running, waiting, paused, stopped, idle, exited
}

/// Which agent a thread runs, guessed from its command line or learnt from its hooks.
public enum AgentKind: String, Codable, Sendable, CaseIterable {
    case codex, claude, generic

    /// Guesses the agent from an argv: the basename of the first word that is not an interpreter or `env`.
    public static func guess(argv: [String]) -> AgentKind {
        let wrappers: Set<String> = ["env", "node", "npx", "python", "python3", "bash", "sh", "nice", "nohup"]
        for word in argv {
            if word.contains("=") || word.hasPrefix("-") { continue }
            // A script run by an interpreter (node /opt/claude-code/cli.js) is named by its path.
            let components = word.lowercased().split(separator: "/")
            if components.contains(where: { $0.hasPrefix("codex") }) { return .codex }
            if components.contains(where: { $0.hasPrefix("claude") }) { return .claude }
            if !wrappers.contains(components.last.map(String.init) ?? "") { return .generic }
        }
        return .generic
    }
}

/// One agent thread on one host: an agent process (or session) the host helper tracks.
public struct AgentThread: Codable, Sendable, Equatable {
    public var id: ThreadID
    public var agent: AgentKind
    public var argv: [String]
    public var cwd: String
    public var repo: String?
    public var branch: String?
    public var pid: Int32?
    public var state: ThreadState
    public var startedAt: Date
    public var lastActivity: Date
    public var title: String?
    public var sessionID: String?
    public var exitCode: Int32?
    /// When an agent hook first passed through `bosun-host hook` for this thread. A running thread
    /// without it (launched by `bosun-host run`, no hook yet) is unsupervised: its tool calls do
    /// not reach the policy.
    public var hookedAt: Date?

    public init(
        id: ThreadID, agent: AgentKind, argv: [String], cwd: String, repo: String? = nil, branch: String? = nil,
        pid: Int32? = nil, state: ThreadState, startedAt: Date, lastActivity: Date, title: String? = nil,
        sessionID: String? = nil, exitCode: Int32? = nil, hookedAt: Date? = nil
    ) {
        self.id = id
        self.agent = agent
        self.argv = argv
        self.cwd = cwd
        self.repo = repo
        self.branch = branch
        self.pid = pid
        self.state = state
        self.startedAt = startedAt
        self.lastActivity = lastActivity
        self.title = title
        self.sessionID = sessionID
        self.exitCode = exitCode
        self.hookedAt = hookedAt
    }

    /// Running, yet no hook has ever passed for it: nothing it does goes through the policy.
    public var isUnsupervised: Bool { state == .running && hookedAt == nil }

    enum CodingKeys: String, CodingKey {
        case id, agent, argv, cwd, repo, branch, pid, state, title
        case startedAt = "started_at"
        case lastActivity = "last_activity"
        case sessionID = "session_id"
        case exitCode = "exit_code"
        case hookedAt = "hooked_at"
    }
}
