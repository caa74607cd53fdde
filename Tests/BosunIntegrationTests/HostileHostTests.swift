import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Fixture {
    /// Replaces host `host`'s `command` (normally `bosun-host serve`) with the deliberate adversary
    /// `Fixtures/hostile_serve.py MODE DIR` (a fake host that lies; see the script's header).
    /// Returns DIR, where the fake reads its targets and logs its progress.
    func makeHostile(host: Int, mode: String) throws -> String {
        let directory = root + "/hostile-h\(host)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = Self.packageRoot + "/Tests/BosunIntegrationTests/Fixtures/hostile_serve.py"
        let path = config + "/hosts/h\(host).toml"
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        let rewritten = lines.map { line in
            line.hasPrefix("command = ")
                ? "command = \"/usr/bin/python3 \(script) \(mode) \(directory)\"" : String(line)
        }
        try rewritten.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return directory
    }

    func progress(_ directory: String) -> [String] {
        ((try? String(contentsOfFile: directory + "/progress", encoding: .utf8)) ?? "").split(separator: "\n")
            .map(String.init)
    }

    func audit() -> [[String: Any]] { bosun("audit", "--json").jsonLines }

    func requests() -> [[String: Any]] { bosun("queue", "--all", "--json").jsonLines }
}

/// A hostile host: a fake `serve` that lies in every way the protocol allows (and many it does not).
/// It may change only its own host's state, crash nothing, and author no decision.
@Suite(.serialized, .timeLimit(.minutes(10))) struct HostileHostTests {
    /// The host's own id of a decided request (`queue --json` shows the supervisor's number as `id`).
    static func localID(_ record: [String: Any]) -> String? {
        (record["decision"] as? [String: Any])?["request_id"] as? String
    }

    @Test func aLyingHostChangesNothingOutsideItselfCrashesNothingAndAuthorsNoDecision() async throws {
        let fixture = try Fixture(hosts: 2)
        defer { fixture.shutdown() }
        let hostile = try fixture.makeHostile(host: 1, mode: "lies")
        try await fixture.startDaemon()
        let daemon = try #require(fixture.daemon)
        let pid = daemon.processIdentifier
        try await eventually("h2 up and welcomed") {
            fixture.hostState("h2") == "up" && FileManager.default.fileExists(atPath: fixture.spool(2) + "/link.json")
        }

        // The honest host h2: a thread, an ask waiting for a person, a steering message waiting.
        try fixture.runThread(on: 2, "sleep", "600")
        try await eventually("h2's thread listed") {
            guard daemon.isRunning else { throw FixtureError(description: "bosund died: \(fixture.daemonLog())") }
            return fixture.threads().contains { $0["host"] as? String == "h2" }
        }
        let h2Thread = try #require(
            fixture.threads().first { $0["host"] as? String == "h2" && $0["argv"] as? [String] == ["sleep", "600"] }?[
                "id"] as? String)
        let call = try fixture.hook(
            on: 2, "claude", Payload.claude("PreToolUse", "npm install left-pad", description: "deps"), deadline: 240)
        try await eventually("h2's ask pending") {
            fixture.bosun("queue", "--json").jsonLines.contains { $0["host"] as? String == "h2" }
        }
        let h2Request = try #require(fixture.bosun("queue", "--json").jsonLines.first { $0["host"] as? String == "h2" })
        let h2Number = try #require(h2Request["number"] as? Int)
        // The host's own id of the request (the JSON shows the supervisor's number).
        let h2RequestID = try #require(
            try FileManager.default.contentsOfDirectory(atPath: fixture.spool(2) + "/requests").first?.split(
                separator: "."
            ).first.map(String.init))
        let steered = fixture.bosun("steer", "h2/\(h2Thread)", "stay", "on", "the", "task")
        #expect(steered.status == 0, "\(steered.stderr)")
        let steerID = try #require(steered.stdout.split(separator: " ").dropFirst().first.map(String.init))
        let targets = ["thread": h2Thread, "request": h2RequestID, "steer": steerID]
        try JSONSerialization.data(withJSONObject: targets).write(to: URL(fileURLWithPath: hostile + "/targets.json"))

        // The fake reconnects after each batch of junk; it is done when a link stays calm.
        try await eventually("the hostile host went through every lie, junk line and the flood", timeout: 180) {
            guard daemon.isRunning else { throw FixtureError(description: "bosund died: \(fixture.daemonLog())") }
            let progress = fixture.progress(hostile)
            return progress.contains("calm") && progress.contains("lies with targets")
        }
        try await eventually("the lies reached bosund with h2's ids") {
            fixture.requests().contains { $0["host"] as? String == "h1" && Self.localID($0) == h2RequestID }
        }

        // Crashed nothing: the same bosund answers; the honest host is still up.
        #expect(daemon.isRunning && daemon.processIdentifier == pid)
        #expect(fixture.bosun("version").status == 0)
        #expect(fixture.hostState("h2") == "up")
        #expect((fixture.hosts()["h1"]?["protocol_errors"] as? Int ?? 0) >= 3)

        // Changed nothing outside its own host: h2's request, thread and steering message as they were.
        let h2Now = try #require(fixture.requests().first { $0["number"] as? Int == h2Number })
        #expect(h2Now["status"] as? String == "pending")
        #expect(h2Now["number"] as? Int == h2Number)
        let h2ThreadNow = try #require(
            fixture.threads().first { $0["host"] as? String == "h2" && $0["id"] as? String == h2Thread })
        #expect(h2ThreadNow["state"] as? String == "running")
        #expect(h2ThreadNow["exit_code"] == nil || h2ThreadNow["exit_code"] is NSNull)
        let shown = try #require(fixture.bosun("show", "h2/\(h2Thread)", "--json").jsonLines.first)
        let steer = try #require((shown["steer"] as? [[String: Any]])?.first)
        #expect(steer["status"] as? String == "pending", "\(shown)")
        #expect(call.isRunning, "h2's hook still waits for a person")
        #expect(
            !fixture.audit().contains {
                $0["host"] as? String == "h2" && ($0["actor"] as? String ?? "").hasPrefix("host:h1")
            }, "nothing h1 said is recorded against h2")

        // Authored no decision: nothing in the audit or the requests is by a person, least of all alice.
        for entry in fixture.audit() {
            let actor = entry["actor"] as? String ?? ""
            #expect(!actor.contains("alice"), "\(entry)")
            if entry["host"] as? String == "h1" {
                #expect(
                    actor.hasPrefix("host:h1") || actor.hasPrefix("policy:") || actor.hasPrefix("limit:"), "\(entry)")
            }
        }
        for request in fixture.requests() where request["host"] as? String == "h1" {
            let decidedBy = (request["decision"] as? [String: Any])?["decided_by"] as? String ?? ""
            #expect(!decidedBy.hasPrefix("operator:"), "\(request)")
            if request["local"] as? Bool == true { #expect(decidedBy.hasPrefix("host:h1/"), "\(request)") }
        }
        let forged = try #require(fixture.requests().first { Self.localID($0) == "fake-ask-1" })
        #expect(((forged["decision"] as? [String: Any])?["decided_by"] as? String) == "host:h1/unspecified")
        #expect(fixture.bosun("audit", "--actor", "alice", "--json").jsonLines.isEmpty)

        // Its text reaches the terminal escaped: no raw C0/C1 control or bidi/format character in tables.
        for listing in [fixture.bosun("threads"), fixture.bosun("hosts"), fixture.bosun("queue", "--all")] {
            let raw = listing.stdout.unicodeScalars.filter {
                ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value)
                    || $0.properties.generalCategory == .format || $0.value == 0x2028 || $0.value == 0x2029
            }
            #expect(raw.isEmpty, "raw \(raw.map { String($0.value, radix: 16) })")
        }

        // A client's huge numbers crash nothing either (`--since 1e400d` once trapped formatting the date).
        for since in ["1e400d", "-1e400d", "nand", "1e15d", "99999999999999999999s"] {
            _ = fixture.bosun("audit", "--since", since, "--json")
        }
        // … nor do a raw control client's (a width of Int.min once trapped the table renderer).
        let probe = """
            import socket, sys
            for width in ["-9223372036854775808", "9223372036854775807", "-1", "1e400"]:
                s = socket.socket(socket.AF_UNIX)
                s.connect(sys.argv[1])
                s.sendall(b'{"v":1,"argv":["threads"],"width":' + width.encode() + b'}\\n')
                print(s.recv(65536).decode())
                s.close()
            """
        let probed = Fixture.run("/usr/bin/python3", ["-c", probe, fixture.socket])
        #expect(probed.status == 0, "\(probed.stderr)")
        #expect(probed.stdout.components(separatedBy: "unsupported control request").count == 5, "\(probed.stdout)")
        #expect(daemon.isRunning && daemon.processIdentifier == pid)
        #expect(fixture.bosun("version").status == 0)

        // The honest host still works end to end, and the chain verifies.
        #expect(fixture.bosun("approve", "\(h2Number)").status == 0)
        let answer = call.wait()
        #expect(Payload.specific(answer)?["permissionDecision"] as? String == "allow", "\(answer.stdout)")
        let verify = fixture.bosun("audit", "verify")
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(daemon.isRunning && daemon.processIdentifier == pid)
    }

    @Test func aHostOverItsStorageBoundsIsCutOffCountedAndShown() async throws {
        let fixture = try Fixture(hosts: 2, links: "max_threads_per_host = 30")
        defer { fixture.shutdown() }
        let hostile = try fixture.makeHostile(host: 1, mode: "threads")
        try "60".write(toFile: hostile + "/count", atomically: true, encoding: .utf8)
        try await fixture.startDaemon()
        try await eventually("the fake registered its threads") { fixture.progress(hostile).contains("threads 60") }
        try fixture.runThread(on: 2, "sleep", "600")
        try await eventually("h2's thread listed") { fixture.threads().contains { $0["host"] as? String == "h2" } }
        try await eventually("drops shown in hosts") { (fixture.hosts()["h1"]?["dropped"] as? Int ?? 0) > 0 }
        let h1 = try #require(fixture.hosts()["h1"])
        #expect((h1["drop_reason"] as? String ?? "").contains("max_threads_per_host"), "\(h1)")
        #expect((h1["reason"] as? String ?? "").contains("dropped"), "\(h1)")
        #expect(h1["state"] as? String == "up", "over a bound drops the excess, not the link")
        let stored = fixture.bosun("threads", "--json", "--host", "h1").jsonLines
        #expect(stored.count <= 30, "\(stored.count) threads stored for h1")
        #expect(!stored.isEmpty)
        #expect(fixture.daemonLog().contains("host over its storage bound"))
        #expect(fixture.bosun("hosts").stdout.contains("dropped"))
    }

    /// A host's line right behind 4 MB of its stderr is read at once, not left in libssh's buffers
    /// while the link sleeps to its next ping (an hour here). The race this guards against (fixed
    /// in `SSHExecChannel.readAvailable`: stdout is drained last) needs the line to reach the socket
    /// in the microseconds between the two streams' reads; this test did not hit it in 3 runs with
    /// the old order — it checks the flood path, and a stranded line would fail it.
    @Test func aLineThatArrivesWhileStderrIsReadIsNotLeftUntilTheNextPing() async throws {
        let fixture = try Fixture(hosts: 1, keepalive: (3600, 7200))
        defer { fixture.shutdown() }
        let fake = try fixture.makeHostile(host: 1, mode: "stranded")
        try await fixture.startDaemon()
        try await eventually("the fake wrote its flood and its line") { fixture.progress(fake).contains("stranded") }
        try await eventually("the line after the flood is read at once") {
            fixture.threads().contains { $0["id"] as? String == "after-the-flood" }
        }
        #expect(fixture.hostState("h1") == "up")
    }

    @Test func theHostCommandsStderrExplainsWhyItsLinkEnded() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        _ = try fixture.makeHostile(host: 1, mode: "stderr")
        try await fixture.startDaemon()
        // The link cycles (connecting, backoff): read the reason once, in the state that says why.
        var reason = ""
        try await eventually("the reason carries the host command's stderr") {
            reason = fixture.hosts()["h1"]?["reason"] as? String ?? ""
            return reason.contains("spool unusable")
        }
        #expect(reason.contains("exited with status 1"), "\(reason)")
        #expect(
            reason.contains("bosun-host: spool unusable: /var/lib/bosun-host/spool: Permission denied"), "\(reason)")
        #expect(!reason.contains("more"), "the first line only: \(reason)")
        // Whole lines reach the log (not 1–7 byte pieces), escaped.
        let log = fixture.daemonLog()
        #expect(log.contains("bosun-host: spool unusable: /var/lib/bosun-host/spool: Permission denied"))
        #expect(log.contains("\\u{1b}[31mmore"))
        #expect(!log.contains("\u{1b}[31m"))
    }
}

/// One request, one final answer (issue 7.4): a request whose hook answered on its own is closed
/// with that answer, and no vote can change it afterwards.
@Suite(.serialized, .timeLimit(.minutes(10))) struct OneFinalAnswerTests {
    @Test func aRequestAnsweredOnTheHostWhileTheLinkWasDownEndsWithThatAnswer() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }

        // The agent runs a hook and will go away (it closes the pipe it reads the answer from).
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fixture.binDirectory + "/bosun-host")
        process.arguments = ["--state", fixture.spool(1), "hook", "claude"]
        var environment = ProcessInfo.processInfo.environment
        environment["BOSUN_HOOK_DEADLINE"] = "200"
        // This test is about the agent going away: a long unreachable grace, or under load the
        // hook's own fallback (10 s after it sees the link go) can answer first.
        environment["BOSUN_HOOK_UNREACHABLE_GRACE"] = "190"
        process.environment = environment
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { Fixture.terminate(process) }
        input.fileHandleForWriting.write(
            try JSONSerialization.data(
                withJSONObject: Payload.claude("PreToolUse", "npm install left-pad", description: "deps")))
        try input.fileHandleForWriting.close()
        try await eventually("pending") { fixture.bosun("queue", "--json").jsonLines.count == 1 }
        let number = try #require(fixture.bosun("queue", "--json").jsonLines.first?["number"] as? Int)

        // The link goes down; the agent goes away: the hook answers on its own (a timeout).
        #expect(fixture.fleet("stop", fixture.root, "1").status == 0)
        try await eventually("host down") { fixture.hostState("h1") != "up" }
        try output.fileHandleForReading.close()
        process.waitUntilExit()

        // The supervisor cannot know yet; an operator approves. When the link is back, the request
        // ends with what the agent was told, and the approval is recorded as never applied.
        #expect(fixture.bosun("approve", "\(number)").status == 0)
        #expect(fixture.fleet("start", fixture.root, "1").status == 0)
        // (A long wait: under load the host's report can miss the first link and go with its
        // re-send, 10 s later.)
        try await eventually("closed with the host's answer", timeout: 60) {
            let record = fixture.requests().first { $0["number"] as? Int == number }
            return record?["status"] as? String == "expired"
        }
        let record = try #require(fixture.requests().first { $0["number"] as? Int == number })
        let decidedBy = (record["decision"] as? [String: Any])?["decided_by"] as? String ?? ""
        #expect(decidedBy == "host:h1/agent-gone", "\(record)")
        try await eventually("the approval is recorded as not applied") {
            fixture.audit().contains { $0["kind"] as? String == "not_applied" }
        }
        #expect(!fixture.audit().contains { $0["kind"] as? String == "delivered" }, "never delivered to the agent")

        // No vote on a request whose agent has its answer.
        let again = fixture.bosun("deny", "\(number)", "too", "late")
        #expect(again.status == 1)
        #expect(again.stderr.contains("already answered on host h1"), "\(again.stderr)")
        #expect(fixture.bosun("audit", "verify").status == 0)
    }
}
