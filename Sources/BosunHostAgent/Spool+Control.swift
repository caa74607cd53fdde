public import BosunCore
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

extension Spool {
    var steerDirectory: String { root + "/steer" }
    var pausesDirectory: String { root + "/pauses" }

    static let controlDirectories = ["steer", "pauses", "processes"]

    // MARK: Steering

    /// Keeps a steering message for its thread's next hook (once, whatever the resends).
    public func queueSteer(_ steer: Steer) throws(SpoolError) {
        guard isSafeName(steer.threadID), isSafeName(steer.messageID) else { return }
        let directory = steerDirectory + "/" + steer.threadID.rawValue
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw .errno(directory, "cannot create directory") }
        let delivered = directory + "/.delivered-" + steer.messageID
        guard !FileManager.default.fileExists(atPath: delivered) else { return }
        let existing = names(in: directory).contains { $0.hasSuffix("-\(steer.messageID).json") }
        guard !existing else { return }
        let stamp = CFormat.double("%017.6f", Date().timeIntervalSince1970)
        try write(steer, to: directory + "/\(stamp)-\(steer.messageID).json")
    }

    /// Takes the oldest undelivered steering message of a thread, marking it delivered.
    func takeSteer(thread: ThreadID) -> Steer? {
        let directory = steerDirectory + "/" + thread.rawValue
        for name in names(in: directory) {
            let path = directory + "/" + name
            guard let steer = read(Steer.self, at: path) else {
                unlink(path)
                continue
            }
            _ = FileManager.default.createFile(atPath: directory + "/.delivered-" + steer.messageID, contents: nil)
            unlink(path)
            return steer
        }
        return nil
    }

    // MARK: Pauses

    func pausePath(_ pause: Pause) -> String? {
        switch pause.scope {
        case .thread: pause.threadID.flatMap { isSafeName($0) ? pausesDirectory + "/thread-\($0).json" : nil }
        case .all: pause.breakerID.flatMap { isSafeName($0) ? pausesDirectory + "/breaker-\($0).json" : nil }
        }
    }

    /// Records a pause (idempotent) and applies it to the threads it covers.
    public func applyPause(_ pause: Pause) throws(SpoolError) {
        recordThreadStates(try holdForPause(pause))
    }

    /// What `serve` does before it acknowledges a pause: every covered thread with a recorded
    /// `run` process signalled first (SIGSTOP for a hard pause; the new pause counted as held
    /// whether or not its file is written yet), then the pause file written durably (one fsync;
    /// none when the same pause is already recorded, a resend). From the acknowledgement on no
    /// hook of a covered thread lets its agent proceed, and a hard-paused agent is stopped, even
    /// if the host crashes: what the ack promises. The thread files are left as they are; the
    /// states they should show are returned for `recordThreadStates`, after the acknowledgement.
    ///
    /// Fails closed: when the pause file cannot be written (disk full), the agents are signalled
    /// all the same and their thread files updated, and the error is thrown so that `serve`
    /// reports it instead of acknowledging.
    public func holdForPause(_ pause: Pause) throws(SpoolError) -> [ThreadStateChange] {
        guard let path = pausePath(pause) else { return [] }
        let recorded = read(Pause.self, at: path) == pause
        let changes = signalThreads(adding: recorded ? nil : pause)
        guard !recorded else { return changes }
        do throws(SpoolError) {
            let data: Data
            do {
                data = try Timestamp.makeEncoder().encode(pause)
            } catch {
                throw SpoolError(path: path, message: "cannot encode: \(error)")
            }
            // Renamed within pauses/: a rename from tmp/ waits on the file system's rename lock,
            // which every other writer on it shares (measured: 40-160 ms at 100 hosts on one disk).
            // Synced after the rename: the ack that follows promises the pause survives a crash,
            // so its name must be on disk, not only its bytes.
            try writeAtomically(data, to: path, temporaryDirectory: pausesDirectory, nameDurable: true)
        } catch {
            recordThreadStates(changes)
            throw error
        }
        return changes
    }

    /// Removes the pause a resume names (only that one) and releases threads nothing else holds.
    public func applyResume(_ resume: Resume) {
        recordThreadStates(releaseForResume(resume))
    }

    /// What `serve` does before it acknowledges a resume: the pause file removed and threads
    /// nothing else holds continued (SIGCONT). Returns the thread states to record afterwards.
    public func releaseForResume(_ resume: Resume) -> [ThreadStateChange] {
        let pause = Pause(
            scope: resume.scope, threadID: resume.threadID, breakerID: resume.breakerID, hard: false, reason: "")
        if let path = pausePath(pause) { unlink(path) }
        return signalThreads(resuming: true)
    }

    /// The pause holding a thread, if any: its own, else a host-wide breaker.
    public func pause(for thread: ThreadID) -> Pause? {
        if let own = read(Pause.self, at: pausesDirectory + "/thread-\(thread).json") { return own }
        return names(in: pausesDirectory).filter { $0.hasPrefix("breaker-") }
            .compactMap { read(Pause.self, at: pausesDirectory + "/" + $0) }.first
    }

    /// Whether any pause holding a thread (its own or a breaker) is hard.
    func isHardPaused(_ thread: ThreadID) -> Bool {
        if read(Pause.self, at: pausesDirectory + "/thread-\(thread).json")?.hard == true { return true }
        return names(in: pausesDirectory).filter { $0.hasPrefix("breaker-") }
            .contains { read(Pause.self, at: pausesDirectory + "/" + $0)?.hard == true }
    }

    /// Every pause file, read once: what `pause(for:)` and `isHardPaused` say for each thread.
    struct Pauses {
        var threads: [ThreadID: Pause] = [:]
        var breakers: [Pause] = []

        func holding(_ thread: ThreadID) -> Pause? { threads[thread] ?? breakers.first }

        func isHard(_ thread: ThreadID) -> Bool { threads[thread]?.hard == true || breakers.contains { $0.hard } }
    }

    func readPauses() -> Pauses {
        var pauses = Pauses()
        for name in names(in: pausesDirectory) {
            guard let pause = read(Pause.self, at: pausesDirectory + "/" + name) else { continue }
            if name.hasPrefix("breaker-") {
                pauses.breakers.append(pause)
            } else if name.hasPrefix("thread-") {
                pauses.threads[ThreadID(String(name.dropFirst("thread-".count).dropLast(".json".count)))] = pause
            }
        }
        return pauses
    }

    /// A thread's state to record once the pause or resume that changed it is acknowledged.
    public struct ThreadStateChange: Sendable, Equatable {
        public let threadID: ThreadID
        public let state: ThreadState
    }

    /// Brings every live thread in line with the pauses: paused (soft), stopped (hard, SIGSTOP,
    /// for threads launched by `run`), or running again (SIGCONT). A hard pause on top of a soft
    /// one stops the thread; a thread whose hard pause is gone but a soft one holds continues
    /// (SIGCONT) and stays paused.
    public func enforcePauses() {
        recordThreadStates(signalThreads())
    }

    /// The signalling half of `enforcePauses`: sends the signals now and returns the thread states
    /// to record (reads the pause files once, not once per thread).
    /// `adding`: a pause to count as held though its file is not (yet) written. `resuming`: every
    /// thread nothing holds gets SIGCONT even if its file says it runs (a hard pause on a full
    /// disk stopped it without being able to record `stopped`; a resume must still continue it).
    func signalThreads(adding extra: Pause? = nil, resuming: Bool = false) -> [ThreadStateChange] {
        var pauses = readPauses()
        if let extra {
            switch extra.scope {
            case .thread: if let id = extra.threadID { pauses.threads[id] = extra }
            case .all:
                // It replaces its own file (a hard pause re-sent soft under the same breaker).
                pauses.breakers.removeAll { $0.breakerID == extra.breakerID }
                pauses.breakers.append(extra)
            }
        }
        var changes: [ThreadStateChange] = []
        for thread in readThreads() where thread.state != .exited {
            let held = pauses.holding(thread.id) != nil
            // Only `run` records a pid: the agent leads its own process group.
            let pid = thread.pid.flatMap { $0 > 0 ? $0 : nil }
            if !held, resuming, thread.state == .running, pid != nil {
                signalThreadGroup(thread, SIGCONT)  // identity checked; harmless to a running agent
                continue
            }
            var target: ThreadState
            if held {
                target = pauses.isHard(thread.id) && pid != nil ? .stopped : .paused
            } else {
                guard thread.state == .paused || thread.state == .stopped else { continue }
                target = .running
            }
            guard target != thread.state else { continue }
            if pid != nil {
                // SIGCONT whenever it may be stopped (a hook may have rewritten `stopped` meanwhile).
                // Signalled only while the recorded identity (start time, PID namespace) matches;
                // refused, the thread is held (paused), not shown stopped.
                if target == .stopped {
                    if !signalThreadGroup(thread, SIGSTOP) { target = .paused }
                } else if thread.state == .stopped || target == .running {
                    signalThreadGroup(thread, SIGCONT)
                }
            }
            guard target != thread.state else { continue }
            changes.append(ThreadStateChange(threadID: thread.id, state: target))
        }
        return changes
    }

    /// Writes the states `signalThreads` decided into the thread files (`serve` reports them to
    /// the supervisor as they change). Not fsynced: what makes a pause hold is the pause file and
    /// the signal; a crash that loses these writes (the kernel's or the machine's) also ends the
    /// agents they describe, and a thread that exited is never rewritten.
    public func recordThreadStates(_ changes: [ThreadStateChange]) {
        for change in changes {
            _ = try? updateThread(id: change.threadID, durable: false) {
                guard $0.state != .exited else { return }
                $0.state = change.state
                $0.lastActivity = Date()
            }
        }
    }
}
