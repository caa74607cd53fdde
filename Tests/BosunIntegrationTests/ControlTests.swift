import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The process state letter from /proc (T = stopped).
func processState(_ pid: Int32) -> Character? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct ControlTests {
    func threadPIDs(_ fixture: Fixture) -> [String: Int32] {
        var result: [String: Int32] = [:]
        for thread in fixture.threads() {
            if let host = thread["host"] as? String, let pid = thread["pid"] as? Int { result[host] = Int32(pid) }
        }
        return result
    }

    /// `steer --wait` returns when the thread's next hook took the message (a real host and hook).
    @Test func steerWaitReturnsWhenTheThreadReceivedIt() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
        let session = "steer-wait-1"
        let start: [String: Any] = [
            "session_id": session, "cwd": "/tmp", "hook_event_name": "SessionStart", "permission_mode": "default",
            "source": "startup",
        ]
        _ = try fixture.hook(on: 1, "codex", start).wait()
        try await eventually("thread known") { fixture.threads().count == 1 }
        let waiting = Process()
        waiting.executableURL = URL(fileURLWithPath: Fixture.binDirectory + "/bosun")
        waiting.arguments = ["--socket", fixture.socket, "steer", "s-steer", "--wait", "120", "run", "the", "linter"]
        let output = Pipe()
        waiting.standardOutput = output
        waiting.standardError = output
        try waiting.run()
        try await eventually("queued") { fixture.bosun("show", "s-steer").stdout.contains("run the linter [pending]") }
        #expect(waiting.isRunning, "still waiting for the delivery")
        let answer = try fixture.hook(on: 1, "codex", Payload.codexPreToolUse("git status", session: session)).wait()
        #expect(answer.stdout.contains("run the linter"), "\(answer.stdout)")
        waiting.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(waiting.terminationStatus == 0 && text.contains("delivered to h1/"), "\(text)")
    }

    /// A steering message waits in h1's spool for the next hook of thread `s-steer-session-1`.
    func steerQueued(_ fixture: Fixture) -> Bool {
        let directory = fixture.spool(1) + "/steer/s-steer-session-1"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.contains { $0.hasSuffix(".json") }
    }

    @Test func steeringReachesTheAgentAtItsNextHook() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
        let session = "steer-session-1"
        let start: [String: Any] = [
            "session_id": session, "transcript_path": "/t", "cwd": "/tmp", "hook_event_name": "SessionStart",
            "permission_mode": "default", "source": "startup",
        ]
        _ = try fixture.hook(on: 1, "codex", start).wait()
        try await eventually("thread known") { fixture.threads().count == 1 }

        let steer = fixture.bosun("steer", "s-steer", "focus", "on", "the", "failing", "test", "first")
        #expect(steer.status == 0, "\(steer.stderr)")
        #expect(fixture.bosun("show", "s-steer").stdout.contains("focus on the failing test first [pending]"))
        // `bosun steer` returns once the store has the message; the host gets it a moment later.
        // A hook that runs before then rightly carries nothing (a faster hook lost this race).
        try await eventually("steer on the host") { steerQueued(fixture) }
        let answer = try fixture.hook(on: 1, "codex", Payload.codexPreToolUse("git status", session: session)).wait()
        let specific = try #require(Payload.specific(answer), "\(answer.stdout)")
        #expect((specific["additionalContext"] as? String)?.contains("focus on the failing test first") == true)
        #expect(specific["permissionDecision"] == nil, "Codex PreToolUse allow carries no decision")
        try await eventually("delivery reported") {
            fixture.bosun("audit", "--json").jsonLines.contains { $0["kind"] as? String == "steer_delivered" }
        }
        #expect(fixture.bosun("show", "h1/s-steer").stdout.contains("[delivered"))
        // Delivered once: the next hook carries nothing.
        let next = try fixture.hook(on: 1, "codex", Payload.codexPreToolUse("git status", session: session)).wait()
        #expect(next.stdout.isEmpty)

        // At Stop, steering blocks the stop with the text as the reason.
        #expect(fixture.bosun("steer", "h1/s-steer", "also update the changelog").status == 0)
        try await eventually("second steer on the host") { steerQueued(fixture) }
        var stop = start
        stop["hook_event_name"] = "Stop"
        stop["stop_hook_active"] = false
        let stopped = try fixture.hook(on: 1, "codex", stop).wait()
        let block = try #require(try JSONSerialization.jsonObject(with: Data(stopped.stdout.utf8)) as? [String: Any])
        #expect(block["decision"] as? String == "block")
        #expect((block["reason"] as? String)?.contains("also update the changelog") == true)
        #expect(fixture.bosun("steer", "nope", "x").status == 1)
    }

    @Test func pauseAllHoldsEveryThreadIncludingAnOfflineHostAndResumeReleasesExactlyThat() async throws {
        let fixture = try Fixture(hosts: 5)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        for host in 1...5 { try fixture.runThread(on: host, "sleep", "600") }
        try await eventually("five running threads") {
            fixture.threads().filter { $0["state"] as? String == "running" }.count == 5
        }
        let pids = threadPIDs(fixture)

        // h1's thread is paused on its own first; resume all must not release it.
        let h1Thread = try #require(fixture.threads().first { $0["host"] as? String == "h1" }?["id"] as? String)
        #expect(fixture.bosun("pause", "--hard", "h1/\(h1Thread)", "investigating").status == 0)

        #expect(fixture.fleet("stop", fixture.root, "5").status == 0)
        try await eventually("h5 down") { fixture.hostState("h5") != "up" }
        let pause = fixture.bosun("pause", "all", "--hard", "incident 42")
        #expect(pause.status == 3, "h5 is queued: \(pause.stdout)\(pause.stderr)")
        #expect(pause.stdout.contains("h5: queued"))
        #expect(pause.stdout.contains("h2: paused"))
        try await eventually("h1–h4 threads stopped") {
            (1...4).allSatisfy { processState(pids["h\($0)"] ?? 0) == "T" }
        }
        #expect(processState(pids["h5"] ?? 0) != "T", "h5 is offline: not yet")

        #expect(fixture.fleet("start", fixture.root, "5").status == 0)
        try await eventually("h5 paused on reconnect") { processState(pids["h5"] ?? 0) == "T" }

        // A thread started while the (hard) breaker holds starts stopped.
        let late = try fixture.runThread(on: 3, "sleep", "601")
        try await eventually("late thread paused") {
            fixture.threads().contains {
                ($0["argv"] as? [String]) == ["sleep", "601"] && $0["state"] as? String == "stopped"
            }
        }
        _ = late

        let resume = fixture.bosun("resume", "all")
        #expect(resume.status == 0, "\(resume.stdout)\(resume.stderr)")
        try await eventually("h2–h5 running again, h1 still held") {
            (2...5).allSatisfy { processState(pids["h\($0)"] ?? 0) == "S" } && processState(pids["h1"] ?? 0) == "T"
        }
        #expect(fixture.threads().first { $0["host"] as? String == "h1" }?["state"] as? String == "stopped")
        #expect(fixture.bosun("resume", "h1/\(h1Thread)").status == 0)
        try await eventually("h1 released") { processState(pids["h1"] ?? 0) == "S" }
        #expect(fixture.bosun("audit", "verify").status == 0)
    }

    @Test func aSoftPauseAnswersTheNextHookBeforeItsDeadline() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
        #expect(fixture.bosun("pause", "host", "h1", "lunch").status == 0)
        let answer = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "ls")).wait()
        let specific = try #require(Payload.specific(answer), "\(answer.stdout)")
        #expect(specific["permissionDecision"] as? String == "deny")
        #expect((specific["permissionDecisionReason"] as? String)?.contains("paused by operator: lunch") == true)
        #expect(fixture.bosun("resume", "host", "h1").status == 0)
        let after = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "ls")).wait()
        #expect(Payload.specific(after)?["permissionDecision"] as? String == "allow")

        // With a hold time, the hook waits for the resume instead of answering "paused".
        #expect(fixture.bosun("pause", "host", "h1", "coffee").status == 0)
        let held = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "ls"), pauseHold: 30)
        try await Task.sleep(for: .milliseconds(500))
        #expect(held.isRunning, "held while paused")
        #expect(fixture.bosun("resume", "host", "h1").status == 0)
        #expect(Payload.specific(held.wait())?["permissionDecision"] as? String == "allow")
    }

    @Test func rolesAndChannelsLimitWhatAnOperatorMayDecide() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try fixture.addOperator("vic", role: "viewer", channel: "desk")
        try fixture.addOperator("olga", role: "operator", channel: "mobile")
        try fixture.addReleaseRule(decision: "ask", reason: "a release needs two people")
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
        let expand = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "npm install left-pad", description: "deps"))
        let commit = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "frobnicate-release v2", description: "ship it"))
        try await eventually("queued") { fixture.bosun("queue", "--json").jsonLines.count == 2 }
        var numbers: [String: Int] = [:]
        for line in fixture.bosun("queue", "--json").jsonLines {
            numbers[line["tier"] as? String ?? ""] = line["number"] as? Int
        }
        let expandNumber = try #require(numbers["expand"])
        let commitNumber = try #require(numbers["commit"])

        func shell(_ name: String, _ channel: String, _ line: String) -> CommandResult {
            Fixture.run(
                "/bin/sh",
                [
                    "-c",
                    "echo '\(line)' | \(Fixture.binDirectory)/bosun --socket \(fixture.socket) shell --operator \(name) --channel \(channel)",
                ])
        }
        let viewer = shell("vic", "desk", "approve \(expandNumber)")
        #expect(viewer.status == 77, "\(viewer.stdout)\(viewer.stderr)")
        #expect(viewer.stderr.contains("needs the operator role"))
        #expect(shell("vic", "desk", "whoami").stdout.contains("vic (viewer) via channel desk"))
        #expect(shell("vic", "desk", "queue").status == 0, "viewers read")
        #expect(shell("olga", "desk", "approve \(expandNumber)").stderr.contains("no key on channel desk"))

        let refused = shell("olga", "mobile", "approve \(commitNumber) looks fine")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("not from channel 'mobile'"), "\(refused.stderr)")
        let mobile = shell("olga", "mobile", "approve \(expandNumber)")
        #expect(mobile.status == 0, "expand allows mobile by default: \(mobile.stdout)\(mobile.stderr)")
        #expect(Payload.specific(expand.wait())?["permissionDecision"] as? String == "allow")

        // The commit tier needs a note and two distinct approvers.
        #expect(fixture.bosun("approve", "\(commitNumber)").stderr.contains("needs a note"))
        #expect(fixture.bosun("approve", "\(commitNumber)", "checked the changelog").stdout.contains("2 distinct"))
        #expect(fixture.bosun("approve", "\(commitNumber)", "again").stderr.contains("already voted"))
        // Denying is the safe direction: any operator may, from any channel; one deny decides.
        #expect(shell("olga", "mobile", "deny \(commitNumber) not today").status == 0)
        #expect(Payload.specific(commit.wait())?["permissionDecision"] as? String == "deny")

        let vote = fixture.bosun("audit", "--json", "--actor", "olga").jsonLines.first {
            $0["kind"] as? String == "vote"
        }
        #expect(
            ((vote?["details"] as? [String: Any])?["key"] as? String)?.hasPrefix("SHA256:") == true,
            "the key fingerprint is audited")
    }

    @Test func watchStreamsEventsUntilTheClientGoesAway() async throws {
        let fixture = try Fixture(hosts: 2)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: Fixture.binDirectory + "/bosun")
        watch.arguments = ["--socket", fixture.socket, "watch"]
        let outputPath = fixture.root + "/watch.out"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        watch.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        try watch.run()
        func text() -> String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
        try await eventually("watch subscribed") { text().contains("watching every host") }

        try fixture.runThread(on: 1, "sleep", "600")
        let call = try fixture.hook(
            on: 2, "claude", Payload.claude("PreToolUse", "npm install left-pad", description: "deps"))
        try await eventually("queued") { fixture.bosun("queue", "--json").jsonLines.count == 1 }
        #expect(fixture.bosun("approve", "1").status == 0)
        _ = call.wait()
        #expect(fixture.fleet("stop", fixture.root, "2").status == 0)
        try await eventually("h2 down") { fixture.hostState("h2") != "up" }
        try await eventually("the host change streamed") { text().contains("h2  host  backoff") }
        Fixture.terminate(watch, signal: SIGINT)
        let text = text()
        #expect(text.contains("h1  thread  h1/"), "\(text)")
        #expect(text.contains("h2  request  #1 expand waits for a person: npm install left-pad"), "\(text)")
        #expect(text.contains("h2  decision  #1 allowed by operator:root"), "\(text)")
        #expect(text.contains("h2  host  backoff"), "\(text)")
        // The daemon noticed the watcher left and still serves others.
        #expect(fixture.bosun("threads").status == 3)
    }
}
