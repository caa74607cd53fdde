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
        guard let path = pausePath(pause) else { return }
        try write(pause, to: path)
        enforcePauses()
    }

    /// Removes the pause a resume names (only that one) and releases threads nothing else holds.
    public func applyResume(_ resume: Resume) {
        let pause = Pause(
            scope: resume.scope, threadID: resume.threadID, breakerID: resume.breakerID, hard: false, reason: "")
        if let path = pausePath(pause) { unlink(path) }
        enforcePauses()
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

    /// Brings every live thread in line with the pauses: paused (soft), stopped (hard, SIGSTOP,
    /// for threads launched by `run`), or running again (SIGCONT). A hard pause on top of a soft
    /// one stops the thread; a thread whose hard pause is gone but a soft one holds continues
    /// (SIGCONT) and stays paused.
    public func enforcePauses() {
        for thread in readThreads() where thread.state != .exited {
            let held = pause(for: thread.id) != nil
            // Only `run` records a pid: the agent leads its own process group.
            let pid = thread.pid.flatMap { $0 > 0 ? $0 : nil }
            var target: ThreadState
            if held {
                target = isHardPaused(thread.id) && pid != nil ? .stopped : .paused
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
            _ = try? updateThread(id: thread.id) {
                $0.state = target
                $0.lastActivity = Date()
            }
        }
    }
}
