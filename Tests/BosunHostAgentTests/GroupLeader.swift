import Foundation

@testable import BosunHostAgent

#if canImport(Glibc)
    import Glibc
#endif

/// A real process leading its own process group, as `run` starts agents. Reaped by
/// ``stopGroupLeader(_:)``.
func spawnGroupLeader() throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
    var pid: pid_t = 0
    let words: [String] = ["/bin/sleep", "60"]
    let argv = words.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let result = posix_spawn(&pid, "/bin/sleep", nil, &attributes, argv, environ)
    guard result == 0 else { throw SpoolError(path: "/bin/sleep", message: "posix_spawn: \(result)") }
    return pid
}

/// Kills and reaps a process from ``spawnGroupLeader()``.
func stopGroupLeader(_ pid: pid_t) {
    kill(pid, SIGKILL)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
}
