import BosunCore
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The process group of the agent `run` supervises, for the signal forwarder (a C handler cannot capture).
nonisolated(unsafe) private var forwardedGroup: pid_t = 0

/// `bosun-host run -- <argv>`: launches an agent as a supervised thread in its own process group,
/// records it in the spool, and marks it exited when it ends.
public struct ThreadLauncher {
    public let spool: Spool
    public let argv: [String]
    public let cwd: String

    public init(spool: Spool, argv: [String], cwd: String = FileManager.default.currentDirectoryPath) {
        self.spool = spool
        self.argv = argv
        self.cwd = cwd
    }

    /// Runs the agent to completion; returns the exit status to pass on (128+N when killed by signal N).
    public func run() throws(SpoolError) -> Int32 {
        try spool.prepare()
        let id = ThreadID(ShortID.make())
        let git = GitInfo.find(from: cwd)
        let now = Date()
        var thread = AgentThread(
            id: id, agent: AgentKind.guess(argv: argv), argv: argv, cwd: cwd, repo: git?.repo, branch: git?.branch,
            state: .running, startedAt: now, lastActivity: now,
            title: argv.joined(separator: " ").prefix(120).description)

        let pid: pid_t
        do {
            pid = try spawnInOwnGroup(argv, threadID: id)
        } catch {
            thread.state = .exited
            thread.exitCode = 127
            try spool.writeThread(thread)
            StandardStream.writeError("bosun-host: cannot start \(argv[0]): \(error.message)\n")
            return 127
        }
        thread.pid = pid
        // The agent's first hook may have written the thread already: keep that it was hooked.
        thread.hookedAt = spool.readThread(id: id)?.hookedAt
        // Signals later go to this process only while pid, start time and PID namespace match
        // (inside a PID namespace the pid means another process to a `serve` outside it).
        if let identity = ProcessIdentity.ofChild(pid) {
            try? spool.writeProcessIdentity(identity, thread: id)
        } else {
            StandardStream.writeError(
                "bosun-host: cannot identify process \(pid) in /proc; hard pauses will not signal it\n")
        }
        // A thread that starts while a pause holds starts paused.
        if spool.pause(for: id) != nil {
            let hard = spool.isHardPaused(id)
            if hard { kill(-pid, SIGSTOP) }
            thread.state = hard ? .stopped : .paused
        }
        try spool.writeThread(thread)

        let status = waitForExit(pid, threadID: id)
        try spool.updateThread(id: id) {
            $0.state = .exited
            $0.exitCode = status
            $0.lastActivity = Date()
        }
        return status
    }

    private func spawnInOwnGroup(_ argv: [String], threadID: ThreadID) throws(SpoolError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        // Whatever launched us may have blocked signals; the agent starts with none blocked.
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTTOU] { sigaddset(&defaultSignals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        // The agent's hooks find this thread and this spool through the environment.
        var environment = ProcessInfo.processInfo.environment
        environment["BOSUN_THREAD_ID"] = threadID.rawValue
        environment["BOSUN_HOST_STATE"] = spool.root
        let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cEnvironment.forEach { free($0) } }
        let result = posix_spawnp(&pid, argv[0], nil, &attributes, cArgs, cEnvironment)
        guard result == 0 else {
            throw SpoolError(path: argv[0], message: String(cString: strerror(result)))
        }
        forwardedGroup = pid
        // Hand the terminal to the agent when run interactively, so a TUI agent can read it.
        signal(SIGTTOU, SIG_IGN)
        if isatty(STDIN_FILENO) != 0 { tcsetpgrp(STDIN_FILENO, pid) }
        var forwarded = sigset_t()
        sigemptyset(&forwarded)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            signal(sig) { received in
                if forwardedGroup > 0 { kill(-forwardedGroup, received) }
            }
            sigaddset(&forwarded, sig)
        }
        // A parent may have launched us with these blocked (Foundation's Process does): unblock them.
        pthread_sigmask(SIG_UNBLOCK, &forwarded, nil)
        return pid
    }

    /// Waits for the agent to exit, meanwhile applying hard pauses to its process group from here:
    /// `run` sees its agent in its own PID namespace, where a `serve` outside cannot (it refuses to
    /// signal a pid whose identity does not match, see ProcessIdentity).
    private func waitForExit(_ pid: pid_t, threadID: ThreadID) -> Int32 {
        let child = ChildExit(pid: pid)
        let watch = DirectoryWatch()
        let watching = (try? watch.add(spool.pausesDirectory)) != nil
        var stopped = spool.pause(for: threadID) != nil && spool.isHardPaused(threadID)
        while child.map({ !$0.exited }) ?? false {
            var fds = [
                pollfd(fd: child?.descriptor ?? -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: watching ? watch.descriptor : -1, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, watching ? watch.boundedTimeout(-1) : -1)
            if ready < 0 && errno != EINTR { break }
            if fds[0].revents != 0 { break }
            guard watching, fds[1].revents != 0 || watch.isPolling, !watch.drain().isEmpty else { continue }
            // The child is not reaped yet (the waiter uses WNOWAIT): its pid is still its own.
            let pauses = spool.readPauses()
            let hard = pauses.holding(threadID) != nil && pauses.isHard(threadID)
            if hard && !stopped {
                kill(-pid, SIGSTOP)
                stopped = true
            } else if !hard && stopped {
                kill(-pid, SIGCONT)
                stopped = false
            }
        }
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, 0)
            if result == pid { break }
            if result < 0 && errno != EINTR { return 255 }
        }
        if isatty(STDIN_FILENO) != 0 { tcsetpgrp(STDIN_FILENO, getpgrp()) }
        let signalNumber = status & 0x7f
        if signalNumber == 0 { return (status >> 8) & 0xff }
        return 128 + signalNumber
    }
}

/// A readable descriptor when a child has exited, without reaping it (`waitid` with WNOWAIT on a
/// helper thread), so its pid cannot be reused while `run` may still signal it.
private final class ChildExit: @unchecked Sendable {
    let descriptor: Int32
    private let write: Int32

    init?(pid: pid_t) {
        var ends: [Int32] = [-1, -1]
        guard Glibc.pipe(&ends) == 0 else { return nil }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        (descriptor, write) = (ends[0], ends[1])
        DetachedThread.start(stackSize: 64 * 1024) { [self] in
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
                if errno != EINTR { break }
            }
            var byte: UInt8 = 1
            _ = Glibc.write(self.write, &byte, 1)
        }
    }

    var exited: Bool {
        var fd = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&fd, 1, 0) > 0
    }
}
