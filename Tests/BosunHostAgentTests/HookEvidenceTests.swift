import BosunCore
import BosunPolicy
import Foundation
import Testing

@testable import BosunHostAgent

/// Evidence a hook collects (issue 10): git facts read from `.git` without a subprocess and safely
/// on a hostile repository; the changed files (`git status`, a subprocess) only when a person may
/// read them. Real git repositories in temporary directories, a real spool and the real `HookRunner`.
@Suite struct HookEvidenceTests {
    struct Scratch {
        let root: String
        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("evidence-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    struct GitFailed: Error {
        let arguments: [String]
        let status: Int32
    }

    @discardableResult
    static func git(_ arguments: [String], in directory: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"]
            + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GitFailed(arguments: arguments, status: process.terminationStatus)
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A repository with one commit on `main` and one modified, uncommitted file.
    static func dirtyRepo(in scratch: Scratch) throws -> String {
        let repo = scratch.root + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        try git(["init", "-q"], in: repo)
        try "one\n".write(toFile: repo + "/a.txt", atomically: true, encoding: .utf8)
        try git(["add", "a.txt"], in: repo)
        try git(["commit", "-q", "-m", "one"], in: repo)
        try "two\n".write(toFile: repo + "/a.txt", atomically: true, encoding: .utf8)
        return repo
    }

    func runner(policy: Policy?, in scratch: Scratch) throws -> HookRunner {
        let spool = Spool(root: scratch.root + "/spool")
        try spool.prepare()
        if let policy {
            let text = String(decoding: try JSONEncoder().encode(policy), as: UTF8.self)
            try spool.writePolicy(PolicySnapshot(policy: text, labels: [:], receivedAt: Date()))
        }
        return HookRunner(spool: spool, agent: .claude, settings: HookSettings(), environment: [:])
    }

    /// Claude Code reports a failed tool call as PostToolUseFailure; its outcome must reach the
    /// supervisor as a failure (review analytics count approved commands that then failed).
    @Test func aClaudeToolFailureIsRecordedAsAFailedOutcome() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let runner = try runner(policy: nil, in: scratch)
        let payload: [String: Any] = [
            "session_id": "s1", "transcript_path": "/nonexistent", "cwd": scratch.root,
            "hook_event_name": "PostToolUseFailure", "tool_name": "Bash",
            "tool_input": ["command": "make test", "description": "run the tests"], "tool_use_id": "toolu_1",
            "error": "Command failed with exit code 2", "is_interrupt": false,
        ]
        let answer = runner.run(input: try JSONSerialization.data(withJSONObject: payload))
        #expect(answer.exitCode == 0 && answer.stdout.isEmpty, "no answer to give: \(answer.stdout)")
        let outcomes = runner.spool.outbox().compactMap { entry -> Outcome? in
            if case .outcome(let outcome) = entry.message { return outcome }
            return nil
        }
        #expect(outcomes.count == 1 && outcomes.first?.command == "make test", "\(outcomes)")
        #expect(outcomes.first?.exitCode.map { $0 != 0 } == true, "a failure: \(String(describing: outcomes.first))")
        let installed = HookInstaller.claudeEvents.map(\.event)
        #expect(installed.contains("PostToolUseFailure"), "install-hooks hooks it")
    }

    func hook(_ command: String, cwd: String) -> HookInput {
        HookInput(
            agent: .claude, event: "PreToolUse", sessionID: "s1", cwd: cwd, toolName: "Bash", command: command,
            description: "because")
    }

    static let policy = Policy(
        rules: [
            Rule(id: "r-allow", tier: .continue, decision: .allow, reason: "fine", match: RuleMatch(argv: ["frob"])),
            Rule(id: "r-deny", tier: .continue, decision: .deny, reason: "no", match: RuleMatch(argv: ["zap"])),
            Rule(id: "r-ask", tier: .expand, decision: .ask, reason: "look", match: RuleMatch(argv: ["push"])),
            Rule(
                id: "r-needs", tier: .commit, decision: .allow, reason: "with files", match: RuleMatch(argv: ["ship"])),
        ],
        tiers: ["commit": TierSettings(require: ["changed_files"])])

    /// Every request carries its changed files, whatever the snapshot decides: review analytics
    /// (rework after mobile approvals) read them from the thread's next request.
    @Test func everyRequestCarriesItsChangedFiles() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let repo = try Self.dirtyRepo(in: scratch)
        let runner = try runner(policy: Self.policy, in: scratch)
        let allowed = runner.evidence(for: hook("frob x", cwd: repo), threadID: "t1")
        #expect(allowed.changedFiles == ["a.txt"])
        #expect(allowed.repo == repo && allowed.branch == "main" && allowed.head != nil)
        #expect(runner.evidence(for: hook("push x", cwd: repo), threadID: "t1").changedFiles == ["a.txt"])
    }

    /// `git status` runs before the answer when the snapshot may require the files (or there is
    /// none to tell); read as bytes, not decoded, since every approval asks.
    @Test func theSnapshotTellsWhetherChangedFilesMayDecide() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let none = try runner(policy: nil, in: scratch)
        #expect(none.spool.policyMayRequireChangedFiles(), "no snapshot: collect")
        #expect(try runner(policy: Self.policy, in: scratch).spool.policyMayRequireChangedFiles())
        var relaxed = Self.policy
        relaxed.tiers = [:]
        #expect(try runner(policy: relaxed, in: scratch).spool.policyMayRequireChangedFiles() == false)
    }

    @Test func branchAndHeadAreReadFromLooseAndPackedRefs() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let repo = try Self.dirtyRepo(in: scratch)
        let commit = try Self.git(["rev-parse", "HEAD"], in: repo)
        #expect(GitInfo.find(from: repo + "/./sub/../") == GitInfo(repo: repo, branch: "main", head: commit))
        try Self.git(["pack-refs", "--all"], in: repo)
        #expect(!FileManager.default.fileExists(atPath: repo + "/.git/refs/heads/main"))
        #expect(GitInfo.find(from: repo) == GitInfo(repo: repo, branch: "main", head: commit))
        try Self.git(["checkout", "-q", "--detach"], in: repo)
        #expect(GitInfo.find(from: repo)?.head == commit)
    }

    /// Regression (fails on the main of 2026-12-06: a linked worktree's branch ref lives in the
    /// common directory, which was not read, so `head` was nil).
    @Test func aLinkedWorktreesHeadIsReadThroughItsCommonDirectory() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let repo = try Self.dirtyRepo(in: scratch)
        try Self.git(["worktree", "add", "-q", "-b", "side", scratch.root + "/side"], in: repo)
        let commit = try Self.git(["rev-parse", "HEAD"], in: repo)
        #expect(
            GitInfo.find(from: scratch.root + "/side")
                == GitInfo(repo: scratch.root + "/side", branch: "side", head: commit)
        )
    }

    /// Regression (fails on the main of 2026-12-06, which followed `ref: ../…` out of the
    /// repository, returning what that file held as the commit, and read packed-refs of any size).
    /// FIFOs named like git files are skipped without blocking (opened non-blocking, not regular).
    @Test func aHostileRepositoryYieldsNoHeadAndNeverBlocks() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let repo = scratch.root + "/hostile"
        try FileManager.default.createDirectory(atPath: repo + "/.git", withIntermediateDirectories: true)
        let outside = String(repeating: "ab", count: 20)
        try outside.write(toFile: scratch.root + "/outside", atomically: true, encoding: .utf8)
        try "ref: ../../outside\n".write(toFile: repo + "/.git/HEAD", atomically: true, encoding: .utf8)
        #expect(GitInfo.find(from: repo) == GitInfo(repo: repo, branch: "../../outside", head: nil))

        try FileManager.default.removeItem(atPath: repo + "/.git/HEAD")
        #expect(mkfifo(repo + "/.git/HEAD", 0o600) == 0)
        #expect(GitInfo.find(from: repo) == GitInfo(repo: repo, branch: nil, head: nil))

        // A ref that is a FIFO, and a packed-refs larger than the bound, are skipped too.
        try FileManager.default.removeItem(atPath: repo + "/.git/HEAD")
        try "ref: refs/heads/main\n".write(toFile: repo + "/.git/HEAD", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: repo + "/.git/refs/heads", withIntermediateDirectories: true)
        #expect(mkfifo(repo + "/.git/refs/heads/main", 0o600) == 0)
        #expect(GitInfo.find(from: repo) == GitInfo(repo: repo, branch: "main", head: nil))
        let line = String(repeating: "c", count: 40) + " refs/heads/main\n"
        let big = String(repeating: "# padding\n", count: GitInfo.packedRefsBytes / 10 + 1) + line
        try big.write(toFile: repo + "/.git/packed-refs", atomically: true, encoding: .utf8)
        #expect(GitInfo.find(from: repo)?.head == nil)
        try line.write(toFile: repo + "/.git/packed-refs", atomically: true, encoding: .utf8)
        #expect(GitInfo.find(from: repo)?.head == String(repeating: "c", count: 40))
    }
}
