import BosunConfig
import BosunCore
import BosunPolicy
import Foundation
import Logging
import Testing

@testable import BosunStore
@testable import BosunSupervisor

/// Hosts' thread records (after a fleet-wide pause every host reports its threads' new states):
/// the records waiting in the link event queue are stored in one transaction — one fsync, not one
/// per host (issue 10) — each host's in its order and within its host's bounds.
@Suite struct ThreadBatchTests {
    static func thread(_ id: String, seq: UInt64 = 0, state: ThreadState = .running) -> LinkEvent {
        let now = Date(timeIntervalSince1970: 1_000_000)
        return .message(
            Envelope(
                seq: seq,
                .thread(
                    AgentThread(
                        id: ThreadID(id), agent: .codex, argv: ["codex"], cwd: "/", pid: nil, state: state,
                        startedAt: now, lastActivity: now))),
            hostKey: "SHA256:k")
    }

    /// A batch takes thread records at the front and behind other hosts' events, never past an
    /// earlier other event of its own host (an ack waiting behind its host's record included).
    @Test func theEventQueueBatchesThreadRecordsButNeverPastAnEarlierEventOfTheirHost() async {
        let queue = LinkEventQueue()
        queue.push("h1", Self.thread("a"))
        queue.push("h2", .protocolError("x"))
        queue.push("h2", Self.thread("b"))
        queue.push("h3", Self.thread("c"))
        queue.push("h1", .ack(5))  // behind h1's record: waits in line
        queue.push("h1", Self.thread("d"))
        queue.finish()
        let steps = await queue.drainedSteps()
        #expect(steps == ["threads h1:a,h3:c", "h2 x", "threads h2:b", "acks h1:5", "threads h1:d"])
    }

    /// Every host's records waiting together go into one transaction; a host over its thread bound
    /// has its excess dropped and counted, the others are stored. Fails before: one transaction
    /// per record (12 here).
    @Test func waitingThreadRecordsAreStoredInOneTransactionWithinEachHostsBounds() async throws {
        let directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("threads-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Store(path: directory + "/bosun.db")
        let names = (1...10).map { "h\($0)" }
        var links = LinkSettings()
        links.maxThreadsPerHost = 2
        let config = SupervisorConfig(
            directory: directory, stateDir: directory, socket: directory + "/bosund.sock", identity: "/nonexistent",
            knownHosts: "/nonexistent", links: links,
            hosts: names.map { HostConfig(name: $0, address: "127.0.0.1", port: 1, user: "bosun", labels: [:]) },
            policy: .empty)
        let fleet = Fleet(config: config, store: store, logger: Logger(label: "test"))
        for name in names { fleet.linkEvents.push(HostName(name), Self.thread("t-\(name)", seq: 1)) }
        // h1 reports a state change of its thread, then two new threads: one over its bound.
        fleet.linkEvents.push("h1", Self.thread("t-h1", seq: 2, state: .paused))
        fleet.linkEvents.push("h1", Self.thread("u-h1", seq: 3))
        fleet.linkEvents.push("h1", Self.thread("v-h1", seq: 4))
        let before = store.committedWrites
        try await fleet.start()  // two transactions of its own (host table sync, stale threads)
        var stored: [ThreadRecord] = []
        for _ in 0..<30_000 {  // a hang guard (the test process's pool is shared and often blocked)
            stored = try await store.threads()
            if stored.count == names.count + 1, try await fleet.hosts().contains(where: { $0.dropped > 0 }) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(stored.count == names.count + 1, "\(stored.map { "\($0.host)/\($0.thread.id)" })")
        #expect(stored.first { $0.thread.id == "t-h1" }?.thread.state == .paused, "h1's records in their order")
        #expect(stored.contains { $0.thread.id == "u-h1" } && !stored.contains { $0.thread.id == "v-h1" })
        let h1 = try #require(try await fleet.hosts().first { $0.name == "h1" })
        #expect(h1.dropped == 1 && (h1.dropReason ?? "").contains("max_threads_per_host"), "\(h1)")
        let writes = store.committedWrites - before - 2
        #expect(writes == 1, "\(names.count + 3) thread records stored in \(writes) transactions")
        await fleet.stop()
    }
}
