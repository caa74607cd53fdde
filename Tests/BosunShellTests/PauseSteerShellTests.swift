import BosunConfig
import BosunCore
import BosunTestSupport
import Foundation
import Testing

@testable import BosunShell
@testable import BosunStore
@testable import BosunSupervisor

/// Pauses and steering from the shell (issue 11), over hosts that are not connected.
@Suite(.serialized, .timeLimit(.minutes(10))) struct PauseSteerShellTests {
    static func fleet() async throws -> InProcessFleet {
        let fixture = try await InProcessFleet.make(hosts: ["web-1", "db-2"])
        let now = Date()
        func save(_ id: ThreadID, _ host: HostName, _ state: ThreadState, hooked: Bool) async throws {
            try await fixture.store.saveThread(
                host: host,
                AgentThread(
                    id: id, agent: .claude, argv: ["claude"], cwd: "/srv", pid: nil, state: state, startedAt: now,
                    lastActivity: now, hookedAt: hooked ? now : nil))
        }
        try await save("3fa2c9d0", "web-1", .running, hooked: true)
        try await save("deadbeef", "web-1", .exited, hooked: true)
        try await save("0000aaaa", "db-2", .running, hooked: false)
        return fixture
    }

    @Test func pausesAreListedAndASecondPauseAllIsRefused() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        #expect(await fixture.run(["pauses"], width: 80).stdout == "no active pauses\n")
        let first = await fixture.run(["pause", "all", "--hard", "incident", "42"], width: 80)
        #expect(first.exit == ExitStatus.partial, "queued for hosts that are away: \(first.stdout)\(first.stderr)")
        let second = await fixture.run(["pause", "all"], width: 80)
        #expect(second.exit == ExitStatus.failure, "\(second.stdout)")
        #expect(second.stderr.contains("already active") && second.stderr.contains("by alice"), "\(second.stderr)")
        // One thread: the reply names the thread, not its host.
        let thread = await fixture.run(["pause", "3fa2", "look", "at", "this"], width: 80)
        #expect(thread.stdout.hasPrefix("web-1/3fa2c9d0: queued"), "\(thread.stdout)\(thread.stderr)")
        let host = await fixture.run(["pause", "host", "db-2"], width: 80)
        #expect(host.stdout.hasPrefix("db-2: queued"), "\(host.stdout)")
        let listed = await fixture.run(["pauses"], width: 200).stdout
        let rows = listed.split(separator: "\n")
        #expect(rows.count == 4, "\(listed)")
        #expect(
            rows.contains {
                $0.hasPrefix("all ") && $0.contains("every host") && $0.contains("hard") && $0.contains("incident 42")
            }, "\(listed)")
        #expect(
            rows.contains {
                $0.hasPrefix("thread") && $0.contains("web-1/3fa2c9d0") && $0.contains("soft") && $0.contains("alice")
            }, "\(listed)")
        #expect(rows.contains { $0.hasPrefix("host") && $0.contains("db-2") }, "\(listed)")
        let json = await fixture.run(["pauses", "--json"], width: 80).stdout.split(separator: "\n")
        #expect(json.count == 3)
        // Resumed: gone from the list, and the reply names the thread.
        let resumed = await fixture.run(["resume", "web-1/3fa2c9d0"], width: 80)
        #expect(resumed.stdout.hasPrefix("web-1/3fa2c9d0: queued"), "\(resumed.stdout)")
        _ = await fixture.run(["resume", "all"], width: 80)
        let after = await fixture.run(["pauses", "-o", "name"], width: 80).stdout
        #expect(after == "db-2\n", "\(after)")
    }

    @Test func exitedAndHooklessThreadsAreRefusedWithTheReason() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        for verb in [["steer"], ["pause"]] {
            let exited = await fixture.run(verb + ["web-1/deadbeef", "stop"], width: 80)
            #expect(exited.exit == ExitStatus.failure && exited.stderr.contains("has exited"), "\(exited.stderr)")
            let hookless = await fixture.run(verb + ["db-2/0000aaaa", "stop"], width: 80)
            #expect(
                hookless.exit == ExitStatus.failure && hookless.stderr.contains("no hook of it has run"),
                "\(hookless.stderr)")
        }
        #expect(try await fixture.store.auditEntries(AuditFilter(limit: 100)).allSatisfy { $0.kind != "steer" })
        // A thread bosun-host launched is reachable before its first hook (its hooks carry its id).
        try await fixture.store.saveThread(
            host: "db-2",
            AgentThread(
                id: "1111bbbb", agent: .claude, argv: ["claude"], cwd: "/srv", pid: 4242, state: .running,
                startedAt: Date(), lastActivity: Date()))
        let launched = await fixture.run(["steer", "db-2/1111bbbb", "hello"], width: 80)
        #expect(launched.exit == ExitStatus.ok, "\(launched.stderr)")
    }

    @Test func aSteerQueuedForAnOfflineHostCanBeCancelledAndAWaitEnds() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        // The host is away: the wait ends without a delivery (exit 3) and says how to take it back.
        let waited = await fixture.run(["steer", "3fa2", "--wait", "0.2", "focus", "on", "tests"], width: 80)
        #expect(waited.exit == ExitStatus.partial && waited.stdout.contains("not delivered within"), "\(waited.stdout)")
        let id = try #require(waited.stdout.split(separator: " ").dropFirst().first.map(String.init))
        let cancelled = await fixture.run(["steer", "cancel", id], width: 80)
        #expect(cancelled.exit == ExitStatus.ok && cancelled.stdout.contains("cancelled"), "\(cancelled.stderr)")
        #expect(await fixture.run(["steer", "cancel", id], width: 80).stderr.contains("already cancelled"))
        #expect(await fixture.run(["steer", "cancel", "nope"], width: 80).stderr.contains("no steering message"))
        #expect(await fixture.run(["show", "web-1/3fa2c9d0"], width: 80).stdout.contains("[cancelled]"))
        #expect(try await fixture.store.undelivered(host: "web-1").isEmpty, "nothing left to send")
        let kinds = try await fixture.store.auditEntries(AuditFilter(limit: 100)).map(\.kind)
        #expect(kinds.contains("steer_cancelled"))
        #expect(try await fixture.store.verifyAudit().problem == nil)
    }
}
