public import BosunCore
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Which `serve` process holds the supervisor link, written when the supervisor says welcome.
public struct LinkMarker: Codable, Sendable, Equatable {
    public var pid: Int32
    public var since: Date
}

/// The policy snapshot the supervisor sent, for local decisions while it is unreachable.
public struct PolicySnapshot: Codable, Sendable, Equatable {
    public var policy: String
    public var labels: [String: String]
    public var receivedAt: Date

    enum CodingKeys: String, CodingKey {
        case policy, labels
        case receivedAt = "received_at"
    }
}

/// What a thread did that later requests cite as evidence.
public struct ThreadEvidence: Codable, Sendable, Equatable {
    public var testsRun: [TestRun] = []

    enum CodingKeys: String, CodingKey { case testsRun = "tests_run" }
}

/// The answer given to one tool call, so the PermissionRequest that follows its PreToolUse reuses it.
public struct CorrelatedAnswer: Codable, Sendable, Equatable {
    public var requestID: RequestID
    public var verdict: DecisionVerdict
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case verdict, reason
        case requestID = "request_id"
    }
}

extension Spool {
    public var requestsDirectory: String { root + "/requests" }
    public var decisionsDirectory: String { root + "/decisions" }
    public var answeredDirectory: String { root + "/answered" }
    public var outboxDirectory: String { root + "/outbox" }
    var evidenceDirectory: String { root + "/evidence" }
    var correlationDirectory: String { root + "/correlation" }
    var linkPath: String { root + "/link.json" }
    var policyPath: String { root + "/policy.json" }

    static let approvalDirectories = ["requests", "decisions", "answered", "outbox", "evidence", "correlation"]

    // MARK: Generic JSON files

    func write<T: Encodable>(_ value: T, to path: String, durable: Bool = true) throws(SpoolError) {
        let data: Data
        do {
            data = try Timestamp.makeEncoder().encode(value)
        } catch {
            throw SpoolError(path: path, message: "cannot encode: \(error)")
        }
        try writeAtomically(data, to: path, durable: durable)
    }

    func read<T: Decodable>(_ type: T.Type, at path: String) -> T? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? Timestamp.makeDecoder().decode(T.self, from: data)
    }

    /// A record the hook path writes or reads (``SpoolRecord``): hand-written JSON, the same
    /// bytes as the Codable overloads above, without `JSONEncoder`/`JSONDecoder` (issue 10).
    func write<T: SpoolRecord>(_ value: T, to path: String, durable: Bool = true) throws(SpoolError) {
        try writeAtomically(value.encoded, to: path, durable: durable)
    }

    func read<T: SpoolRecord>(_ type: T.Type, at path: String) -> T? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? T.decode(data)
    }

    func names(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }
            .sorted()
    }

    // MARK: Requests and decisions

    public func requestPath(_ id: RequestID) -> String { requestsDirectory + "/\(id).json" }
    public func decisionPath(_ id: RequestID) -> String { decisionsDirectory + "/\(id).json" }
    func answeredPath(_ id: RequestID) -> String { answeredDirectory + "/\(id).json" }

    public func readRequest(id: RequestID) -> ApprovalRequest? { read(ApprovalRequest.self, at: requestPath(id)) }
    public func readDecision(id: RequestID) -> Decision? { read(Decision.self, at: decisionPath(id)) }

    /// Requests still waiting for a decision, oldest first.
    public func pendingRequests() -> [ApprovalRequest] {
        names(in: requestsDirectory).compactMap { name in
            let id = RequestID(String(name.dropLast(5)))
            guard !FileManager.default.fileExists(atPath: decisionPath(id)) else { return nil }
            return readRequest(id: id)
        }.sorted { $0.createdAt < $1.createdAt }
    }

    /// Applies a decision from the supervisor once: only for a request still waiting, never twice.
    /// Returns true when it was written.
    @discardableResult
    public func applyDecision(_ decision: Decision) throws(SpoolError) -> Bool {
        let id = decision.requestID
        guard isSafeName(id) else { return false }
        // Under the request's lock: a hook closing the request on its own (``closeLocally``) either
        // finds this decision or has moved the request away before it is checked here.
        let lock = RequestLock(requestPath(id))
        defer { lock.release() }
        guard FileManager.default.fileExists(atPath: requestPath(id)),
            !FileManager.default.fileExists(atPath: decisionPath(id))
        else { return false }
        try write(decision, to: decisionPath(id))
        return true
    }

    /// An exclusive `flock` on a request's file, taken by `serve` applying a decision and by a hook
    /// closing the request on its own, so exactly one of the two answers stands: without it, a
    /// decision checked in just before the hook moved the request away, and written just after
    /// the hook looked for one, was left behind in `decisions/` though the agent was told the
    /// hook's own answer (seen by the fault suite after a bosund kill). The lock is on the file,
    /// not its name, so it holds across the hook's rename into `answered/`.
    ///
    /// Bounded: the spool belongs to the agent's user, and a process of that user holding the lock
    /// must not stall `serve` (which also applies pauses). After ~250 ms of tries (`flock` has no
    /// timeout and nothing to wait on) it goes on without the lock, as before it existed.
    struct RequestLock {
        private let descriptor: Int32

        init(_ path: String) {
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            guard fd >= 0 else {
                descriptor = -1
                return
            }
            for _ in 0..<500 {
                if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                    descriptor = fd
                    return
                }
                guard errno == EWOULDBLOCK || errno == EINTR else { break }
                usleep(500)
            }
            close(fd)
            descriptor = -1
        }

        /// Lets go (closing the descriptor releases the lock).
        func release() {
            if descriptor >= 0 { close(descriptor) }
        }
    }

    /// Where the answer the agent got is already on disk when the hook answers (issue 10: recording
    /// it used to cost an encode and an fsync on every approval, between the decision and the answer).
    public enum AnswerRecord: Sendable, Equatable {
        /// `decisions/ID.json` as `serve` applied it (written and fsynced there) is the answer:
        /// moved into `answered/` by a rename, no new bytes.
        case decisionFile
        /// ``closeLocally(id:answer:)`` wrote it to `answered/` (fsynced) already.
        case written
        /// Anything else (e.g. a truncated action's refusal of the supervisor's allow): written here.
        case write(Decision)
    }

    /// The hook answered: the request leaves the queue (kept under answered/ for the record, with
    /// the answer the agent got, so a supervisor decision arriving later is known not to be applied).
    ///
    /// Order and crash safety: the request leaves `requests/` first, so `serve` can never apply a
    /// second decision to it (``applyDecision(_:)`` needs the request there); then the answer record
    /// is put in place. A crash between the two leaves the supervisor's (durable) decision in
    /// `decisions/`; no report is owed for it, since it is what the agent was told.
    func markAnswered(id: RequestID, record: AnswerRecord) {
        rename(requestPath(id), answeredPath(id))
        switch record {
        case .decisionFile:
            if rename(decisionPath(id), answerPath(id)) != 0 { unlink(decisionPath(id)) }
        case .written:
            unlink(decisionPath(id))
        case .write(let answer):
            try? write(answer, to: answerPath(id))
            unlink(decisionPath(id))
        }
    }

    /// The hook answers on its own: the request leaves the queue first, so `serve` can no longer
    /// apply a supervisor decision to it. Returns a supervisor decision that landed before that
    /// (the answer to give instead), or nil when `answer` stands.
    func closeLocally(id: RequestID, answer: Decision) -> Decision? {
        let lock = RequestLock(requestPath(id))
        rename(requestPath(id), answeredPath(id))
        let landed = readDecision(id: id)
        lock.release()
        if let landed { return landed }
        try? write(answer, to: answerPath(id))
        return nil
    }

    func answerPath(_ id: RequestID) -> String { answeredDirectory + "/\(id).answer" }

    /// For a supervisor decision that was not applied: the answer the hook gave on its own
    /// instead, when it differs, to report to the supervisor as what the agent was told.
    public func answeredLocally(_ decision: Decision) -> LocalDecision? {
        let id = decision.requestID
        guard isSafeName(id), let request = read(ApprovalRequest.self, at: answeredPath(id)),
            let answer = read(Decision.self, at: answerPath(id)),
            answer.verdict != decision.verdict || answer.decidedBy != decision.decidedBy
        else { return nil }
        return LocalDecision(request: request, decision: answer)
    }

    func isSafeName<Kind>(_ id: Identifier<Kind>) -> Bool { isSafeName(id.rawValue) }

    func isSafeName(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
            }
    }

    // MARK: Outbox

    /// Keeps a message until the supervisor acknowledges it: only kinds the message table keeps in
    /// an outbox (`outcome`, `local_decision`, `event`), as `{"type", "body"}` (``OutboxEntry``).
    public func enqueue(_ message: HostMessage, name: String) throws(SpoolError) {
        let path = outboxDirectory + "/\(name).json"
        guard message.kind?.isKeptInOutbox == true else {
            throw SpoolError(path: path, message: "\(message.kind?.name ?? "?") is not kept in an outbox")
        }
        try write(OutboxEntry(message), to: path)
    }

    public func outbox() -> [(name: String, message: HostMessage)] {
        names(in: outboxDirectory).compactMap { name in
            read(OutboxEntry<HostMessage>.self, at: outboxDirectory + "/" + name).map { (name, $0.message) }
        }
    }

    func removeFromOutbox(_ name: String) {
        unlink(outboxDirectory + "/" + name)
    }

    // MARK: Link and policy

    var linkLockPath: String { root + "/link.lock" }

    /// Marks this `serve` as holding a welcomed link: a shared flock on `link.lock`, held until
    /// the process ends (the kernel drops it even on SIGKILL), plus `link.json` for watchers.
    /// Returns the descriptor to keep open.
    func holdLink(pid: Int32) throws(SpoolError) -> Int32 {
        let fd = open(linkLockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .errno(linkLockPath, "cannot open") }
        guard flock(fd, LOCK_SH) == 0 else {
            close(fd)
            throw .errno(linkLockPath, "cannot lock")
        }
        try write(LinkMarker(pid: pid, since: Date()), to: linkPath)
        return fd
    }

    func clearLinkMarker(pid: Int32) {
        if read(LinkMarker.self, at: linkPath)?.pid == pid { unlink(linkPath) }
    }

    /// True when a live `serve` holds a welcomed supervisor link. Asks the lock, not a pid, so it
    /// holds across PID namespaces (containers, sandboxes with their own /proc).
    public func isLinked() -> Bool {
        let fd = open(linkLockPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    func writePolicy(_ snapshot: PolicySnapshot) throws(SpoolError) {
        try write(snapshot, to: policyPath)
    }

    public func readPolicy() -> PolicySnapshot? { read(PolicySnapshot.self, at: policyPath) }

    /// Notes that one of `thread`'s requests waited for a person (the mtime of
    /// `evidence/<thread>.asked`): review analytics then read the changed files of the thread's
    /// next requests (rework), which must be taken before their tools run.
    func markAsked(thread: ThreadID) {
        guard isSafeName(thread) else { return }
        let fd = open(evidenceDirectory + "/\(thread).asked", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        _ = futimens(fd, nil)
        close(fd)
    }

    /// Whether one of `thread`'s requests waited for a person within the last `seconds`.
    func askedRecently(thread: ThreadID, within seconds: Double) -> Bool {
        guard isSafeName(thread) else { return true }
        var info = stat()
        guard stat(evidenceDirectory + "/\(thread).asked", &info) == 0 else { return false }
        return Double(time(nil)) - Double(info.st_mtim.tv_sec) <= seconds
    }

    /// Whether the policy snapshot may require `changed_files` evidence: true unless the snapshot
    /// is there and does not name the field anywhere (read as bytes, not decoded: this runs on
    /// every approval; a missing, unreadable or oversized snapshot counts as "may").
    func policyMayRequireChangedFiles() -> Bool {
        // (String.contains goes through _StringProcessing: 4.7 % of a hook's CPU in perf; a byte scan is not seen.)
        guard let bytes = GitInfo.readBytes(policyPath, maxBytes: 16 << 20), bytes.count >= 2 else { return true }
        let needle = Array("changed_files".utf8)
        return bytes.withUnsafeBufferPointer { haystack in
            guard haystack.count >= needle.count else { return false }
            var index = 0
            let last = haystack.count - needle.count
            while index <= last {
                if haystack[index] == needle[0] {
                    var matched = 1
                    while matched < needle.count && haystack[index + matched] == needle[matched] { matched += 1 }
                    if matched == needle.count { return true }
                }
                index += 1
            }
            return false
        }
    }

    // MARK: Thread evidence and correlation

    func readEvidence(thread: ThreadID) -> ThreadEvidence {
        read(ThreadEvidence.self, at: evidenceDirectory + "/\(thread).json") ?? ThreadEvidence()
    }

    func recordTestRun(thread: ThreadID, _ run: TestRun) throws(SpoolError) {
        var evidence = readEvidence(thread: thread)
        evidence.testsRun.append(run)
        if evidence.testsRun.count > 50 { evidence.testsRun.removeFirst(evidence.testsRun.count - 50) }
        try write(evidence, to: evidenceDirectory + "/\(thread).json")
    }

    func readCorrelation(_ key: String) -> CorrelatedAnswer? {
        read(CorrelatedAnswer.self, at: correlationDirectory + "/\(key).json")
    }

    func writeCorrelation(_ key: String, _ answer: CorrelatedAnswer) throws(SpoolError) {
        // Read by this tool call's later hooks only: not worth an fsync on every approval.
        try write(answer, to: correlationDirectory + "/\(key).json", durable: false)
    }
}

extension Spool {
    /// Removes what no one needs any more: answered requests and correlation records older than
    /// `answeredAge`, delivered-steer markers likewise, and threads that exited longer than
    /// `exitedAge` ago (with their evidence). Returns how many files were removed.
    @discardableResult
    public func prune(now: Date = Date(), answeredAge: TimeInterval = 86400, exitedAge: TimeInterval = 7 * 86400)
        -> Int
    {
        let fm = FileManager.default
        var removed = 0
        func modified(_ path: String) -> Date? {
            (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        }
        for directory in [answeredDirectory, correlationDirectory] {
            for name in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] {
                let path = directory + "/" + name
                if let date = modified(path), now.timeIntervalSince(date) > answeredAge, unlink(path) == 0 {
                    removed += 1
                }
            }
        }
        for thread in readThreads()
        where thread.state == .exited && now.timeIntervalSince(thread.lastActivity) > exitedAge {
            if unlink(threadPath(thread.id)) == 0 { removed += 1 }
            unlink(evidenceDirectory + "/\(thread.id).json")
            unlink(processIdentityPath(thread.id))
            let steer = steerDirectory + "/" + thread.id.rawValue
            for name in (try? fm.contentsOfDirectory(atPath: steer)) ?? [] { unlink(steer + "/" + name) }
            rmdir(steer)
        }
        return removed
    }
}
