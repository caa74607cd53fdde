import BosunCore
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a short helper command and captures its stdout, bounded in time and size.
enum Subprocess {
    /// stdout of `argv` (searched in PATH) if it exits 0 within `timeoutMs`; nil otherwise (it is killed).
    static func capture(_ argv: [String], timeoutMs: Int32, maxBytes: Int = 1 << 20) -> String? {
        guard let program = argv.first else { return nil }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDOUT_FILENO)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let spawned = posix_spawnp(&pid, program, &actions, nil, cArgs, environ)
        close(pipeEnds[1])
        defer { close(pipeEnds[0]) }
        guard spawned == 0 else { return nil }

        let drained = drain(pipeEnds[0], timeoutMs: timeoutMs, maxBytes: maxBytes, stopOverLimit: true)
        if drained.timedOut || drained.overLimit { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard !drained.timedOut, !drained.overLimit, status == 0 else { return nil }
        return String(decoding: drained.output, as: UTF8.self)
    }

    /// Reads `fd` until end of file or `timeoutMs` (poll on the pipe: no timer), keeping at most
    /// `maxBytes`. `overLimit`: more than that arrived; with `stopOverLimit` reading stops there.
    static func drain(_ fd: Int32, timeoutMs: Int32, maxBytes: Int, stopOverLimit: Bool) -> (
        output: Data, timedOut: Bool, overLimit: Bool
    ) {
        var output = Data()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, timeoutMs)) * 1_000_000
        var overLimit = false
        while !(stopOverLimit && overLimit) {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { return (output, true, overLimit) }
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, Int32(clamping: (deadline - now) / 1_000_000 + 1))
            if polled <= 0 { continue }
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            let kept = min(n, max(0, maxBytes - output.count))
            output.append(contentsOf: buffer[0..<kept])
            if kept < n { overLimit = true }
        }
        return (output, false, overLimit)
    }
}

extension Subprocess {
    /// What a finished (or killed) command did.
    struct Result {
        /// Exit status; nil when it could not start, was killed by a signal or timed out.
        var status: Int32?
        /// stdout and stderr together, at most `maxBytes`.
        var output: String
        var timedOut: Bool
    }

    /// Runs `argv` (by absolute path) with stdin from /dev/null and `environment`, capturing stdout and
    /// stderr together; killed (SIGKILL on its process group) after `timeoutMs`.
    static func run(
        _ argv: [String], environment: [String: String], timeoutMs: Int32, maxBytes: Int = 64 * 1024
    ) -> Result {
        guard let program = argv.first else { return Result(status: nil, output: "no command", timedOut: false) }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            return Result(status: nil, output: String(cString: strerror(errno)), timedOut: false)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDERR_FILENO)
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so a timeout stops whatever the command started too.
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cEnvironment.forEach { free($0) } }
        let spawned = posix_spawn(&pid, program, &actions, &attributes, cArgs, cEnvironment)
        close(pipeEnds[1])
        defer { close(pipeEnds[0]) }
        guard spawned == 0 else {
            return Result(status: nil, output: "\(program): \(String(cString: strerror(spawned)))", timedOut: false)
        }

        let drained = drain(pipeEnds[0], timeoutMs: timeoutMs, maxBytes: maxBytes, stopOverLimit: false)
        if drained.timedOut { kill(-pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return Result(
            status: !drained.timedOut && exited ? (status >> 8) & 0xff : nil,
            output: String(decoding: drained.output, as: UTF8.self), timedOut: drained.timedOut)
    }
}

extension Subprocess {
    /// Starts `argv` (by absolute path) in its own session with stdin, stdout and stderr on
    /// /dev/null and every other descriptor closed, and does not wait for it: it outlives the
    /// caller (the hook), holding none of the agent's pipes, the hook's watches or its flocks.
    /// It gets this process's environment (`git` is found in its PATH, as the hook would have).
    /// Returns whether it started.
    @discardableResult
    static func detach(_ argv: [String]) -> Bool {
        guard let program = argv.first else { return false }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        _ = spawnCloseFrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(spawnSetSID | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        return posix_spawn(&pid, program, &actions, &attributes, cArgs, environ) == 0
    }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+) and `POSIX_SPAWN_SETSID` (2.26+),
/// which the Glibc module does not import (they are declared under `__USE_GNU` / `__USE_MISC`).
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func spawnCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
private let spawnSetSID: Int32 = 0x80
