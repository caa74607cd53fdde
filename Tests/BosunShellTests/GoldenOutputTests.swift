import BosunConfig
import BosunCore
import BosunTestSupport
import Foundation
import Testing

@testable import BosunShell
@testable import BosunStore
@testable import BosunSupervisor
@testable import BosunTerminal

/// Golden outputs (issue 11): every listing at 40, 80 and 200 columns and `show` at 40, compared
/// with the files in `Golden/` (see its README; `BOSUN_UPDATE_GOLDEN=1` rewrites them).
@Suite(.serialized, .timeLimit(.minutes(10))) struct GoldenOutputTests {
    static let t0 = Date(timeIntervalSince1970: 1_796_000_000)  // a fixed moment
    static let now = t0.addingTimeInterval(7 * 60)

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Golden")

    /// A fleet of three hosts (never connected), four threads and three requests, all at fixed times.
    static func fleet() async throws -> InProcessFleet {
        let fixture = try await InProcessFleet.make(hosts: ["web-1", "db-2", "build-eu-west-3"])
        // The fleet's start-up timeout pass runs on the real clock: let it finish (nothing waits
        // yet) before requests whose fixed expiry is already past are stored, or it may time them out.
        await fixture.fleet.timeoutTask?.value
        func thread(_ id: String, _ host: HostName, _ cwd: String, _ state: ThreadState, _ title: String, age: Double)
            async throws
        {
            try await fixture.store.saveThread(
                host: host,
                AgentThread(
                    id: ThreadID(id), agent: id.hasPrefix("c") ? .codex : .claude, argv: ["claude"], cwd: cwd,
                    repo: cwd, branch: "fix/\(id.prefix(4))", pid: nil, state: state,
                    startedAt: t0.addingTimeInterval(-age), lastActivity: t0.addingTimeInterval(-age / 4),
                    title: title, sessionID: id))
        }
        try await thread("3fa2c9d0", "web-1", "/srv/app", .running, "fix the flaky date test", age: 3600)
        try await thread("c81d00e7", "web-1", "/srv/app-admin", .waiting, "upgrade left-pad", age: 900)
        try await thread("77b1e0aa", "db-2", "/srv/db/migrations", .paused, "migrate", age: 86400 * 2)
        try await thread(
            "9e4417f2", "build-eu-west-3", "/home/ci/workspace/monorepo/services/payments", .exited, "release notes",
            age: 300)
        func request(
            _ id: RequestID, _ host: HostName, _ thread: ThreadID, _ tier: Tier, _ evidence: Evidence,
            missing: [String] = [],
            age: Double
        ) async throws {
            let created = now.addingTimeInterval(-age)
            _ = try await fixture.store.receiveRequest(
                host: host,
                ApprovalRequest(
                    id: id, threadID: thread, createdAt: created, deadlineAt: created.addingTimeInterval(3600),
                    evidence: evidence),
                policy: PolicyResult(
                    tier: tier, verdict: .ask, rule: "\(tier.rawValue)-ask", ruleSource: "policies/default.toml:12",
                    reason: "asks a person", missingEvidence: missing),
                expiresAt: created.addingTimeInterval(1800), immediate: nil, now: created)
        }
        try await request(
            "r1", "web-1", "c81d00e7", .expand,
            Evidence(
                tool: "Bash", command: "npm install left-pad@1.3.0 --save-exact --registry https://registry.npmjs.org",
                purpose: "the date picker needs left padding for two-digit months", agent: .codex,
                sessionID: "c81d00e7",
                cwd: "/srv/app-admin", repo: "/srv/app-admin", branch: "fix/c81d", head: "0123456789abcdef0123",
                changedFiles: ["src/date.ts", "src/date.test.ts", "package.json"],
                testsRun: [TestRun(command: "npm test -- date", exitCode: 1, at: t0)],
                sideEffects: ["installs packages", "writes package-lock.json"], network: ["registry.npmjs.org"],
                nextStep: "Once left-pad is installed I will rerun npm test -- date and commit the fix."),
            age: 240)
        try await request(
            "r2", "db-2", "77b1e0aa", .commit,
            Evidence(
                tool: "Bash", command: "git push origin fix/77b1", purpose: "ship the migration", agent: .claude,
                cwd: "/srv/db/migrations", repo: "/srv/db/migrations", branch: "fix/77b1"),
            missing: ["tests_run"], age: 60)
        try await request(
            "r3", "web-1", "3fa2c9d0", .expand,
            Evidence(
                tool: "Edit", paths: ["/srv/app/.github/workflows/ci.yml"], purpose: "skip the flaky job",
                agent: .claude, cwd: "/srv/app", repo: "/srv/app", branch: "fix/3fa2"),
            age: 30)
        // Pauses: queued for hosts that never connect (their times are the wall clock's, earlier
        // than the fixed `now`: shown as 0s ago).
        let actor = Operator(name: "alice", role: .admin, channel: "desk")
        _ = try await fixture.fleet.pause(.all, hard: false, reason: "incident 42", by: actor, wait: 0)
        _ = try await fixture.fleet.pause(.host("db-2"), hard: true, reason: "disk full", by: actor, wait: 0)
        return fixture
    }

    static let listings: [[String]] = [
        ["hosts"], ["threads"], ["queue"], ["queue", "--all"], ["audit"], ["threads", "-o", "wide"],
        ["queue", "-o", "narrow"], ["pauses"], ["audit", "--all"],
    ]

    static func run(_ fixture: InProcessFleet, _ argv: [String], width: Int) async -> String {
        let result = await Shell().execute(
            argv,
            in: ShellContext(
                fleet: fixture.fleet, width: width, actor: Operator(name: "alice", role: .admin, channel: "desk"),
                now: now))
        return normalized(result.stdout + result.stderr)
    }

    /// Wall-clock timestamps become a placeholder of the same width.
    static func normalized(_ text: String) -> String {
        text.replacingOccurrences(
            of: #"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"#, with: "YYYY-MM-DDThh:mm:ss.sssZ",
            options: .regularExpression)
    }

    static func check(_ name: String, _ actual: String) throws {
        let file = directory.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["BOSUN_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(actual.utf8).write(to: file)
            return
        }
        let expected = (try? String(contentsOf: file, encoding: .utf8)) ?? "(missing: \(file.path))"
        guard expected != actual else { return }
        let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let b = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var diff = ""
        for index in 0..<max(a.count, b.count) {
            let left = index < a.count ? String(a[index]) : "∅"
            let right = index < b.count ? String(b[index]) : "∅"
            if left != right { diff += "line \(index + 1)\n- \(left)\n+ \(right)\n" }
        }
        Issue.record("\(name) differs from its golden file (BOSUN_UPDATE_GOLDEN=1 to accept):\n\(diff)")
    }

    @Test func everyListingMatchesItsGoldenOutput() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        for argv in Self.listings {
            for width in [40, 80, 200] {
                let name = argv.joined(separator: "_").replacingOccurrences(of: "-", with: "") + "@\(width).txt"
                try Self.check(name, await Self.run(fixture, argv, width: width))
            }
        }
    }

    @Test func showMatchesItsGoldenOutputAtForty() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        for number in 1...3 {
            try Self.check("show_\(number)@40.txt", await Self.run(fixture, ["show", "\(number)"], width: 40))
        }
        try Self.check("show_thread@40.txt", await Self.run(fixture, ["show", "web-1/3fa2c9d0"], width: 40))
    }
}
