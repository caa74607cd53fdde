import BosunCore
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a short helper command and captures its stdout, bounded in time and size.
enum Subprocess {
    /// stdout of `argv` (searched in PATH) if it exits 0 within `timeoutMs`; nil otherwise (it is killed).
    static func capture(_ argv: [String], timeoutMs: Int32, maxBytes: Int = 1 << 20) -> String? {
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
        let spawned = posix_spawnp(&pid, argv[0], &actions, nil, cArgs, environ)
        close(pipeEnds[1])
        defer { close(pipeEnds[0]) }
        guard spawned == 0 else { return nil }

        var output = Data()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, timeoutMs)) * 1_000_000
        var timedOut = false
        while output.count <= maxBytes {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else {
                timedOut = true
                break
            }
            var fd = pollfd(fd: pipeEnds[0], events: Int16(POLLIN), revents: 0)
            let ready = poll(&fd, 1, Int32((deadline - now) / 1_000_000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let n = read(pipeEnds[0], &buffer, buffer.count)
            if n <= 0 { break }
            output.append(contentsOf: buffer[0..<n])
        }
        if timedOut || output.count > maxBytes { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard !timedOut, status == 0 else { return nil }
        return String(decoding: output, as: UTF8.self)
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

        var output = Data()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, timeoutMs)) * 1_000_000
        var timedOut = false
        while true {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else {
                timedOut = true
                break
            }
            var fd = pollfd(fd: pipeEnds[0], events: Int16(POLLIN), revents: 0)
            let waitMs = Int32(clamping: (deadline - now) / 1_000_000 + 1)
            let ready = poll(&fd, 1, waitMs)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let n = read(pipeEnds[0], &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if output.count < maxBytes { output.append(contentsOf: buffer[0..<min(n, maxBytes - output.count)]) }
        }
        if timedOut { kill(-pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return Result(
            status: !timedOut && exited ? (status >> 8) & 0xff : nil,
            output: String(decoding: output, as: UTF8.self), timedOut: timedOut)
    }
}
