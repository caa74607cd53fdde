import BosunCore
import BosunPolicy
public import FoundationEssentials

#if canImport(Glibc)
    public import Glibc
#endif

/// Timing of `bosun-host hook`.
public struct HookSettings: Sendable {
    /// The hook answers by then at the latest; keep it under the agent's hook timeout.
    public var deadline: Double = 270
    /// With no supervisor link, how long an `ask` waits for one before answering deny.
    public var unreachableGrace: Double = 10
    /// A request undecided this long marks its thread `waiting`.
    public var waitingAfter: Double = 0.25
    /// A paused thread's hook holds this long for a resume before answering "paused by operator"
    /// (0: answer at once). Always bounded by `deadline`.
    public var pauseHold: Double = 0
    /// The hook process itself (not a test calling ``HookRunner``): its inotify watch is let go
    /// through a forked child, so the kernel's teardown does not delay the answer (issue 10).
    public var releaseWatchInBackground = false
    /// The helper binary that sends a request's changed files after the hook has answered
    /// (`bosun-host changed-files`, started detached): `/proc/self/exe` in the hook process. Nil
    /// (a test calling ``HookRunner``): they are collected in this process once the answer is known.
    public var followUpExecutable: String?

    public init() {}

    /// `seconds` as a whole number for a reason's text; never traps (NaN is 0, the rest clamped).
    static func wholeSeconds(_ seconds: Double) -> Int {
        seconds.isNaN ? 0 : Int(min(max(seconds, 0), HostCommandLine.maxSeconds))
    }

    /// `BOSUN_HOOK_DEADLINE`, `BOSUN_HOOK_UNREACHABLE_GRACE`, `BOSUN_HOOK_PAUSE_HOLD` (seconds)
    /// override the defaults. A value that is not a number of seconds (negative, not finite) is
    /// ignored; one over ``HostCommandLine/maxSeconds`` is clamped to it (the reasons print whole
    /// seconds: `Int(1e300)` or `Int(.infinity)` would trap).
    public init(environment: [String: String]) {
        self.init()
        func seconds(_ name: String) -> Double? {
            guard let value = environment[name].flatMap(Double.init), value >= 0, !value.isNaN else { return nil }
            return min(value, HostCommandLine.maxSeconds)
        }
        if let value = seconds("BOSUN_HOOK_DEADLINE"), value > 0 { deadline = value }
        if let value = seconds("BOSUN_HOOK_UNREACHABLE_GRACE") { unreachableGrace = value }
        if let value = seconds("BOSUN_HOOK_PAUSE_HOLD") { pauseHold = value }
    }
}

/// `bosun-host hook claude|codex`: one hook call of an agent. Turns approvals into requests that
/// the supervisor decides (or, with no supervisor, the last policy snapshot), keeps the host's
/// thread record current, and always answers before the deadline in the shape the agent honours.
public struct HookRunner {
    public let spool: Spool
    public let agent: HookAgent
    public let settings: HookSettings
    public let environment: [String: String]
    /// Where the answer goes (the agent reads it); watched to notice the agent going away.
    public let output: Int32

    /// Every environment variable a hook reads (``HookSettings``, `BOSUN_THREAD_ID`, the spool's
    /// default root), so the caller can pass just these.
    public static let environmentNames = [
        "BOSUN_HOOK_DEADLINE", "BOSUN_HOOK_UNREACHABLE_GRACE", "BOSUN_HOOK_PAUSE_HOLD", "BOSUN_THREAD_ID",
        "BOSUN_HOST_STATE", "HOME",
    ]

    public init(
        spool: Spool, agent: HookAgent, settings: HookSettings, environment: [String: String],
        output: Int32 = STDOUT_FILENO
    ) {
        self.spool = spool
        self.agent = agent
        self.settings = settings
        self.environment = environment
        self.output = output
    }

    public func run(input: Data) -> HookAnswer {
        let hook: HookInput
        do {
            hook = try HookInput.parse(input, agent: agent)
        } catch {
            // Last-resort deny: exit 2 with the reason on stderr (AGENTS.md).
            return HookAnswer(stdout: "", stderr: "bosun-host: cannot read the hook input: \(error)\n", exitCode: 2)
        }
        do {
            try spool.prepare()
        } catch {
            return HookAnswer(stdout: "", stderr: "bosun-host: spool unusable: \(error)\n", exitCode: 2)
        }
        let threadID = resolveThreadID(hook)
        markHooked(threadID)
        var outcome = HookOutcome.proceed
        switch hook.event {
        case "SessionStart", "UserPromptSubmit":
            touchThread(threadID, hook: hook, state: spool.pause(for: threadID) == nil ? .running : .paused)
        case "Stop":
            touchThread(threadID, hook: hook, state: .idle)
        case "SessionEnd":
            touchThread(threadID, hook: hook, state: .exited)
        case "PostToolUse", "PostToolUseFailure":
            // Claude Code reports a failed tool call as PostToolUseFailure (its `error`), not PostToolUse.
            recordOutcome(hook, threadID: threadID)
        case "PreToolUse", "PermissionRequest":
            if let pause = holdWhilePaused(threadID, hook: hook) {
                // Still held by an operator: answer before the deadline, without asking anyone.
                let reason = pause.reason.isEmpty ? "" : ": \(pause.reason)"
                outcome = .deny(reason: "Bosun: paused by operator\(reason). Wait for a resume before continuing.")
            } else {
                outcome = approve(hook, threadID: threadID)
            }
        default:
            break
        }
        return HookAnswer.render(
            agent: agent, event: hook.event, outcome: outcome, additionalContext: steering(hook, threadID, outcome))
    }

    /// Holds a paused thread's hook up to `pauseHold` for a resume (inotify on the pauses);
    /// returns the pause still in force, or nil when the thread may go on.
    func holdWhilePaused(_ threadID: ThreadID, hook: HookInput) -> Pause? {
        guard let pause = spool.pause(for: threadID) else { return nil }
        touchThread(threadID, hook: hook, state: .paused)
        let until = Date().addingTimeInterval(min(settings.pauseHold, settings.deadline))
        guard settings.pauseHold > 0 else { return pause }
        let watch = DirectoryWatch()
        watch.closesInBackground = settings.releaseWatchInBackground
        guard (try? watch.add(spool.pausesDirectory)) != nil else { return pause }
        while Date() < until {
            _ = watch.wait(timeoutMs: Int32(max(1, min(until.timeIntervalSinceNow * 1000 + 1, 60_000))))
            if spool.pause(for: threadID) == nil { return nil }
        }
        return spool.pause(for: threadID)
    }

    /// The thread's next steering message, when this hook can carry it (AGENTS.md: additionalContext,
    /// or a `block` at Stop). Its delivery is reported to the supervisor.
    func steering(_ hook: HookInput, _ threadID: ThreadID, _ outcome: HookOutcome) -> String? {
        guard HookAnswer.carriesContext(event: hook.event) else { return nil }
        switch outcome {
        case .allow, .proceed: break
        default: return nil
        }
        if hook.event == "Stop" && hook.stopHookActive == true { return nil }
        guard let steer = spool.takeSteer(thread: threadID) else { return nil }
        try? spool.enqueue(
            .event(ThreadEvent(threadID: threadID, kind: "steer_delivered", text: steer.messageID)),
            name: "steer-\(steer.messageID)")
        return "Operator \(steer.from) says: \(steer.text)"
    }

    // MARK: Approvals

    func approve(_ hook: HookInput, threadID: ThreadID) -> HookOutcome {
        let key = hook.correlationKey
        if hook.event == "PermissionRequest", let prior = spool.readCorrelation(key) {
            // The PreToolUse for this same call was already decided: ask a person once.
            return outcome(prior.verdict, reason: prior.reason)
        }
        // Refresh the thread's activity at most every few seconds: each write is a message to the supervisor.
        let recent = spool.readThread(id: threadID).map { $0.lastActivity.timeIntervalSinceNow > -5 } ?? false
        if !recent { touchThread(threadID, hook: hook, state: nil) }
        let now = Date()
        let git = GitInfo.find(from: hook.cwd ?? FileManager.default.currentDirectoryPath)
        var whole = evidence(for: hook, threadID: threadID, git: git, changedFiles: false)
        // `git status` is a subprocess (issue 10): it runs before the answer only when the files
        // may decide or be read at once — no link (the snapshot decides, and reports later), or a
        // policy that may require them. Otherwise the supervisor decides without them; a person
        // who will read them gets them while the request waits (``awaitDecision``), and every
        // other request gets them after the answer, for review analytics (``sendChangedFiles``).
        // Review analytics' rework reads the files of a thread's requests after a person approved
        // one (within 24 h by default): those are taken before the answer too, since files read
        // after it may already hold the tool's own changes.
        var deferred = git.flatMap { git in
            spool.isLinked() && !spool.policyMayRequireChangedFiles()
                && !spool.askedRecently(thread: threadID, within: Self.reworkHorizon)
                ? DeferredFiles(repo: git.repo) : nil
        }
        if deferred == nil, let git { whole.changedFiles = Self.changedFiles(in: git.repo) }
        let id = RequestID(ShortID.make(bytes: 6))
        // What is sent is bounded (a huge tool call must not break the link); the policy snapshot
        // still judges the whole action.
        var request = RequestBounds.bound(
            ApprovalRequest(
                id: id, threadID: threadID, createdAt: now, deadlineAt: now.addingTimeInterval(settings.deadline),
                evidence: whole))
        if request.truncated, let repo = deferred?.repo {
            // A truncated action goes to a person whatever policy says: the files come with it.
            deferred = nil
            whole.changedFiles = Self.changedFiles(in: repo)
            request = RequestBounds.bound(
                ApprovalRequest(
                    id: id, threadID: threadID, createdAt: now, deadlineAt: now.addingTimeInterval(settings.deadline),
                    evidence: whole))
        }
        defer { if let deferred, !deferred.sent, !deferred.handedOff { followUp(request, repo: deferred.repo) } }
        let answered: Answered
        do {
            if request.truncated, let local = snapshotDecision(request, evidence: whole), local.verdict == .deny {
                // The supervisor sees only the start of the action: what the whole is denied for is denied here.
                answered = try decideLocally(request, local)
            } else {
                try spool.write(request, to: spool.requestPath(request.id))
                answered = try awaitDecision(request, whole: whole, threadID: threadID, deferred: &deferred)
            }
        } catch {
            // The agent is told deny: report that answer (best effort) so the supervisor closes the
            // request with it instead of leaving it in the queue for a vote that reaches no one.
            let failure = Decision.hostClaim(
                .failure, request: request.id, reason: "Bosun: the host helper failed (\(error)); denied to be safe",
                at: Date())
            answered = (try? decideLocally(request, failure)) ?? Answered(failure, .write(failure))
        }
        let decision = answered.decision
        try? spool.writeCorrelation(
            key, CorrelatedAnswer(requestID: request.id, verdict: decision.verdict, reason: decision.reason))
        spool.markAnswered(id: request.id, record: answered.record)
        return outcome(decision.verdict, reason: decision.reason)
    }

    func outcome(_ verdict: DecisionVerdict, reason: String) -> HookOutcome {
        switch verdict {
        case .allow: .allow(reason: reason)
        case .deny: .deny(reason: reason)
        case .expired: .timeout(reason: reason)
        }
    }

    /// Waits for the supervisor's decision (inotify on decisions/), deciding locally when there is
    /// no supervisor, and giving up with a timeout at the deadline. Local decisions go to the outbox.
    ///
    /// The link is re-checked when `link.json` changes and when every `serve` has released
    /// `link.lock` (`LinkLossWatch`: also after a SIGKILL). A link lost while waiting lets the
    /// snapshot decide what it can; an `ask` then waits one grace for a new link, not the deadline.
    func awaitDecision(
        _ request: ApprovalRequest, whole: Evidence, threadID: ThreadID, deferred: inout DeferredFiles?
    ) throws(SpoolError) -> Answered {
        let watch = DirectoryWatch()
        watch.closesInBackground = settings.releaseWatchInBackground
        try watch.add(spool.decisionsDirectory)
        try watch.add(spool.root)
        if let repo = deferred?.repo, watch.releasesInBackground, let executable = settings.followUpExecutable {
            // The child that lets the watch go once the hook has exited also sends the files then:
            // no process is started on the answer's path.
            watch.execAfterRelease = followUpArguments(request, repo: repo, executable: executable)
            deferred?.handedOff = true
        }
        let start = Date()
        var linked = spool.isLinked()
        var lossWatch = linked ? LinkLossWatch(spool: spool) : nil
        var snapshotTried = false
        var graceEnd = start.addingTimeInterval(min(settings.unreachableGrace, settings.deadline))
        var markedWaiting = false
        defer { if markedWaiting { setThreadState(threadID, .running) } }
        while true {
            if let decision = spool.readDecision(id: request.id) { return try vetted(decision, for: request) }
            if !linked && !snapshotTried {
                snapshotTried = true
                if let local = snapshotDecision(request, evidence: whole) { return try decideLocally(request, local) }
            }
            let now = Date()
            if now >= request.deadlineAt {
                return try decideLocally(
                    request,
                    .hostClaim(
                        .deadline, request: request.id,
                        reason:
                            "Bosun: no decision within \(HookSettings.wholeSeconds(settings.deadline)) s (timed out waiting; this is not a denial by a person)",
                        at: now))
            }
            if !linked && now >= graceEnd {
                return try decideLocally(
                    request,
                    .hostClaim(
                        .unreachable, request: request.id,
                        reason:
                            "Bosun: supervisor unreachable — no decision within \(HookSettings.wholeSeconds(settings.unreachableGrace)) s; denied (fail closed). Retry later.",
                        at: now))
            }
            if !markedWaiting && now.timeIntervalSince(start) >= settings.waitingAfter {
                markedWaiting = true
                setThreadState(threadID, .waiting)
                spool.markAsked(thread: threadID)
                if let repo = deferred?.repo {
                    // Undecided: a person will read this request, so its changed files follow it now.
                    watch.execAfterRelease = nil
                    deferred = DeferredFiles(repo: repo, sent: true)
                    Self.sendChangedFiles(spool: spool, request: request.id, thread: threadID, repo: repo)
                }
            }
            var wake = linked ? request.deadlineAt : min(graceEnd, request.deadlineAt)
            if !markedWaiting { wake = min(wake, start.addingTimeInterval(settings.waitingAfter)) }
            let (events, agentGone, released) = watch.wait(
                timeoutMs: Int32(max(1, min(wake.timeIntervalSinceNow * 1000 + 1, 60_000))), watching: output,
                extra: lossWatch?.descriptor ?? -1)
            if agentGone {
                // Nobody will read the answer: close the request as a timeout so no one approves it in vain.
                return try decideLocally(
                    request,
                    .hostClaim(
                        .agentGone, request: request.id, reason: "Bosun: the agent went away before a decision",
                        at: Date()))
            }
            if released || !linked || events.contains(where: { $0.name == "link.json" }) {
                let wasLinked = linked
                linked = spool.isLinked()
                if wasLinked && !linked {
                    // Lost while waiting: one grace from now for a new link (which resends the request).
                    graceEnd = max(
                        graceEnd, Date().addingTimeInterval(min(settings.unreachableGrace, settings.deadline)))
                    snapshotTried = false
                    lossWatch = nil
                } else if linked && (released || lossWatch == nil) {
                    lossWatch = LinkLossWatch(spool: spool)
                }
            }
        }
    }

    /// A supervisor decision as the hook may honour it. The supervisor saw only the start of a
    /// truncated action, so its policy cannot allow it; only a person's approval can.
    func vetted(_ decision: Decision, for request: ApprovalRequest) throws(SpoolError) -> Answered {
        guard request.truncated, decision.verdict == .allow, !decision.decidedBy.isOperator else {
            return Answered(decision, .decisionFile)
        }
        let refusal = Decision.hostClaim(
            .truncated, request: request.id, tier: decision.tier, rule: decision.rule,
            reason:
                "Bosun: the action is too large to show in full (\(request.actionBytes ?? 0) bytes, sha256 \(request.actionSHA256 ?? "?")); policy cannot allow what the supervisor did not see, and no person approved it. Denied; split it into smaller steps.",
            at: Date())
        // The supervisor's allow has landed (decideLocally would return it): report the override.
        try spool.enqueue(
            .localDecision(LocalDecision(request: request, decision: refusal)), name: "local-\(request.id)")
        return Answered(refusal, .write(refusal))
    }

    /// What the last policy snapshot says, when it decides allow or deny by itself: the same
    /// ``DecisionRule`` the supervisor applies, on the whole action (the host holds all of it).
    func snapshotDecision(_ request: ApprovalRequest, evidence: Evidence) -> Decision? {
        guard let snapshot = spool.readPolicy(),
            let policy = try? JSONDecoder().decode(Policy.self, from: Data(snapshot.policy.utf8))
        else { return nil }
        return DecisionRule.decide(
            policy: policy, evidence: evidence, labels: snapshot.labels, context: .hostSnapshot
        ).decision(request: request.id, at: Date())
    }

    /// Records a decision the host made itself so the supervisor audits it when the link is back.
    func decideLocally(_ request: ApprovalRequest, _ decision: Decision) throws(SpoolError) -> Answered {
        if let landed = spool.closeLocally(id: request.id, answer: decision) { return Answered(landed, .decisionFile) }
        try spool.enqueue(
            .localDecision(LocalDecision(request: request, decision: decision)), name: "local-\(request.id)")
        return Answered(decision, .written)
    }

    /// The answer the agent gets and where its record already is (``Spool/AnswerRecord``).
    struct Answered {
        var decision: Decision
        var record: Spool.AnswerRecord
        init(_ decision: Decision, _ record: Spool.AnswerRecord) {
            self.decision = decision
            self.record = record
        }
    }

    // MARK: Evidence

    /// After a request of a thread waited for a person, its next requests carry their changed
    /// files for this long (review analytics' default rework window).
    static let reworkHorizon: Double = 24 * 3600

    /// A request sent without its changed files; `sent` once they followed it.
    struct DeferredFiles {
        var repo: String
        var sent = false
        /// Left to the hook's background watch release (``DirectoryWatch/execAfterRelease``).
        var handedOff = false
    }

    /// `git status` of `repo`, redacted.
    static func changedFiles(in repo: String) -> [String] {
        GitInfo.changedFiles(in: repo).map { Redactor.redact($0) }
    }

    /// Collects `repo`'s changed files and queues them for the supervisor, which adds them to the
    /// request (nothing is queued when there are none: the request already says so).
    static func sendChangedFiles(spool: Spool, request: RequestID, thread: ThreadID, repo: String) {
        let files = changedFiles(in: repo).map { RequestBounds.prefix($0, RequestBounds.pathBytes) }
        guard !files.isEmpty else { return }
        // Named to sort after `local-…`: the outbox is sent in name order, after the request it completes.
        try? spool.enqueue(
            .changedFiles(ChangedFiles(requestID: request, threadID: thread, files: files)),
            name: "z-files-\(request)")
    }

    /// `bosun-host changed-files REQUEST THREAD REPO`: ``sendChangedFiles`` for ids the spool
    /// accepts as names and an absolute repository path; anything else is ignored (exit 2).
    public static func changedFilesCommand(spool: Spool, request: String, thread: String, repo: String) -> Int32 {
        guard spool.isSafeName(request), spool.isSafeName(thread), repo.hasPrefix("/"), !repo.contains("\0") else {
            return 2
        }
        sendChangedFiles(spool: spool, request: RequestID(request), thread: ThreadID(thread), repo: repo)
        return 0
    }

    /// After the answer: the changed files of a request answered without them, by a detached
    /// `bosun-host changed-files` (off the agent's wait), or in this process without one.
    func followUp(_ request: ApprovalRequest, repo: String) {
        if let executable = settings.followUpExecutable {
            Subprocess.detach(followUpArguments(request, repo: repo, executable: executable))
        } else {
            Self.sendChangedFiles(spool: spool, request: request.id, thread: request.threadID, repo: repo)
        }
    }

    func followUpArguments(_ request: ApprovalRequest, repo: String, executable: String) -> [String] {
        [executable, "--state", spool.root, "changed-files", request.id.rawValue, request.threadID.rawValue, repo]
    }

    /// The evidence of a request, with its changed files (`git status`).
    func evidence(for hook: HookInput, threadID: ThreadID) -> Evidence {
        let git = GitInfo.find(from: hook.cwd ?? FileManager.default.currentDirectoryPath)
        return evidence(for: hook, threadID: threadID, git: git, changedFiles: true)
    }

    func evidence(for hook: HookInput, threadID: ThreadID, git: GitInfo?, changedFiles: Bool) -> Evidence {
        let cwd = hook.cwd ?? FileManager.default.currentDirectoryPath
        let facts = hook.command.map(CommandAnalysis.analyze)
        var evidence = Redactor.redact(
            Evidence(
                tool: hook.toolName ?? "unknown", command: hook.command, paths: hook.paths,
                purpose: hook.description, hookEvent: hook.event, agent: agent == .claude ? .claude : .codex,
                sessionID: hook.sessionID, cwd: cwd, repo: git?.repo, branch: git?.branch, head: git?.head,
                testsRun: spool.readEvidence(thread: threadID).testsRun, sideEffects: facts?.sideEffects ?? [],
                network: facts?.network ?? [], credentials: facts?.credentials ?? []))
        if changedFiles, let git { evidence.changedFiles = Self.changedFiles(in: git.repo) }
        evidence.nextStep = TranscriptTail.nextStep(path: hook.transcriptPath).map { Redactor.redact($0) }
        return evidence
    }

    func recordOutcome(_ hook: HookInput, threadID: ThreadID) {
        let now = Date()
        let command = hook.command.map { RequestBounds.prefix(Redactor.redact($0), RequestBounds.commandBytes) }
        if let command, TestCommands.isTest(command) {
            try? spool.recordTestRun(thread: threadID, TestRun(command: command, exitCode: hook.exitCode, at: now))
        }
        let outcome = Outcome(
            threadID: threadID, requestID: spool.readCorrelation(hook.correlationKey)?.requestID,
            tool: hook.toolName ?? "unknown", command: command, exitCode: hook.exitCode, finishedAt: now)
        try? spool.enqueue(.outcome(outcome), name: "outcome-\(ShortID.make(bytes: 6))")
        touchThread(threadID, hook: hook, state: nil)
    }

    // MARK: Threads

    /// `BOSUN_THREAD_ID` (set by `bosun-host run`), else one thread per agent session.
    func resolveThreadID(_ hook: HookInput) -> ThreadID {
        if let id = environment["BOSUN_THREAD_ID"], spool.isSafeName(id) { return ThreadID(id) }
        let session = (hook.sessionID ?? "unknown").unicodeScalars.filter {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-")
        }
        return ThreadID("s-" + String(String.UnicodeScalarView(session.prefix(24))))
    }

    /// Creates or updates the thread for this hook call; `state` nil only refreshes activity.
    func touchThread(_ id: ThreadID, hook: HookInput, state: ThreadState?) {
        let now = Date()
        let title = hook.prompt.map { Redactor.redact(String($0.prefix(120))) }
        if var thread = spool.readThread(id: id) {
            if let state { thread.state = state }
            thread.lastActivity = now
            thread.sessionID = hook.sessionID ?? thread.sessionID
            if let title { thread.title = title }
            // An activity refresh (no state change) is not worth an fsync on the approval path.
            try? spool.writeThread(thread, durable: state != nil)
            return
        }
        let cwd = hook.cwd ?? FileManager.default.currentDirectoryPath
        let git = GitInfo.find(from: cwd)
        let thread = AgentThread(
            id: id, agent: agent == .claude ? .claude : .codex, argv: [agent.rawValue], cwd: cwd, repo: git?.repo,
            branch: git?.branch, state: state ?? .running, startedAt: now, lastActivity: now, title: title,
            sessionID: hook.sessionID, hookedAt: now)
        try? spool.writeThread(thread)
    }

    /// Records, once, that a hook passed for this thread (a thread `run` launched shows unsupervised
    /// until then). Threads a hook creates are marked by ``touchThread(_:hook:state:)``.
    func markHooked(_ id: ThreadID) {
        guard let thread = spool.readThread(id: id), thread.hookedAt == nil else { return }
        _ = try? spool.updateThread(id: id) { $0.hookedAt = $0.hookedAt ?? Date() }
    }

    func setThreadState(_ id: ThreadID, _ state: ThreadState) {
        _ = try? spool.updateThread(id: id) {
            $0.state = state
            $0.lastActivity = Date()
        }
    }
}

/// Recognises test commands, whose outcomes become `tests_run` evidence.
enum TestCommands {
    static let patterns: [[String]] = [
        ["pytest"], ["python", "-m", "pytest"], ["python3", "-m", "pytest"], ["go", "test"], ["cargo", "test"],
        ["swift", "test"], ["npm", "test"], ["npm", "run", "test"], ["yarn", "test"], ["pnpm", "test"],
        ["make", "test"], ["make", "check"], ["jest"], ["vitest"], ["ctest"], ["mvn", "test"], ["gradle", "test"],
        ["./gradlew", "test"], ["tox"], ["phpunit"], ["rspec"], ["bundle", "exec", "rspec"], ["bun", "test"],
        ["deno", "test"], ["mix", "test"], ["dotnet", "test"],
    ]

    static func isTest(_ command: String) -> Bool {
        ShellParser.parse(command).commands.contains { argv in
            patterns.contains { pattern in argv.count >= pattern.count && Array(argv.prefix(pattern.count)) == pattern }
        }
    }
}
