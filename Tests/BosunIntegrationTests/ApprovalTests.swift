import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Hook payloads in the shapes the real agents send (AGENTS.md).
enum Payload {
    static func codexPreToolUse(_ command: String, session: String = "019a0c1e-codex", cwd: String = "/tmp")
        -> [String: Any]
    {
        [
            "session_id": session, "transcript_path": "/tmp/codex-transcript.jsonl", "cwd": cwd,
            "hook_event_name": "PreToolUse", "permission_mode": "default", "turn_id": "turn-1", "model": "gpt-5-codex",
            "tool_name": "Bash", "tool_input": ["command": command],
            "tool_use_id": "call_\(UUID().uuidString.prefix(8))",
        ]
    }

    static func claude(
        _ event: String, _ command: String, description: String? = nil, session: String = "5f1c-claude",
        cwd: String = "/tmp"
    ) -> [String: Any] {
        var input: [String: Any] = ["command": command]
        if let description { input["description"] = description }
        var payload: [String: Any] = [
            "session_id": session, "transcript_path": "/tmp/claude-transcript.jsonl", "cwd": cwd,
            "hook_event_name": event, "permission_mode": "default", "prompt_id": "p-1", "tool_name": "Bash",
            "tool_input": input,
        ]
        if event != "PermissionRequest" { payload["tool_use_id"] = "toolu_\(UUID().uuidString.prefix(8))" }
        return payload
    }

    /// `hookSpecificOutput` of a JSON answer.
    static func specific(_ result: CommandResult) -> [String: Any]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            return nil
        }
        return object["hookSpecificOutput"] as? [String: Any]
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct ApprovalTests {
    /// Waits until `count` requests are pending and returns their numbers, oldest first.
    func pending(_ fixture: Fixture, count: Int) async throws -> [Int] {
        try await eventually("\(count) pending request(s)") {
            fixture.bosun("queue", "--json").jsonLines.count == count
        }
        return fixture.bosun("queue", "--json").jsonLines.compactMap { $0["number"] as? Int }
    }

    func up(_ hosts: Int = 1) async throws -> Fixture {
        let fixture = try Fixture(hosts: hosts)
        try await fixture.startDaemon()
        try await eventually("hosts up and welcomed") {
            fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" }
                && (1...hosts).allSatisfy { FileManager.default.fileExists(atPath: fixture.spool($0) + "/link.json") }
        }
        return fixture
    }

    @Test func policyAllowsAndDeniesAtOnceInEachAgentsShape() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }

        // Codex: allow is an empty answer.
        let codexAllow = try fixture.hook(on: 1, "codex", Payload.codexPreToolUse("git status")).wait()
        #expect(codexAllow.status == 0)
        #expect(codexAllow.stdout.isEmpty, "Codex PreToolUse allow must print nothing: \(codexAllow.stdout)")

        // Codex: deny carries the reason to the model.
        let codexDeny = try fixture.hook(on: 1, "codex", Payload.codexPreToolUse("git status; git push origin main"))
            .wait()
        let denied = try #require(Payload.specific(codexDeny), "\(codexDeny.stdout)")
        #expect(denied["permissionDecision"] as? String == "deny")
        #expect(denied["hookEventName"] as? String == "PreToolUse")
        #expect(((denied["permissionDecisionReason"] as? String) ?? "").contains("Bosun policy"))

        // Claude: allow and deny are explicit.
        let claudeAllow = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "ls -la")).wait()
        #expect(Payload.specific(claudeAllow)?["permissionDecision"] as? String == "allow")
        let claudeDeny = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "bash -c \"git push --force origin main\"")
        ).wait()
        #expect(Payload.specific(claudeDeny)?["permissionDecision"] as? String == "deny")

        // Nothing waited for a person; everything is audited and the chain verifies.
        #expect(fixture.bosun("queue", "--json").jsonLines.isEmpty)
        let all = fixture.bosun("queue", "--all", "--json").jsonLines
        #expect(all.map { $0["status"] as? String } == ["allowed", "denied", "allowed", "denied"])
        let audit = fixture.bosun("audit", "--json").jsonLines.map { $0["kind"] as? String ?? "" }
        #expect(audit.filter { $0 == "request" }.count == 4)
        #expect(audit.filter { $0 == "decision" }.count == 4)
        try await eventually("all four decisions delivered") {
            fixture.bosun("audit", "--json").jsonLines.filter { $0["kind"] as? String == "delivered" }.count == 4
        }
        #expect(fixture.bosun("audit", "verify").status == 0)
    }

    @Test func askThenApproveReachesTheAgentAndPermissionRequestIsNotAskedAgain() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }
        let payload = Payload.claude("PreToolUse", "npm install left-pad", description: "Add the padding dependency")
        let call = try fixture.hook(on: 1, "claude", payload)
        let number = try #require(try await pending(fixture, count: 1).first)

        let shown = fixture.bosun("show", "#\(number)")
        #expect(shown.stdout.contains("npm install left-pad"))
        #expect(shown.stdout.contains("Add the padding dependency"))
        try await eventually("the thread is waiting") {
            fixture.threads().contains { $0["state"] as? String == "waiting" }
        }
        let approved = fixture.bosun("approve", "\(number)", "fine for this branch")
        #expect(approved.status == 0, "\(approved.stderr)")
        let answer = call.wait()
        #expect(Payload.specific(answer)?["permissionDecision"] as? String == "allow", "\(answer.stdout)")

        // The PermissionRequest for the same call is answered from the PreToolUse decision.
        var permission = Payload.claude("PermissionRequest", "npm install left-pad")
        permission["permission_suggestions"] = []
        let second = try fixture.hook(on: 1, "claude", permission).wait()
        let decision = Payload.specific(second)?["decision"] as? [String: Any]
        #expect(decision?["behavior"] as? String == "allow", "\(second.stdout)")
        #expect(fixture.bosun("queue", "--all", "--json").jsonLines.count == 1, "asked once")
        #expect(fixture.bosun("audit", "verify").status == 0)
    }

    @Test func askThenDenySendsTheReasonToTheAgent() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }
        var payload = Payload.codexPreToolUse("curl -fsSL https://example.com/install.sh -o install.sh")
        payload["tool_input"] = [
            "command": "curl -fsSL https://example.com/install.sh -o install.sh", "description": "fetch installer",
        ]
        let call = try fixture.hook(on: 1, "codex", payload)
        let number = try #require(try await pending(fixture, count: 1).first)
        #expect(fixture.bosun("deny", "#\(number)").status == 2, "a deny needs a reason")
        #expect(fixture.bosun("deny", "#\(number)", "use", "the", "vendored", "copy").status == 0)
        let answer = call.wait()
        let specific = try #require(Payload.specific(answer), "\(answer.stdout)")
        #expect(specific["permissionDecision"] as? String == "deny")
        #expect((specific["permissionDecisionReason"] as? String ?? "").contains("use the vendored copy"))
        #expect(fixture.bosun("approve", "\(number)").status == 1, "already decided")
    }

    @Test func anUnansweredRequestExpiresAsATimeoutNotADenial() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try fixture.addPolicy("zz-test.toml", "[tier.expand]\nttl = 2\n")
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
        let call = try fixture.hook(
            on: 1, "claude",
            Payload.claude("PreToolUse", "pip install requests", description: "needed for the API client"))
        let answer = call.wait()
        let specific = try #require(Payload.specific(answer), "\(answer.stdout)")
        #expect(specific["permissionDecision"] as? String == "deny")
        let reason = specific["permissionDecisionReason"] as? String ?? ""
        #expect(reason.contains("expired") || reason.contains("no decision"), "\(reason)")
        #expect(reason.contains("not a denial"), "\(reason)")
        let record = try #require(fixture.bosun("queue", "--all", "--json").jsonLines.first)
        #expect(record["status"] as? String == "expired")
        #expect(fixture.bosun("audit", "--json").jsonLines.contains { $0["kind"] as? String == "expiry" })
    }

    @Test func aHostCannotFloodTheQueue() async throws {
        let fixture = try Fixture(hosts: 1, links: "max_pending_requests = 2")
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
        let waiting = try (1...2).map {
            try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "npm install p\($0)", description: "deps"))
        }
        _ = try await pending(fixture, count: 2)
        let third = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "npm install p3", description: "deps")
        ).wait()
        let specific = try #require(Payload.specific(third), "\(third.stdout)")
        #expect(specific["permissionDecision"] as? String == "deny")
        #expect((specific["permissionDecisionReason"] as? String ?? "").contains("already wait for a person"))
        for number in 1...2 { #expect(fixture.bosun("deny", "\(number)", "no").status == 0) }
        for call in waiting { _ = call.wait() }
    }

    @Test func codexCannotStateAReasonSoItsAskWaitsForAPersonShowingWhatIsMissing() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }
        let call = try fixture.hook(on: 1, "codex", Payload.codexPreToolUse("npm install left-pad"))
        let number = try #require(try await pending(fixture, count: 1).first)
        let queued = try #require(fixture.bosun("queue", "--json").jsonLines.first)
        #expect(queued["missing_evidence"] as? [String] == ["reason"])
        #expect(fixture.bosun("queue").stdout.contains("reason"))
        #expect(fixture.bosun("approve", "\(number)").status == 0)
        #expect(call.wait().stdout.isEmpty, "Codex allow is an empty answer")
    }

    @Test func aHookInAnotherPIDNamespaceStillSeesTheLink() async throws {
        // Agents run hooks in sandboxes with their own /proc; the link is found by its lock, not a pid.
        let fixture = try await up()
        defer { fixture.shutdown() }
        let payload = try JSONSerialization.data(withJSONObject: Payload.claude("PreToolUse", "git status"))
        try payload.write(to: URL(fileURLWithPath: fixture.root + "/payload.json"))
        let result = Fixture.run(
            "/usr/bin/unshare",
            [
                "--pid", "--fork", "--mount-proc", "/bin/sh", "-c",
                "\(Fixture.binDirectory)/bosun-host --state \(fixture.spool(1)) hook claude < \(fixture.root)/payload.json",
            ])
        let specific = try #require(Payload.specific(result), "\(result.stdout)\(result.stderr)")
        #expect(specific["permissionDecision"] as? String == "allow")
        let reason = specific["permissionDecisionReason"] as? String ?? ""
        #expect(reason.hasPrefix("Bosun policy (git-read)"), "decided by bosund, not the snapshot: \(reason)")
    }

    @Test func aHookWhoseAgentWentAwayStopsWaiting() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }
        let payload = try JSONSerialization.data(
            withJSONObject: Payload.claude("PreToolUse", "npm install gone", description: "deps"))
        try payload.write(to: URL(fileURLWithPath: fixture.root + "/payload.json"))
        // The reader of the hook's stdout (the agent) exits at once; the hook has a 60 s deadline.
        let result = Fixture.run(
            "/bin/sh",
            [
                "-c",
                "BOSUN_HOOK_DEADLINE=60 \(Fixture.binDirectory)/bosun-host --state \(fixture.spool(1)) hook claude < \(fixture.root)/payload.json | true",
            ])
        #expect(result.status == 0)
        try await eventually("closed as the agent going away", timeout: 60) {
            fixture.bosun("audit", "--json").jsonLines.contains {
                $0["kind"] as? String == "local_decision"
                    && ($0["details"] as? [String: Any]).map { "\($0)" }?.contains("the agent went away") == true
            }
        }
        #expect(fixture.bosun("queue", "--json").jsonLines.isEmpty, "nobody is asked to approve it")
    }

    @Test func missingRequiredEvidenceIsDeniedWithWhatToSupply() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }
        let answer = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "npm install left-pad")).wait()
        let specific = try #require(Payload.specific(answer), "\(answer.stdout)")
        #expect(specific["permissionDecision"] as? String == "deny")
        #expect((specific["permissionDecisionReason"] as? String ?? "").contains("reason"))
    }

    @Test func withoutASupervisorTheSnapshotDecidesAndAsksFailClosed() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }
        fixture.stopDaemon()
        try await eventually("link marker gone") {
            !FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json")
        }

        let allow = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "git diff --stat")).wait()
        #expect(Payload.specific(allow)?["permissionDecision"] as? String == "allow", "\(allow.stdout)")
        let ask = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "npm install left-pad", description: "dependency")
        ).wait()
        let denied = try #require(Payload.specific(ask), "\(ask.stdout)")
        #expect(denied["permissionDecision"] as? String == "deny")
        #expect((denied["permissionDecisionReason"] as? String ?? "").contains("supervisor unreachable"))

        // Back online: both local decisions reach the audit log.
        try await fixture.startDaemon()
        try await eventually("local decisions audited") {
            fixture.bosun("audit", "--json").jsonLines.filter { $0["kind"] as? String == "local_decision" }.count == 2
        }
        let records = fixture.bosun("queue", "--all", "--json").jsonLines
        #expect(Set(records.compactMap { $0["status"] as? String }) == ["allowed", "denied"])
        #expect(records.allSatisfy { $0["local"] as? Bool == true })
        #expect(fixture.bosun("audit", "verify").status == 0)
    }

    @Test func aKilledSupervisorLosesNothingAndAnswersEachHookOnce() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }
        let commands = ["npm install a", "npm install b", "npm install c"]
        // A long grace: this test is about a restart within it (under load a restart can take
        // seconds); the fallback after the grace has its own tests (LinkFailureTests).
        let calls = try commands.map {
            try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", $0, description: "deps"), grace: 60)
        }
        _ = try await pending(fixture, count: 3)
        // The hooks ran concurrently: find each command's request number.
        var byCommand: [String: Int] = [:]
        for line in fixture.bosun("queue", "--json").jsonLines {
            if let evidence = line["evidence"] as? [String: Any], let command = evidence["command"] as? String {
                byCommand[command] = line["number"] as? Int
            }
        }
        let numbers = try commands.map { try #require(byCommand[$0]) }
        #expect(fixture.bosun("approve", "\(numbers[0])").status == 0)
        fixture.stopDaemon(signal: SIGKILL)  // with one decision possibly in flight, two pending

        try await fixture.startDaemon()
        #expect(fixture.bosun("approve", "\(numbers[1])").status == 0)
        #expect(fixture.bosun("deny", "\(numbers[2])", "not", "now").status == 0)
        let answers = calls.map { $0.wait() }
        let verdicts = answers.map { Payload.specific($0)?["permissionDecision"] as? String }
        #expect(verdicts == ["allow", "allow", "deny"], "\(answers.map(\.stdout))")
        for answer in answers {
            #expect(answer.stdout.split(separator: "\n").count == 1, "exactly one answer: \(answer.stdout)")
        }
        #expect(fixture.bosun("audit", "verify").status == 0)
    }

    @Test func aCutLinkMidDecisionDeliversOnReconnect() async throws {
        let fixture = try await up()
        defer { fixture.shutdown() }
        let call = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "npm install left-pad", description: "deps"), grace: 60)
        let number = try #require(try await pending(fixture, count: 1).first)
        #expect(fixture.fleet("stop", fixture.root, "1").status == 0)
        try await eventually("host down") { fixture.hostState("h1") != "up" }
        #expect(fixture.bosun("approve", "\(number)").status == 0)
        #expect(call.isRunning, "the decision waits in the outbox")
        #expect(fixture.fleet("start", fixture.root, "1").status == 0)
        let answer = call.wait()
        #expect(Payload.specific(answer)?["permissionDecision"] as? String == "allow", "\(answer.stdout)")
        try await eventually("delivery audited") {
            fixture.bosun("audit", "--json").jsonLines.contains { $0["kind"] as? String == "delivered" }
        }
        #expect(fixture.bosun("audit", "verify").status == 0)
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct HookLifecycleTests {
    func lifecycle(_ event: String, session: String, extra: [String: Any] = [:]) -> [String: Any] {
        var payload: [String: Any] = [
            "session_id": session, "transcript_path": "/tmp/t.jsonl", "cwd": "/tmp", "hook_event_name": event,
            "permission_mode": "default",
        ]
        payload.merge(extra) { $1 }
        return payload
    }

    @Test func sessionHooksTrackTheThreadAndTestsBecomeEvidence() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
        let session = "7d2e91aa-claude"

        #expect(
            try fixture.hook(on: 1, "claude", lifecycle("SessionStart", session: session, extra: ["source": "startup"]))
                .wait().status == 0)
        let prompt = lifecycle(
            "UserPromptSubmit", session: session, extra: ["prompt": "fix the \u{1B}[31mflaky\u{1B}[0m test"])
        #expect(try fixture.hook(on: 1, "claude", prompt).wait().stdout.isEmpty)
        try await eventually("the session shows as a running claude thread") {
            fixture.threads().contains {
                $0["id"] as? String == "s-\(session)" && $0["agent"] as? String == "claude"
                    && $0["state"] as? String == "running"
            }
        }
        #expect(fixture.bosun("threads").stdout.contains("s-\(session)"))

        // A test run (PostToolUse) becomes evidence on the next request of the thread.
        var post = Payload.claude("PostToolUse", "pytest -q tests/test_api.py", session: session)
        post["tool_response"] = ["stdout": "3 passed", "stderr": "", "interrupted": false, "exit_code": 0]
        #expect(try fixture.hook(on: 1, "claude", post).wait().status == 0)
        let call = try fixture.hook(
            on: 1, "claude",
            Payload.claude("PreToolUse", "pip install httpx", description: "the client needs it", session: session))
        try await eventually("queued") { fixture.bosun("queue", "--json").jsonLines.count == 1 }
        let request = try #require(fixture.bosun("queue", "--json").jsonLines.first)
        let evidence = try #require(request["evidence"] as? [String: Any])
        let tests = try #require(evidence["tests_run"] as? [[String: Any]])
        #expect(tests.first?["command"] as? String == "pytest -q tests/test_api.py")
        #expect(tests.first?["exit_code"] as? Int == 0)
        #expect((evidence["network"] as? [String])?.isEmpty == false, "pip install uses the network")
        #expect(
            fixture.bosun("show", "\(request["number"] as? Int ?? 0)").stdout.contains("pytest -q tests/test_api.py"))
        #expect(fixture.bosun("deny", "\(request["number"] as? Int ?? 0)", "later").status == 0)
        _ = call.wait()

        #expect(
            try fixture.hook(on: 1, "claude", lifecycle("Stop", session: session, extra: ["stop_hook_active": false]))
                .wait().status == 0)
        try await eventually("idle after Stop") {
            fixture.threads().first { $0["id"] as? String == "s-\(session)" }?["state"] as? String == "idle"
        }
        #expect(
            try fixture.hook(on: 1, "claude", lifecycle("SessionEnd", session: session, extra: ["reason": "exit"]))
                .wait().status == 0)
        try await eventually("exited after SessionEnd") {
            fixture.threads().first { $0["id"] as? String == "s-\(session)" }?["state"] as? String == "exited"
        }
        // Untrusted text from hosts never reaches a terminal raw.
        #expect(!fixture.bosun("threads").stdout.contains("\u{1B}"))
    }

    @Test func secretsAreRedactedBeforeTheyLeaveTheHost() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
        let secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
        let call = try fixture.hook(
            on: 1, "claude",
            Payload.claude(
                "PreToolUse", "curl -H 'Authorization: Bearer \(secret)' https://api.github.com/user",
                description: "check the token works"))
        try await eventually("queued") { fixture.bosun("queue", "--json").jsonLines.count == 1 }
        let queue = fixture.bosun("queue", "--json").stdout
        #expect(!queue.contains(secret))
        #expect(queue.contains("[REDACTED]"))
        let spooled = try FileManager.default.contentsOfDirectory(atPath: fixture.spool(1) + "/requests")
            .map { try String(contentsOfFile: fixture.spool(1) + "/requests/" + $0, encoding: .utf8) }.joined()
        #expect(!spooled.contains(secret))
        #expect(fixture.bosun("deny", "1", "no").status == 0)
        _ = call.wait()
        #expect(!fixture.bosun("audit", "--json").stdout.contains(secret))
    }

    @Test func policyExplainAndCheckGoThroughTheSameRules() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        let explained = fixture.bosun("policy", "explain", "--", "git", "status", "&&", "git", "push", "origin", "main")
        #expect(explained.status == 1, "exit 1: the policy denies it")
        #expect(explained.stdout.hasSuffix("\n"))
        #expect(explained.stdout.contains("commit"))
        #expect(explained.stdout.contains("deny"))
        #expect(explained.stdout.contains("default.toml:"), "names the deciding rule's file and line")
        let offline = Fixture.run(
            Fixture.binDirectory + "/bosun", ["policy", "explain", "--config", fixture.config, "--", "ls", "-la"])
        #expect(offline.stdout.contains("allow"), "\(offline.stdout)\(offline.stderr)")
        #expect(offline.status == 0 && offline.stdout.hasSuffix("\n"), "offline explain: 0 for allow")
        let offlinePush = Fixture.run(
            Fixture.binDirectory + "/bosun",
            ["policy", "explain", "--config", fixture.config, "--", "git", "push", "origin", "main"])
        #expect(offlinePush.status == 1, "offline explain: 1 for deny, as over the socket: \(offlinePush.stdout)")

        try fixture.addPolicy(
            "zz-bad.toml",
            """
            [[rule]]
            id = "too-broad"
            tier = "continue"
            decision = "allow"
            reason = "testing"
            match.argv = ["git"]
            examples.not_match = ["git push"]
            """)
        let check = Fixture.run(Fixture.binDirectory + "/bosun", ["check", "--config", fixture.config])
        #expect(check.status == 78)
        #expect(check.stderr.contains("zz-bad.toml"), "\(check.stderr)")
        #expect(check.stderr.contains("git push"), "names the failing example: \(check.stderr)")
    }
}
