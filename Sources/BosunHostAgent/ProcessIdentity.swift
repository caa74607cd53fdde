public import BosunCore
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Who a thread's process is, beyond its pid: a pid can be reused, and one recorded inside a PID
/// namespace names another process outside it. Signals go only to a process whose start time
/// (`/proc/PID/stat` field 22, clock ticks since boot) and PID namespace still match the record.
public struct ProcessIdentity: Codable, Sendable, Equatable {
    public var pid: Int32
    /// Field 22 of `/proc/PID/stat` when the process was recorded.
    public var startTime: UInt64
    /// `readlink /proc/self/ns/pid` of the recorder, e.g. `pid:[4026531836]`.
    public var pidNamespace: String

    public init(pid: Int32, startTime: UInt64, pidNamespace: String) {
        self.pid = pid
        self.startTime = startTime
        self.pidNamespace = pidNamespace
    }

    enum CodingKeys: String, CodingKey {
        case pid
        case startTime = "start_time"
        case pidNamespace = "pid_namespace"
    }

    /// The identity of `pid`, a child of this process, as this process sees it; nil when `/proc`
    /// does not show that child (a `/proc` of another PID namespace).
    public static func ofChild(_ pid: Int32) -> ProcessIdentity? {
        guard let stat = Stat(pid: pid), stat.parent == getpid(), let namespace = currentPIDNamespace() else {
            return nil
        }
        return ProcessIdentity(pid: pid, startTime: stat.startTime, pidNamespace: namespace)
    }

    /// Why `pid` is not this process any more (or cannot be told apart), or nil when it is.
    public func mismatch() -> String? {
        guard let namespace = Self.currentPIDNamespace() else { return "cannot read this process's PID namespace" }
        guard namespace == pidNamespace else {
            return "recorded in PID namespace \(pidNamespace), this process is in \(namespace)"
        }
        guard let stat = Stat(pid: pid) else { return "process \(pid) is gone" }
        guard stat.startTime == startTime else {
            return "process \(pid) started at tick \(stat.startTime), not \(startTime): another process"
        }
        return nil
    }

    static func currentPIDNamespace() -> String? {
        var buffer = [CChar](repeating: 0, count: 128)
        let n = readlink("/proc/self/ns/pid", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The fields of `/proc/PID/stat` this needs.
    struct Stat {
        var state: Character
        var parent: Int32
        var startTime: UInt64

        init?(pid: Int32) {
            guard pid > 0, let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
                return nil
            }
            // The command name (field 2) is parenthesised and may hold spaces or ')': split after the last ')'.
            guard let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
            // fields[0] is field 3 (state), so field N is fields[N - 3].
            guard fields.count > 19, let state = fields[0].first, let parent = Int32(fields[1]),
                let start = UInt64(fields[19])
            else { return nil }
            self.state = state
            self.parent = parent
            self.startTime = start
        }
    }
}

extension Spool {
    var processesDirectory: String { root + "/processes" }

    func processIdentityPath(_ thread: ThreadID) -> String { processesDirectory + "/\(thread).json" }

    public func writeProcessIdentity(_ identity: ProcessIdentity, thread: ThreadID) throws(SpoolError) {
        try write(identity, to: processIdentityPath(thread))
    }

    public func readProcessIdentity(thread: ThreadID) -> ProcessIdentity? {
        read(ProcessIdentity.self, at: processIdentityPath(thread))
    }

    /// Signals the process group a thread's `run` leads, only when the recorded identity still
    /// matches (pid, start time, PID namespace). Returns false, logging why, when it refused.
    @discardableResult
    public func signalThreadGroup(_ thread: AgentThread, _ signal: Int32) -> Bool {
        guard let pid = thread.pid, pid > 0 else { return false }
        guard let identity = readProcessIdentity(thread: thread.id), identity.pid == pid else {
            logRefusal("not signalling thread \(thread.id): no recorded identity for pid \(pid)")
            return false
        }
        if let mismatch = identity.mismatch() {
            logRefusal("not signalling thread \(thread.id): \(mismatch)")
            return false
        }
        return kill(-pid, signal) == 0
    }

    /// Whether a thread's process still runs: false when it is gone or its pid was reused; true
    /// when that cannot be told from here (recorded in another PID namespace).
    func threadProcessAlive(_ thread: AgentThread) -> Bool {
        guard let pid = thread.pid else { return true }
        guard let identity = readProcessIdentity(thread: thread.id), identity.pid == pid else {
            return ServeLoop.isAlive(pid)
        }
        guard identity.pidNamespace == ProcessIdentity.currentPIDNamespace() else { return true }
        guard let stat = ProcessIdentity.Stat(pid: pid), stat.startTime == identity.startTime else { return false }
        return stat.state != "Z" && stat.state != "X"
    }

    private func logRefusal(_ message: String) {
        StandardStream.writeError("bosun-host: \(message)\n")
    }
}
