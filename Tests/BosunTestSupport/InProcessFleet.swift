import BosunConfig
public import BosunCore
public import BosunPolicy
public import BosunShell
public import BosunStore
public import BosunSupervisor
public import Foundation
import Logging

/// A supervisor in this process over a real SQLite file, with hosts that never connect: the
/// shell runs exactly as behind the control socket and the front door (`Shell.execute` with a
/// `ShellContext` width), over data full of hostile text.
public struct InProcessFleet: Sendable {
    public let fleet: Fleet
    public let store: Store
    public let directory: String

    public static func make(hosts: [String] = ["h1", "h2"], policy: Policy = .empty) async throws -> InProcessFleet {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shell-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try Store(path: directory + "/bosun.db")
        let config = SupervisorConfig(
            directory: directory, stateDir: directory, socket: directory + "/bosund.sock", identity: "/nonexistent",
            knownHosts: "/nonexistent",
            hosts: hosts.map {
                HostConfig(name: $0, address: "127.0.0.1", port: 1, user: "bosun", labels: ["env": "t"])
            }, policy: policy)
        let fleet = Fleet(config: config, store: store, logger: Logger(label: "test"))
        try await fleet.start()
        return InProcessFleet(fleet: fleet, store: store, directory: directory)
    }

    public func remove() async {
        await fleet.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public func run(_ argv: [String], width: Int?, role: Role = .admin, now: Date = Date()) async -> ShellResult {
        await Shell().execute(
            argv,
            in: ShellContext(
                fleet: fleet, width: width, actor: Operator(name: "alice", role: role, channel: "desk"), now: now))
    }

    public func thread(
        _ id: ThreadID, host: HostName, title: String?, cwd: String, state: ThreadState = .running,
        at now: Date = Date()
    ) async throws {
        try await store.saveThread(
            host: host,
            AgentThread(
                id: id, agent: .claude, argv: ["claude", cwd], cwd: cwd, repo: "/srv/" + cwd, branch: cwd, pid: nil,
                state: state, startedAt: now, lastActivity: now, title: title, sessionID: cwd))
    }

    public func request(_ id: RequestID, host: HostName, thread: ThreadID, command: String, reason: String) async throws
    {
        let now = Date()
        try await fleet.receive(
            ApprovalRequest(
                id: id, threadID: thread, createdAt: now, deadlineAt: now.addingTimeInterval(600),
                evidence: Evidence(
                    tool: "Bash", command: command, purpose: reason, agent: .claude, sessionID: reason, cwd: command,
                    repo: command, branch: reason, changedFiles: [command], sideEffects: [reason])),
            from: host)
    }
}
