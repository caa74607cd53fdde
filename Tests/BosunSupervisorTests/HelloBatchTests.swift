import BosunConfig
import BosunCore
import BosunPolicy
import Foundation
import Logging
import Testing

@testable import BosunStore
@testable import BosunSupervisor

/// A fleet coming up (issue 10): the hellos waiting in the link event queue are stored in one
/// transaction, with each host's link state changes handled in order before its hello.
@Suite struct HelloBatchTests {
    static func hello(_ host: String) -> LinkEvent {
        .message(
            Envelope(
                seq: 0,
                .hello(
                    Hello(
                        hostVersion: "1", hostname: "\(host).example", bootID: "boot-\(host)", capabilities: [],
                        hooks: "claude", helperVersion: "0.1"))),
            hostKey: "SHA256:\(host)")
    }

    static let since = Date(timeIntervalSince1970: 1_000_000)

    /// A bring-up batch takes state changes and hellos at the front and behind other hosts'
    /// events, a host's up to its hello and never past an earlier other event of its own host.
    @Test func theEventQueueBatchesHellosButNeverPastAnEarlierEventOfTheirHost() async {
        let queue = LinkEventQueue()
        queue.push("h1", .state(.up(since: Self.since)))
        queue.push("h1", Self.hello("h1"))
        queue.push("h2", .protocolError("x"))
        queue.push("h2", Self.hello("h2"))
        queue.push("h3", .state(.connecting(attempt: 1)))
        queue.push("h3", .state(.up(since: Self.since)))
        queue.push("h1", .state(.stopped))  // after h1's hello: the next step
        queue.push("h3", Self.hello("h3"))
        queue.finish()
        let steps = await queue.drainedSteps()
        #expect(
            steps == [
                "up h1:up,h1:hello,h3:connecting,h3:up,h3:hello", "h2 x", "up h2:hello,h1:stopped",
            ])
    }

    /// Regression (bring-up of 2,000 hosts > 30 s): each hello was stored in a transaction of its
    /// own, one host after another in the fleet's event consumer. Hellos waiting together are now
    /// one transaction; every record is stored as before.
    @Test func hellosWaitingTogetherAreStoredInOneTransaction() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hello-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let names = (1...50).map { "h\($0)" }
        let store = try Store(path: directory + "/bosun.db")
        let config = SupervisorConfig(
            directory: directory, stateDir: directory, socket: directory + "/bosund.sock", identity: "/nonexistent",
            knownHosts: "/nonexistent",
            hosts: names.map { HostConfig(name: $0, address: "127.0.0.1", port: 1, user: "bosun", labels: [:]) },
            policy: .empty)
        let fleet = Fleet(config: config, store: store, logger: Logger(label: "test"))
        // Every link has come up and said hello before the consumer runs (as at bring-up, when
        // the consumer is behind): they wait in the queue together.
        for name in names {
            fleet.linkEvents.push(HostName(name), .state(.up(since: Self.since)))
            fleet.linkEvents.push(HostName(name), Self.hello(name))
        }
        let before = store.committedWrites
        try await fleet.start()  // two transactions of its own (host table sync, stale threads)
        var records: [HostRecord] = []
        for _ in 0..<30_000 {  // a hang guard (the test process's pool is shared and often blocked)
            records = try await store.hosts()
            if records.count == names.count, records.allSatisfy({ $0.hostname != nil }) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(records.count == names.count)
        for record in records {
            #expect(record.hostname == "\(record.name).example")
            #expect(record.hostKey == "SHA256:\(record.name)")
            #expect(record.bootID == "boot-\(record.name)")
            #expect(record.helperVersion == "0.1")
            #expect(record.lastSeen != nil)
        }
        let hellos = store.committedWrites - before - 2
        #expect(hellos == 1, "\(names.count) hellos stored in \(hellos) transactions")
        let up = try await fleet.hosts().filter { $0.state == .up }.count
        #expect(up == names.count)
        await fleet.stop()
    }
}
