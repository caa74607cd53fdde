import BosunCore
import Foundation
import Testing

@testable import BosunHostAgent

#if canImport(Glibc)
    import Glibc
#endif

/// A hard pause signals a thread's process group only while the recorded identity (pid, start
/// time, PID namespace) still names the same process: a reused pid, or one recorded inside a PID
/// namespace, must never stop an unrelated process group.
@Suite(.serialized) struct ProcessIdentityTests {
    func state(_ pid: Int32) -> Character? { ProcessIdentity.Stat(pid: pid)?.state }

    func spool() throws -> Spool {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        let spool = Spool(root: root)
        try spool.prepare()
        return spool
    }

    func thread(_ id: ThreadID, pid: Int32) -> AgentThread {
        AgentThread(
            id: id, agent: .codex, argv: ["codex"], cwd: "/", pid: pid, state: .running, startedAt: Date(),
            lastActivity: Date())
    }

    func hardPause(_ id: ThreadID) -> Pause {
        Pause(scope: .thread, threadID: id, breakerID: nil, hard: true, reason: "t")
    }

    @Test func aWrongStartTimeMeansAnotherProcessAndNoSignal() throws {
        let spool = try spool()
        defer { try? FileManager.default.removeItem(atPath: spool.root) }
        let pid = try spawnGroupLeader()
        defer { stopGroupLeader(pid) }
        let real = try #require(ProcessIdentity.ofChild(pid))
        // The record is of an earlier process that had this pid: one tick off is another process.
        var stale = real
        stale.startTime += 1
        try spool.writeThread(thread("reused", pid: pid))
        try spool.writeProcessIdentity(stale, thread: "reused")
        try spool.applyPause(hardPause("reused"))
        #expect(spool.readThread(id: "reused")?.state == .paused, "the thread is still marked paused")
        #expect(state(pid) != "T", "the unrelated process must not be stopped")
        #expect(!spool.threadProcessAlive(spool.readThread(id: "reused") ?? thread("reused", pid: pid)))

        // Recorded in another PID namespace: the pid means nothing here.
        var foreign = real
        foreign.pidNamespace = "pid:[1]"
        try spool.writeThread(thread("namespaced", pid: pid))
        try spool.writeProcessIdentity(foreign, thread: "namespaced")
        try spool.applyPause(hardPause("namespaced"))
        #expect(state(pid) != "T", "a pid recorded in another PID namespace is not signalled")

        // No identity recorded at all (a record from before): no signal either.
        try spool.writeThread(thread("unknown", pid: pid))
        try spool.applyPause(hardPause("unknown"))
        #expect(state(pid) != "T")
    }

    @Test func theMatchingIdentityIsStoppedAndContinued() throws {
        let spool = try spool()
        defer { try? FileManager.default.removeItem(atPath: spool.root) }
        let pid = try spawnGroupLeader()
        defer { stopGroupLeader(pid) }
        try spool.writeThread(thread("mine", pid: pid))
        try spool.writeProcessIdentity(try #require(ProcessIdentity.ofChild(pid)), thread: "mine")
        #expect(spool.threadProcessAlive(try #require(spool.readThread(id: "mine"))))
        try spool.applyPause(hardPause("mine"))
        var stopped = false
        for _ in 0..<500 where !stopped {
            stopped = state(pid) == "T"
            if !stopped { usleep(10_000) }
        }
        #expect(stopped, "the thread's own process group is stopped")
        spool.applyResume(Resume(scope: .thread, threadID: "mine", breakerID: nil))
        var running = false
        for _ in 0..<500 where !running {
            running = state(pid) == "S" || state(pid) == "R"
            if !running { usleep(10_000) }
        }
        #expect(running, "and continued on resume")
    }

    @Test func statParsingSurvivesParenthesesInTheCommandName() throws {
        // Field 2 may contain spaces and ')': fields are counted after the last ')'.
        let stat = try #require(ProcessIdentity.Stat(pid: getpid()))
        #expect(stat.startTime > 0)
        #expect(stat.parent == getppid())
    }
}
