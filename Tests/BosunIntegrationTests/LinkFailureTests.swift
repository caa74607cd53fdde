import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Fail-closed link handling on the host: a lost, frozen or silent supervisor is noticed within the
/// unreachable grace (not the hook deadline), an oversized tool call cannot knock the link over,
/// and hooks still work when the kernel has no inotify instance left for them.
@Suite(.serialized, .timeLimit(.minutes(10))) struct LinkFailureTests {
    /// Large deadline, short grace: an answer within the grace proves the hook saw the link go.
    static let deadline: Double = 120
    static let grace: Double = 1

    func welcomed(_ fixture: Fixture) async throws {
        try await eventually("host up and welcomed") {
            fixture.hostState("h1") == "up" && FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json")
        }
    }

    /// Rewrites host 1's command line (hosts/h1.toml `command`), before bosund starts.
    func setCommand(_ fixture: Fixture, _ transform: (String) -> String) throws {
        let path = fixture.config + "/hosts/h1.toml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let index = try #require(lines.firstIndex { $0.hasPrefix("command = ") })
        let old = String(lines[index].dropFirst("command = ".count).dropFirst().dropLast())
        lines[index] = "command = \"" + transform(old).replacingOccurrences(of: "\"", with: "\\\"") + "\""
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    func ask(_ command: String) -> [String: Any] {
        Payload.claude("PreToolUse", command, description: "needed for the build")
    }

    func reason(_ answer: CommandResult) -> String {
        Payload.specific(answer)?["permissionDecisionReason"] as? String ?? ""
    }

    /// The serve process holding host 1's link (its pid from link.json; same PID namespace here).
    func servePID(_ fixture: Fixture) throws -> Int32 {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture.spool(1) + "/link.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require((object["pid"] as? Int).map { Int32($0) })
    }

    // MARK: 7.5 — the link drops while an ask waits

    @Test func anAskPendingWhenTheSupervisorStopsAnswersUnreachableWithinTheGrace() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await welcomed(fixture)
        let call = try fixture.hook(
            on: 1, "claude", ask("npm install left-pad"), deadline: Self.deadline, grace: Self.grace)
        try await eventually("queued") { fixture.bosun("queue", "--json").jsonLines.count == 1 }
        let stopped = Date()
        fixture.stopDaemon(signal: SIGKILL)  // serve sees its channel close and exits
        let answer = call.wait()
        let took = Date().timeIntervalSince(stopped)
        print("hook answered \(String(format: "%.2f", took)) s after bosund was killed (grace \(Self.grace) s)")
        #expect(Payload.specific(answer)?["permissionDecision"] as? String == "deny", "\(answer.stdout)")
        #expect(reason(answer).contains("supervisor unreachable"), "not the deadline: \(reason(answer))")
        #expect(took < Self.deadline / 2, "answered within about the grace, not the \(Self.deadline) s deadline")
    }

    @Test func anAskPendingWhenServeIsKilledAnswersUnreachableWithinTheGrace() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await welcomed(fixture)
        let daemon = try #require(fixture.daemon?.processIdentifier)
        let call = try fixture.hook(
            on: 1, "claude", ask("npm install right-pad"), deadline: Self.deadline, grace: Self.grace)
        try await eventually("queued") { fixture.bosun("queue", "--json").jsonLines.count == 1 }
        // Freeze bosund (so it cannot reconnect) and SIGKILL serve: nothing cleans up link.json,
        // only the kernel drops the dead process's lock.
        kill(daemon, SIGSTOP)
        defer { kill(daemon, SIGCONT) }
        let serve = try servePID(fixture)
        let killed = Date()
        #expect(kill(serve, SIGKILL) == 0)
        let answer = call.wait()
        let took = Date().timeIntervalSince(killed)
        print("hook answered \(String(format: "%.2f", took)) s after serve was SIGKILLed (grace \(Self.grace) s)")
        #expect(FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json"), "serve could not clean up")
        #expect(reason(answer).contains("supervisor unreachable"), "not the deadline: \(reason(answer))")
        #expect(took < Self.deadline / 2)
    }

    // MARK: 7.6 — a frozen supervisor

    @Test func aFrozenSupervisorIsGivenUpAndHooksFallBackToTheSnapshot() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        // The fixture's bosund pings every second and says so in `welcome`: serve gives the link up
        // after 3 × 1 + 2 = 5 s of silence, with no setting on the host.
        try await fixture.startDaemon()
        try await welcomed(fixture)
        let daemon = try #require(fixture.daemon?.processIdentifier)

        let waiting = try fixture.hook(
            on: 1, "claude", ask("npm install frozen-pad"), deadline: Self.deadline, grace: Self.grace)
        try await eventually("queued") { fixture.bosun("queue", "--json").jsonLines.count == 1 }
        let frozen = Date()
        #expect(kill(daemon, SIGSTOP) == 0)
        var continued = false
        defer { if !continued { kill(daemon, SIGCONT) } }
        // Both hooks start while serve still holds the (now silent) link.
        let allowed = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "git status"), deadline: Self.deadline, grace: Self.grace)

        let allowAnswer = allowed.wait()
        let allowTook = Date().timeIntervalSince(frozen)
        let askAnswer = waiting.wait()
        let askTook = Date().timeIntervalSince(frozen)
        print(
            "frozen supervisor: ask answered after \(String(format: "%.2f", askTook)) s, allowed command after \(String(format: "%.2f", allowTook)) s (silence timeout 5 s from welcome, grace \(Self.grace) s)"
        )
        #expect(reason(askAnswer).contains("supervisor unreachable"), "\(askAnswer.stdout)")
        #expect(Payload.specific(allowAnswer)?["permissionDecision"] as? String == "allow", "\(allowAnswer.stdout)")
        #expect(reason(allowAnswer).hasPrefix("Bosun policy snapshot"), "\(reason(allowAnswer))")
        #expect(askTook < Self.deadline / 2 && allowTook < Self.deadline / 2, "well before the deadline")
        #expect(!FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json"), "the link was released")

        // Thawed, the supervisor links again and decides as before.
        kill(daemon, SIGCONT)
        continued = true
        try await welcomed(fixture)
        let after = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "git status")).wait()
        #expect(reason(after).hasPrefix("Bosun policy (git-read)"), "decided by bosund again: \(reason(after))")
        try await eventually("both local decisions audited") {
            fixture.bosun("audit", "--json").jsonLines.filter { $0["kind"] as? String == "local_decision" }.count >= 2
        }
    }

    // MARK: 8.2 — a huge tool call

    @Test func hugeCommandsAreAnsweredAndTheLinkStaysUp() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await welcomed(fixture)
        // Three 70 KB commands (three refused lines were enough to drop the link, and every
        // reconnect resent them): each gets an answer, and a normal request still goes through.
        let huge = (0..<3).map { "echo \($0)" + String(repeating: "x", count: 70_000) }
        let calls = try huge.map {
            try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", $0, description: "print"), deadline: 60)
        }
        // A supervisor that asks a person about truncated actions queues them; deny those.
        try await eventually("each huge call answered or queued", timeout: 90) {
            let queued = fixture.bosun("queue", "--json").jsonLines
            for line in queued { fixture.bosun("deny", "\(line["number"] as? Int ?? 0)", "too", "big") }
            return calls.allSatisfy { !$0.isRunning }
        }
        for call in calls {
            let answer = call.wait()
            #expect(Payload.specific(answer)?["permissionDecision"] as? String == "deny", "\(answer.stdout)")
            #expect(!reason(answer).contains("no decision within"), "answered, not timed out: \(reason(answer))")
        }
        let normal = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "git status")).wait()
        #expect(reason(normal).hasPrefix("Bosun policy (git-read)"), "the link stayed up: \(reason(normal))")
        #expect(fixture.hostState("h1") == "up")
        // The supervisor saw each huge command cut, with the digest of the whole.
        let commands = fixture.bosun("queue", "--all", "--json").jsonLines.compactMap {
            ($0["evidence"] as? [String: Any])?["command"] as? String
        }
        #expect(commands.filter { $0.contains("cut by bosun-host: 70006 bytes in all, sha256 ") }.count == 3)
        #expect(commands.allSatisfy { $0.utf8.count < 20_000 })
        #expect(!fixture.daemonLog().contains("request text too long"))
    }

    // MARK: 7.9 — a thread run inside a PID namespace

    /// Host pids of processes whose command line is exactly `argv`.
    func pids(of argv: [String]) -> [Int32] {
        let wanted = Data((argv.joined(separator: "\0") + "\0").utf8)
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name in
            guard let pid = Int32(name),
                FileManager.default.contents(atPath: "/proc/\(name)/cmdline") == wanted
            else { return nil }
            return pid
        }
    }

    @Test func aHardPauseStopsAnAgentRunInsideAPIDNamespaceAndNothingElse() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await welcomed(fixture)
        // `run` in its own PID namespace (own /proc): it records the namespace's pid for its agent,
        // which names another process (or none) to the serve outside.
        let marker = "\(Int.random(in: 100_000...999_999))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = [
            "--pid", "--fork", "--mount-proc", "--kill-child", Fixture.binDirectory + "/bosun-host", "--state",
            fixture.spool(1), "run", "--", "sleep", marker,
        ]
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer {
            // unshare ignores SIGTERM while it waits; killed, it takes the namespace (--kill-child) with it.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try await eventually("the namespaced thread runs") {
            fixture.threads().contains { ($0["argv"] as? [String]) == ["sleep", marker] }
        }
        let thread = try #require(fixture.threads().first { ($0["argv"] as? [String]) == ["sleep", marker] })
        let id = try #require(thread["id"] as? String)
        let recorded = try #require(thread["pid"] as? Int)
        let agent = try #require(pids(of: ["sleep", marker]).first)
        #expect(Int32(recorded) != agent, "the record holds the namespace's pid, not the host's")

        #expect(fixture.bosun("pause", "--hard", "h1/\(id)", "namespaced").status == 0)
        try await eventually("the agent itself is stopped") { processState(agent) == "T" }
        try await eventually("serve refused to signal the namespace's pid outside it") {
            fixture.daemonLog().contains("not signalling thread \(id)")
        }
        #expect(fixture.bosun("resume", "h1/\(id)").status == 0)
        try await eventually("and continued") { processState(agent) == "S" }
    }

    // MARK: 7.10 — no inotify instance left

    @Test func hooksAndServeWorkWithoutInotify() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        // A user namespace of our own with its inotify instance limit at 0 (the per-user-namespace
        // sysctl; the host's own limit is untouched): inotify_init1 fails with EMFILE there, as at
        // fs.inotify.max_user_instances on a busy host.
        let limit = "echo 0 > /proc/sys/user/max_inotify_instances"
        try setCommand(fixture) { "/usr/bin/unshare -U -r /bin/sh -c '\(limit) && exec \($0)'" }
        try await fixture.startDaemon()
        try await welcomed(fixture)
        let payload = try JSONSerialization.data(withJSONObject: Payload.claude("PreToolUse", "git status"))
        try payload.write(to: URL(fileURLWithPath: fixture.root + "/payload.json"))
        let hook = "\(Fixture.binDirectory)/bosun-host --state \(fixture.spool(1)) hook claude"
        let allowed = Fixture.run(
            "/usr/bin/unshare", ["-U", "-r", "/bin/sh", "-c", "\(limit) && \(hook) < \(fixture.root)/payload.json"])
        #expect(allowed.stderr.contains("inotify unavailable"), "the fallback is in use: \(allowed.stderr)")
        #expect(reason(allowed).hasPrefix("Bosun policy (git-read)"), "\(allowed.stdout)\(allowed.stderr)")
        // doctor says so (a warning: hooks work, by polling).
        let doctor = Fixture.run(
            "/usr/bin/unshare",
            [
                "-U", "-r", "/bin/sh", "-c",
                "\(limit) && \(Fixture.binDirectory)/bosun-host --state \(fixture.spool(1)) doctor --json",
            ])
        let checks = (try? JSONSerialization.jsonObject(with: Data(doctor.stdout.utf8)) as? [String: Any])?["checks"]
        let inotify = (checks as? [[String: Any]])?.first { $0["name"] as? String == "inotify" }
        #expect(inotify?["status"] as? String == "warn", "\(doctor.stdout)")
        #expect((inotify?["detail"] as? String)?.contains("re-check every 100 ms") == true, "\(doctor.stdout)")

        // An ask waits for a person through the fallback, and the approval reaches it.
        let askPayload = try JSONSerialization.data(withJSONObject: ask("npm install poll-pad"))
        try askPayload.write(to: URL(fileURLWithPath: fixture.root + "/ask.json"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = [
            "-U", "-r", "/bin/sh", "-c", "\(limit) && BOSUN_HOOK_DEADLINE=60 \(hook) < \(fixture.root)/ask.json",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let collected = Fixture.ErrorCollector(output.fileHandleForReading)
        try process.run()
        defer { Fixture.terminate(process) }
        try await eventually("queued") { fixture.bosun("queue", "--json").jsonLines.count == 1 }
        let number = try #require(fixture.bosun("queue", "--json").jsonLines.first?["number"] as? Int)
        #expect(fixture.bosun("approve", "\(number)").status == 0)
        let answer = CommandResult(status: 0, stdout: String(decoding: collected.wait(), as: UTF8.self), stderr: "")
        process.waitUntilExit()
        #expect(Payload.specific(answer)?["permissionDecision"] as? String == "allow", "\(answer.stdout)")
    }
}
