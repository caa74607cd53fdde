import BosunCore
import Foundation
import Testing

@testable import BosunHostAgent

#if canImport(Glibc)
    import Glibc
#endif

/// What a pause's acknowledgement waits for on the host (issue 10): the pause file written durably
/// and the agent signalled, and nothing more. The thread files are rewritten after the ack; the
/// ack still means the host will not let the agent proceed (fail closed).
@Suite(.serialized) struct PauseAcknowledgementTests {
    /// Polls `condition` (at most ~5 s): a signal is delivered asynchronously to its target.
    func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    func processState(_ pid: Int32) -> Character? { ProcessIdentity.Stat(pid: pid)?.state }

    /// A spool holding one `run` thread whose agent is the real process `pid`.
    func spool(agent pid: pid_t, thread id: ThreadID) throws -> Spool {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        return try Self.prepared(Spool(root: root), agent: pid, thread: id)
    }

    /// `spool` prepared, holding one `run` thread whose agent is the real process `pid`.
    static func prepared(_ spool: Spool, agent pid: pid_t, thread id: ThreadID) throws -> Spool {
        try spool.prepare()
        try spool.writeThread(
            AgentThread(
                id: id, agent: .codex, argv: ["codex"], cwd: "/", pid: pid, state: .running, startedAt: Date(),
                lastActivity: Date()))
        try spool.writeProcessIdentity(try #require(ProcessIdentity.ofChild(pid)), thread: id)
        return spool
    }

    /// `serve` on its own thread over two pipes, as a link runs it: supervisor lines in, host
    /// messages out.
    final class ServeOverPipes {
        let input: [Int32]
        let output: [Int32]
        let done = DispatchSemaphore(value: 0)

        init(spool: Spool) throws {
            var input: [Int32] = [-1, -1]
            var output: [Int32] = [-1, -1]
            guard pipe(&input) == 0, pipe(&output) == 0 else { throw POSIXError(.EMFILE) }
            (self.input, self.output) = (input, output)
            let (serveInput, serveOutput) = (input[0], output[1])
            let done = done
            Thread.detachNewThread {
                _ = try? ServeLoop(spool: spool, input: serveInput, output: serveOutput, silenceTimeout: 60).run()
                done.signal()
            }
        }

        func send(_ lines: Data) -> Bool { lines.withUnsafeBytes { FileDescriptor.writeAll(input[1], $0) } }

        /// Hands each message `serve` writes to `handle` until it returns true, the pipe ends, or
        /// nothing comes for 60 s (a guard against a hang; the caller's expectations then fail).
        func read(until handle: (HostMessage) -> Bool) {
            let codec = ProtocolCodec()
            var framer = LineFramer()
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                var ready = pollfd(fd: output[0], events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 60_000) > 0 else { return }
                let n = Glibc.read(output[0], &buffer, buffer.count)
                guard n > 0 else { return }
                for item in framer.append(Data(buffer[0..<n])) {
                    guard case .line(let text) = item, let envelope = try? codec.decodeHostMessage(text) else {
                        continue
                    }
                    if handle(envelope.message) { return }
                }
            }
        }

        /// Ends `serve` (end of its input) and closes the pipes once it has returned.
        func stop() {
            close(input[1])
            done.wait()
            for fd in [input[0], output[0], output[1]] { close(fd) }
        }
    }

    func inode(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    @Test func holdingAPauseSignalsAndLeavesTheThreadFileForAfterTheAck() throws {
        let pid = try spawnGroupLeader()
        defer { stopGroupLeader(pid) }
        let spool = try spool(agent: pid, thread: "t1")
        defer { try? FileManager.default.removeItem(atPath: spool.root) }
        let pause = Pause(scope: .all, threadID: nil, breakerID: "b-1", hard: true, reason: "bench")

        let changes = try spool.holdForPause(pause)
        // What the ack promises is already true: the pause is recorded (hooks deny) and the agent
        // is signalled.
        #expect(spool.pause(for: "t1") == pause)
        #expect(eventually { processState(pid) == "T" }, "the agent's process group is stopped")
        // What it no longer waits for: the thread file still says running.
        #expect(changes == [Spool.ThreadStateChange(threadID: "t1", state: .stopped)])
        #expect(spool.readThread(id: "t1")?.state == .running)
        spool.recordThreadStates(changes)
        #expect(spool.readThread(id: "t1")?.state == .stopped)

        // A resend of the same pause rewrites nothing (no second durable write) and changes nothing.
        let path = try #require(spool.pausePath(pause))
        let before = inode(path)
        #expect(try spool.holdForPause(pause).isEmpty)
        #expect(inode(path) == before, "the recorded pause file was not replaced")

        // Resume: continued before the ack, the thread file after it.
        let released = spool.releaseForResume(Resume(scope: .all, threadID: nil, breakerID: "b-1"))
        #expect(spool.pause(for: "t1") == nil)
        #expect(eventually { processState(pid) != "T" }, "continued")
        #expect(released == [Spool.ThreadStateChange(threadID: "t1", state: .running)])
        #expect(spool.readThread(id: "t1")?.state == .stopped)
        spool.recordThreadStates(released)
        #expect(spool.readThread(id: "t1")?.state == .running)
    }

    /// A second pause on top of the first under the same breaker, hard then soft: the soft one
    /// replaces the hard one's file, so the agent is continued and shown paused — not kept stopped
    /// by the replaced file still counted beside the new one.
    @Test func aSoftPauseReplacingAHardOneUnderTheSameBreakerContinuesTheAgent() throws {
        let pid = try spawnGroupLeader()
        defer { stopGroupLeader(pid) }
        let spool = try spool(agent: pid, thread: "t1")
        defer { try? FileManager.default.removeItem(atPath: spool.root) }
        spool.recordThreadStates(
            try spool.holdForPause(Pause(scope: .all, threadID: nil, breakerID: "b-5", hard: true, reason: "r")))
        #expect(eventually { processState(pid) == "T" }, "stopped by the hard pause")
        let soft = Pause(scope: .all, threadID: nil, breakerID: "b-5", hard: false, reason: "r")
        let changes = try spool.holdForPause(soft)
        #expect(changes == [Spool.ThreadStateChange(threadID: "t1", state: .paused)])
        #expect(eventually { processState(pid) != "T" }, "continued: the pause is soft now")
        #expect(spool.pause(for: "t1") == soft)
    }

    @Test func anExitedThreadIsNotRewrittenByALateStateRecord() throws {
        let pid = try spawnGroupLeader()
        defer { stopGroupLeader(pid) }
        let spool = try spool(agent: pid, thread: "t1")
        defer { try? FileManager.default.removeItem(atPath: spool.root) }
        let changes = try spool.holdForPause(
            Pause(scope: .thread, threadID: "t1", breakerID: nil, hard: true, reason: "r"))
        // The agent exits between the ack and the thread-state refresh: `run` records it.
        try spool.updateThread(id: "t1") { $0.state = .exited }
        spool.recordThreadStates(changes)
        #expect(spool.readThread(id: "t1")?.state == .exited)
    }

    /// `serve` end to end over pipes, as a link runs it: when the ack of a hard pause can be read,
    /// the pause is recorded and the agent signalled; the thread's new state is reported after.
    @Test func serveAcknowledgesAPauseThatAlreadyHolds() throws {
        let pid = try spawnGroupLeader()
        defer { stopGroupLeader(pid) }
        let spool = try spool(agent: pid, thread: "t1")
        defer { try? FileManager.default.removeItem(atPath: spool.root) }
        let serve = try ServeOverPipes(spool: spool)
        defer { serve.stop() }
        let codec = ProtocolCodec()
        let pause = Pause(scope: .all, threadID: nil, breakerID: "b-7", hard: true, reason: "r")
        let line = codec.encode(Envelope(seq: 42, SupervisorMessage.pause(pause)))
        #expect(serve.send(line))

        var acknowledged = false
        var reportedStopped = false
        var ackFirst = false
        serve.read { message in
            switch message {
            case .ack(42):
                acknowledged = true
                #expect(spool.pause(for: "t1") == pause, "recorded before the ack")
                #expect(eventually { processState(pid) == "T" }, "signalled before the ack")
            case .thread(let thread) where thread.id == "t1" && thread.state == .stopped:
                reportedStopped = true
                ackFirst = acknowledged
            default: break
            }
            return reportedStopped
        }
        #expect(acknowledged && reportedStopped)
        #expect(ackFirst, "the thread's new state follows the ack")
    }

    /// The pause file is renamed into place from a temporary in pauses/ itself, never from tmp/: a
    /// rename between directories takes the file system's one rename lock, which every writer on
    /// that disk shares (a timeline at 100 hosts showed the pause file's rename waiting 40-160 ms
    /// there while a resume's unlink took under 2 ms). Fails while the temporary is made in tmp/.
    @Test func thePauseFileIsRenamedWithinThePausesDirectory() throws {
        let pid = try spawnGroupLeader()
        defer { stopGroupLeader(pid) }
        let spool = try spool(agent: pid, thread: "t1")
        defer { try? FileManager.default.removeItem(atPath: spool.root) }
        let watch = DirectoryWatch()
        #expect(!watch.isPolling, "inotify is available here")
        try watch.add(spool.tmpDirectory)
        try watch.add(spool.pausesDirectory)
        let pause = Pause(scope: .all, threadID: nil, breakerID: "b-1", hard: true, reason: "rename")

        _ = try spool.holdForPause(pause)

        let events = watch.drain()
        #expect(events.filter { $0.directory == spool.tmpDirectory }.isEmpty, "nothing written in tmp/")
        #expect(events.contains { $0.directory == spool.pausesDirectory && $0.name == "breaker-b-1.json" })
        #expect(spool.pause(for: "t1") == pause)
        let left = try FileManager.default.contentsOfDirectory(atPath: spool.pausesDirectory)
        #expect(left == ["breaker-b-1.json"], "no temporary left behind")
    }

    /// A spool on a small tmpfs this test mounts (root only, as DiskFullTests), holding one `run`
    /// thread, then filled up: the real ENOSPC, not a fake.
    func fullSpool(agent pid: pid_t, thread id: ThreadID) throws -> (Spool, unmount: () -> Void) {
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fullspool-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try #require(Self.run(["/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]) == 0)
        let unmount = {
            _ = Self.run(["/bin/umount", mountPoint])
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        let spool = Spool(root: mountPoint + "/spool")
        do {
            _ = try Self.prepared(spool, agent: pid, thread: id)
            _ = Self.run(["/bin/dd", "if=/dev/zero", "of=\(mountPoint)/filler", "bs=64k"])
        } catch {
            unmount()
            throw error
        }
        return (spool, unmount)
    }

    static func run(_ argv: [String]) -> Int32 {
        var pid: pid_t = 0
        let args = argv.map { strdup($0) } + [nil]
        defer { args.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        guard posix_spawn(&pid, argv[0], &actions, nil, args, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// Fail closed: a hard pause whose file cannot be written (the spool's disk full) still
    /// stops the agent, and the error is thrown (no ack). Fails while the signal follows the
    /// write: the agent kept running.
    @Test func aPauseThatCannotBeWrittenStillStopsTheAgent() throws {
        let pid = try spawnGroupLeader()
        defer { stopGroupLeader(pid) }
        let (spool, unmount) = try fullSpool(agent: pid, thread: "t1")
        defer { unmount() }
        let pause = Pause(scope: .thread, threadID: "t1", breakerID: nil, hard: true, reason: "disk full")

        #expect(throws: SpoolError.self) { try spool.holdForPause(pause) }
        #expect(eventually { processState(pid) == "T" }, "the agent is stopped though the pause is not recorded")
        #expect(spool.pause(for: "t1") == nil, "nothing recorded: the disk is full")
    }

    /// A hard pause of all (breaker b-9, seq 43) sent to `serve` over pipes while its spool's disk
    /// is full, read up to the pong of the ping sent after it (the barrier: it follows whatever the
    /// pause produced); then `body` with the agent's pid, the spool, `serve`, what came back, and a
    /// function that frees the disk.
    func withUnrecordedPause(
        _ body: (pid_t, Spool, ServeOverPipes, _ acks: [UInt64], _ reported: ThreadEvent?, _ free: () throws -> Void)
            throws -> Void
    ) throws {
        let pid = try spawnGroupLeader()
        defer { stopGroupLeader(pid) }
        let (spool, unmount) = try fullSpool(agent: pid, thread: "t1")
        defer { unmount() }
        let serve = try ServeOverPipes(spool: spool)
        defer { serve.stop() }
        let codec = ProtocolCodec()
        var lines = codec.encode(Envelope(seq: 43, SupervisorMessage.pause(Self.unrecorded)))
        lines.append(codec.encode(Envelope(seq: 0, SupervisorMessage.ping(Probe(nonce: 7)))))
        #expect(serve.send(lines))
        var acks: [UInt64] = []
        var reported: ThreadEvent?
        serve.read { message in
            switch message {
            case .ack(let seq): acks.append(seq)
            case .event(let event) where event.kind == "pause_not_recorded": reported = event
            case .pong: return true
            default: break
            }
            return false
        }
        let filler = (spool.root as NSString).deletingLastPathComponent + "/filler"
        try body(pid, spool, serve, acks, reported) { try FileManager.default.removeItem(atPath: filler) }
    }

    static let unrecorded = Pause(scope: .all, threadID: nil, breakerID: "b-9", hard: true, reason: "r")

    /// Sends `message` with `seq` and reads until its ack; returns every ack read.
    func acknowledge(_ serve: ServeOverPipes, _ seq: UInt64, _ message: SupervisorMessage) -> [UInt64] {
        #expect(serve.send(ProtocolCodec().encode(Envelope(seq: seq, message))))
        var acks: [UInt64] = []
        serve.read { message in
            if case .ack(let got) = message { acks.append(got) }
            return acks.contains(seq)
        }
        return acks
    }

    /// `serve` over pipes with its spool's disk full: a hard pause of all is not acknowledged,
    /// the agent is stopped, and the supervisor is told (`pause_not_recorded`), not left to time
    /// out in silence. Fails before: no signal, no message.
    @Test func serveReportsAPauseItCannotRecord() throws {
        try withUnrecordedPause { pid, _, _, acks, reported, _ in
            #expect(acks.isEmpty, "a pause not recorded is not acknowledged")
            #expect(reported?.text.hasPrefix("breaker b-9: ") == true, "\(String(describing: reported))")
            #expect(eventually { processState(pid) == "T" }, "the agent is stopped all the same")
        }
    }

    /// A pause not recorded is written again once the disk has room, and acknowledged then (before
    /// any later control message is handled: order kept). Fails before: it was never acknowledged
    /// on this link (the supervisor reported the host as unreachable until it reconnected).
    @Test func aPauseNotRecordedIsAcknowledgedOnceTheDiskHasRoom() throws {
        try withUnrecordedPause { pid, spool, serve, acks, _, free in
            #expect(acks.isEmpty)
            #expect(eventually { processState(pid) == "T" }, "stopped though not recorded")
            // Room again; the next control message first writes the pause still owed.
            try free()
            let other = Pause(scope: .thread, threadID: "t9", breakerID: nil, hard: false, reason: "r")
            #expect(acknowledge(serve, 44, .pause(other)) == [43, 44], "the pause owed first, then the new one")
            #expect(spool.pause(for: "t1") == Self.unrecorded, "recorded now")
            #expect(eventually { processState(pid) == "T" }, "the agent stays stopped")
        }
    }

    /// A resume takes back a pause that was never recorded: acknowledged as superseded (the
    /// supervisor must not send it again on the next link), never written later, and the agent
    /// continues — though its thread file could not record `stopped` on the full disk. Fails
    /// before: the pause stayed unacknowledged (resent by the supervisor on the next link) and the
    /// agent stayed stopped after the resume.
    @Test func aResumeTakesBackAPauseNotRecorded() throws {
        try withUnrecordedPause { pid, spool, serve, _, _, free in
            #expect(eventually { processState(pid) == "T" }, "stopped though not recorded")
            let resume = Resume(scope: .all, threadID: nil, breakerID: "b-9")
            #expect(acknowledge(serve, 44, .resume(resume)) == [43, 44], "the pause taken back, then the resume")
            #expect(eventually { processState(pid) != "T" }, "the agent continues")
            // Room again: nothing owed is written any more.
            try free()
            let other = Pause(scope: .thread, threadID: "t9", breakerID: nil, hard: false, reason: "r")
            #expect(acknowledge(serve, 45, .pause(other)) == [45])
            #expect(spool.pause(for: "t1") == nil, "the pause taken back is not written")
            #expect(processState(pid) != "T")
        }
    }
}
