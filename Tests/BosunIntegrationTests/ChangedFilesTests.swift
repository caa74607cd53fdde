import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A request's changed files (`git status`, a subprocess) are collected before the answer only
/// when they may decide it; otherwise the supervisor decides without them and they follow the
/// request (issue 10). The real helper, sshd, bosund and git; `git` on the hook's PATH is a
/// wrapper that records which process ran it (its parent's pid) before running the real git.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ChangedFilesTests {
    func up() async throws -> Fixture {
        let fixture = try Fixture(hosts: 1)
        try await fixture.startDaemon()
        try await eventually("host up and welcomed") {
            fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" }
                && FileManager.default.fileExists(atPath: fixture.spool(1) + "/policy.json")
        }
        return fixture
    }

    /// A repository with one commit and `tracked.txt` modified, and a `git` wrapper logging the
    /// pid of its parent to `git-calls.log`. Returns (repo, environment for the hook, log path).
    func dirtyRepo(_ fixture: Fixture) throws -> (repo: String, environment: [String: String], log: String) {
        let repo = fixture.root + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        let git = ["/usr/bin/git", "-c", "user.name=T", "-c", "user.email=t@example.com", "-C", repo]
        #expect(Fixture.run(git[0], Array(git.dropFirst()) + ["init", "-q"]).status == 0)
        try "one\n".write(toFile: repo + "/tracked.txt", atomically: true, encoding: .utf8)
        #expect(Fixture.run(git[0], Array(git.dropFirst()) + ["add", "tracked.txt"]).status == 0)
        #expect(Fixture.run(git[0], Array(git.dropFirst()) + ["commit", "-q", "-m", "one"]).status == 0)
        try "two\n".write(toFile: repo + "/tracked.txt", atomically: true, encoding: .utf8)
        let bin = fixture.root + "/wrapped-bin"
        let log = fixture.root + "/git-calls.log"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try "#!/bin/sh\necho \"$PPID\" >> '\(log)'\nexec /usr/bin/git \"$@\"\n".write(
            toFile: bin + "/git", atomically: true, encoding: .utf8)
        chmod(bin + "/git", 0o755)
        let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return (repo, ["PATH": path], log)
    }

    /// The parent pids `git` was run by, one per call.
    func gitCallers(_ log: String) -> [Int32] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    func number(_ fixture: Fixture) throws -> Int {
        let all = fixture.bosun("queue", "--all", "--json").jsonLines
        return try #require(all.last?["number"] as? Int, "\(all)")
    }

    @Test func anAutoAllowedRequestIsAnsweredWithoutGitAndItsFilesFollow() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }
        let (repo, environment, log) = try dirtyRepo(fixture)
        let call = try fixture.hook(
            on: 1, "codex", Payload.codexPreToolUse("git status", cwd: repo), environment: environment)
        let pid = call.process.processIdentifier
        let answer = call.wait()
        #expect(answer.status == 0 && answer.stdout.isEmpty, "allowed: \(answer.stdout) \(answer.stderr)")
        let number = try number(fixture)
        // The files reach the request after the answer (a detached `bosun-host changed-files`).
        try await eventually("the changed files attached to #\(number)") {
            fixture.bosun("show", "#\(number)").stdout.contains("tracked.txt")
        }
        let callers = gitCallers(log)
        #expect(!callers.isEmpty, "git ran for the follow-up")
        #expect(!callers.contains(pid), "the hook process itself ran git: \(callers) (hook \(pid))")
        #expect(fixture.bosun("queue", "--all", "--json").jsonLines.first?["status"] as? String == "allowed")
    }

    @Test func aPersonAskedSeesTheChangedFiles() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }
        let (repo, environment, log) = try dirtyRepo(fixture)
        let call = try fixture.hook(
            on: 1, "claude",
            Payload.claude("PreToolUse", "npm install left-pad", description: "Add the dependency", cwd: repo),
            environment: environment)
        try await eventually("one pending request") { fixture.bosun("queue", "--json").jsonLines.count == 1 }
        let number = try number(fixture)
        try await eventually("the person sees the changed files of #\(number)") {
            fixture.bosun("show", "#\(number)").stdout.contains("tracked.txt")
        }
        let approved = fixture.bosun("approve", "\(number)", "fine")
        #expect(approved.status == 0, "\(approved.stderr)")
        #expect(Payload.specific(call.wait())?["permissionDecision"] as? String == "allow")
        // After a person decided in this thread, review analytics read its next requests' files
        // (rework): they are taken before the answer, not after the tool may have run.
        let next = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "git status", description: "look", cwd: repo),
            environment: environment)
        let pid = next.process.processIdentifier
        #expect(Payload.specific(next.wait())?["permissionDecision"] as? String == "allow")
        #expect(gitCallers(log).contains(pid), "the hook collected them itself: \(gitCallers(log)) (hook \(pid))")
    }

    /// A tier that requires `changed_files` decides on them as before: collected before the answer.
    @Test func aRuleRequiringChangedFilesStillDecidesOnThem() async throws {
        let fixture = try Fixture(hosts: 1)
        try fixture.addPolicy(
            "zz-require.toml",
            "[tier.steer]\nrequire = [\"changed_files\"]\n[tier.continue]\nrequire = [\"changed_files\"]\n")
        try await fixture.startDaemon()
        defer { fixture.shutdown() }
        try await eventually("host up and welcomed") {
            FileManager.default.fileExists(atPath: fixture.spool(1) + "/policy.json")
        }
        let (repo, environment, log) = try dirtyRepo(fixture)
        let dirty = try fixture.hook(
            on: 1, "codex", Payload.codexPreToolUse("git status", cwd: repo), environment: environment)
        let pid = dirty.process.processIdentifier
        let allowed = dirty.wait()
        #expect(allowed.status == 0 && allowed.stdout.isEmpty, "allowed with its files: \(allowed.stdout)")
        #expect(gitCallers(log).contains(pid), "collected by the hook before the answer")
        // A clean repository has none: denied for the missing evidence, as before.
        let clean = fixture.root + "/clean"
        try FileManager.default.createDirectory(atPath: clean + "/.git", withIntermediateDirectories: true)
        #expect(Fixture.run("/usr/bin/git", ["init", "-q", clean]).status == 0)
        let denied = try fixture.hook(
            on: 1, "codex", Payload.codexPreToolUse("git status", cwd: clean), environment: environment
        ).wait()
        let specific = try #require(Payload.specific(denied), "\(denied.stdout)")
        #expect(specific["permissionDecision"] as? String == "deny")
        #expect((specific["permissionDecisionReason"] as? String ?? "").contains("changed_files"))
    }
}
