import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real HTTP receiver on 127.0.0.1 (Python's http.server, started and stopped by PID) that
/// records every POST (path, headers, body) as a JSON line. No ntfy server is packaged in Debian 12
/// or on PyPI (PyPI's `ntfy` is an unrelated client), so the ntfy shape is checked here against
/// ntfy's documented publish-by-header format.
final class Receiver: @unchecked Sendable {
    let process: Process
    let log: String
    let port: Int

    static let script = """
        import http.server, json, os, sys, threading
        log, portfile, fail_first, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
        count = 0
        lock = threading.Lock()
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                global count
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    count += 1
                    n = count
                    record = {"n": n, "path": self.path, "headers": dict(self.headers.items()),
                              "body": body.decode("utf-8", "replace")}
                    with open(log, "a") as f:
                        f.write(json.dumps(record) + "\\n")
                if mode == "hang":
                    threading.Event().wait()
                self.send_response(500 if n <= fail_first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        with open(portfile + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(portfile + ".tmp", portfile)
        server.serve_forever()
        """

    /// Starts a receiver under `root`; it answers 500 to the first `failFirst` POSTs, then 200;
    /// with `hang`, it records each POST and never answers.
    init(root: String, name: String, failFirst: Int = 0, hang: Bool = false) async throws {
        let script = root + "/receiver.py"
        if !FileManager.default.fileExists(atPath: script) {
            try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        }
        log = root + "/\(name).jsonl"
        let portFile = root + "/\(name).port"
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, log, portFile, String(failFirst), hang ? "hang" : "answer"]
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try await eventually("receiver \(name) listens") { FileManager.default.fileExists(atPath: portFile) }
        port = Int((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "") ?? 0
    }

    func url(_ path: String = "/hook") -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Every POST so far, in arrival order.
    func records(path: String? = nil) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { path == nil || $0["path"] as? String == path }
    }

    /// The bodies of `records(path:)` parsed as JSON objects.
    func messages(path: String? = nil) -> [[String: Any]] {
        records(path: path).compactMap {
            try? JSONSerialization.jsonObject(with: Data(($0["body"] as? String ?? "").utf8)) as? [String: Any]
        }
    }

    func stop() { Fixture.terminate(process, signal: SIGKILL) }
}

extension Fixture {
    func appendToMainConfig(_ text: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: config + "/bosund.toml"))
        handle.seekToEndOfFile()
        handle.write(Data(("\n" + text + "\n").utf8))
        try handle.close()
    }

    /// `audit --json` records of kind `notify`, with their details parsed.
    func notifyAudit() -> [[String: Any]] {
        bosun("audit", "--json").jsonLines.filter { $0["kind"] as? String == "notify" }.compactMap {
            guard let text = $0["details"] as? String else { return $0["details"] as? [String: Any] }
            return try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct NotifyTests {
    func items(_ message: [String: Any]) -> [[String: Any]] { message["items"] as? [[String: Any]] ?? [] }

    func waitUp(_ fixture: Fixture) async throws {
        try await fixture.startDaemon()
        try await eventually("hosts up and welcomed") {
            fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" }
                && (1...fixture.hostCount).allSatisfy {
                    FileManager.default.fileExists(atPath: fixture.spool($0) + "/link.json")
                }
        }
    }

    func pending(_ fixture: Fixture, count: Int) async throws -> [Int] {
        try await eventually("\(count) pending request(s)") {
            fixture.bosun("queue", "--json").jsonLines.count == count
        }
        return fixture.bosun("queue", "--json").jsonLines.compactMap { $0["number"] as? Int }
    }

    @Test func eachKindCarriesTheAskRedactedWithTheLineToActOn() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        let receiver = try await Receiver(root: fixture.root, name: "r")
        defer { receiver.stop() }
        let commandOut = fixture.root + "/command-out.json"
        let script = fixture.root + "/notify-command.sh"
        try "#!/bin/sh\nenv > \(commandOut).env\ncat > \(commandOut).tmp && mv \(commandOut).tmp \(commandOut)\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try fixture.appendToMainConfig(
            """
            [[notify]]
            name = "desk-hook"
            kind = "webhook"
            url = "\(receiver.url("/webhook"))"
            headers = { "X-Token" = "t0ken" }

            [[notify]]
            name = "chat"
            kind = "webhook"
            url = "\(receiver.url("/template"))"
            template = '{"text": "{{title}}", "cmd": "{{command}}", "act": "{{act}}"}'

            [[notify]]
            name = "phone"
            kind = "ntfy"
            url = "\(receiver.url("/bosun-topic"))"
            click = "ssh://sup.example.com:2222/{number}"
            act = "ssh -p 2222 sup"

            [[notify]]
            name = "mailer"
            kind = "command"
            command = ["\(script)"]
            """)
        try await waitUp(fixture)
        let secret = "Bearer abc.def.ghi"
        let command = "curl -H \"Authorization: \(secret)\" https://api.example.com/v1/schema\u{1b}[2J"
        let call = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", command, description: "fetch the API schema"))
        let number = try #require(try await pending(fixture, count: 1).first)
        try await eventually("every target got the ask") {
            receiver.records().count == 3 && FileManager.default.fileExists(atPath: commandOut)
        }

        // Webhook: the documented JSON schema, with the configured header.
        let webhook = try #require(receiver.records(path: "/webhook").first)
        #expect((webhook["headers"] as? [String: String])?["X-Token"] == "t0ken")
        #expect((webhook["headers"] as? [String: String])?["Content-Type"] == "application/json")
        let message = try #require(receiver.messages(path: "/webhook").first)
        #expect(message["schema"] as? String == "bosun.notify.v1")
        #expect(message["event"] as? String == "ask" && message["target"] as? String == "desk-hook")
        let item = try #require(items(message).first)
        #expect(item["number"] as? Int == number && item["host"] as? String == "h1")
        #expect(item["tier"] as? String == "expand")
        #expect((item["thread"] as? String)?.isEmpty == false)
        let sent = item["command"] as? String ?? ""
        #expect(sent.contains("curl -H") && sent.contains("[REDACTED]") && sent.contains("api.example.com"), "\(sent)")
        #expect(sent.contains("\\u{1b}[2J"), "the escape is shown as text: \(sent)")
        #expect((item["summary"] as? String ?? "").contains("purpose: fetch the API schema"), "\(item)")
        #expect(item["act"] as? String == "bosun show \(number)")
        #expect(item["expires_at"] is String)

        // Template: the filled-in body is valid JSON (values escaped).
        let templated = try #require(receiver.messages(path: "/template").first)
        #expect((templated["cmd"] as? String)?.contains("[REDACTED]") == true)
        #expect((templated["text"] as? String)?.hasPrefix("#\(number) expand on h1: curl") == true)

        // ntfy: title, priority by tier, tags and click as headers; the text as the body.
        let ntfy = try #require(receiver.records(path: "/bosun-topic").first)
        let headers = ntfy["headers"] as? [String: String] ?? [:]
        #expect(headers["Title"]?.hasPrefix("#\(number) expand on h1") == true, "\(headers)")
        #expect(headers["Priority"] == "4")
        #expect(headers["Tags"] == "bosun,ask,expand")
        #expect(headers["Click"] == "ssh://sup.example.com:2222/\(number)")
        #expect(headers["Actions"] == "view, Review #\(number), ssh://sup.example.com:2222/\(number)")
        let body = ntfy["body"] as? String ?? ""
        #expect(body.contains("→ ssh -p 2222 sup show \(number)"), "\(body)")
        #expect(body.contains("$ curl -H"), "\(body)")

        // Command: the same JSON on stdin.
        let piped = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: commandOut)))
                as? [String: Any])
        #expect(items(piped).first?["number"] as? Int == number && piped["target"] as? String == "mailer")
        // … in an environment of its own, not bosund's.
        let environment = try String(contentsOfFile: commandOut + ".env", encoding: .utf8)
        #expect(environment.contains("BOSUN_NOTIFY_TARGET=mailer"), "\(environment)")
        #expect(environment.contains("PATH=/usr/local/bin:/usr/bin:/bin\n"), "\(environment)")
        for inherited in ["SSH_AUTH_SOCK", "BOSUN_BIN_DIR"] {
            #expect(!environment.contains(inherited + "="), "\(inherited) leaked: \(environment)")
        }

        // Nothing anywhere carries the secret or a raw escape.
        let everything =
            receiver.records().map { "\($0)" }.joined() + (try String(contentsOfFile: commandOut, encoding: .utf8))
        #expect(!everything.contains("abc.def.ghi"))
        #expect(!everything.contains("\u{1b}"))

        // Audited by target name, never by URL.
        try await eventually("4 deliveries audited") { fixture.notifyAudit().count == 4 }
        let audit = fixture.notifyAudit()
        #expect(Set(audit.compactMap { $0["target"] as? String }) == ["desk-hook", "chat", "phone", "mailer"])
        #expect(audit.allSatisfy { $0["result"] as? String == "sent" && $0["requests"] as? [String] == ["\(number)"] })
        #expect(!fixture.bosun("audit", "--json").stdout.contains("127.0.0.1:\(receiver.port)"))
        #expect(fixture.bosun("deny", "\(number)", "not now").status == 0)
        _ = call.wait()
        #expect(fixture.bosun("audit", "verify").status == 0)
    }

    @Test func digestBatchesAsksAndFiltersRouteByTierAndHost() async throws {
        let fixture = try Fixture(hosts: 2)
        defer { fixture.shutdown() }
        try fixture.addReleaseRule(decision: "ask", reason: "releases need a person")
        let receiver = try await Receiver(root: fixture.root, name: "r")
        defer { receiver.stop() }
        try fixture.appendToMainConfig(
            """
            [[notify]]
            name = "digest"
            kind = "webhook"
            url = "\(receiver.url("/digest"))"
            digest = 10
            events = "ask"

            [[notify]]
            name = "commit-only"
            kind = "webhook"
            url = "\(receiver.url("/commit"))"
            tiers = ["commit"]

            [[notify]]
            name = "h2-only"
            kind = "webhook"
            url = "\(receiver.url("/h2"))"
            hosts = ["h2"]
            events = ["ask"]
            """)
        try await waitUp(fixture)
        let calls = try ["npm install left-pad", "npm install right-pad"].map {
            try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", $0, description: "deps"))
        }
        let first = try await pending(fixture, count: 2)
        try await eventually("one digest of both asks") { !receiver.messages(path: "/digest").isEmpty }
        let digest = try #require(receiver.messages(path: "/digest").first)
        #expect(Set(items(digest).compactMap { $0["number"] as? Int }) == Set(first), "\(digest)")
        #expect((digest["title"] as? String ?? "").hasPrefix("2 requests wait"), "\(digest)")

        let release = try fixture.hook(
            on: 2, "claude", Payload.claude("PreToolUse", "frobnicate-release v2", description: "ship it"))
        let numbers = try await pending(fixture, count: 3)
        let third = try #require(numbers.first { !first.contains($0) })
        // Each target sends in order: its first message being the commit ask on h2 proves the two
        // expand asks on h1 were filtered out, not merely late.
        try await eventually("routed targets got the commit ask") {
            !receiver.messages(path: "/commit").isEmpty && !receiver.messages(path: "/h2").isEmpty
        }
        for path in ["/commit", "/h2"] {
            let routed = receiver.messages(path: path)
            #expect(routed.count == 1, "\(path): \(routed)")
            #expect(routed.first.map(items)?.compactMap { $0["number"] as? Int } == [third], "\(path)")
            #expect(routed.first.map(items)?.first?["tier"] as? String == "commit")
        }
        try await eventually("the second digest") { receiver.messages(path: "/digest").count == 2 }
        #expect(receiver.messages(path: "/digest").last.map(items)?.first?["number"] as? Int == third)
        for number in numbers { #expect(fixture.bosun("deny", "\(number)", "test over").status == 0) }
        for call in calls + [release] { _ = call.wait() }
    }

    @Test func aWarningBeforeTheTtlRunsOut() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try fixture.addPolicy("zz-test.toml", "[tier.expand]\nttl = 8\n")
        let receiver = try await Receiver(root: fixture.root, name: "r")
        defer { receiver.stop() }
        try fixture.appendToMainConfig(
            """
            [[notify]]
            name = "early"
            kind = "webhook"
            url = "\(receiver.url("/early"))"
            events = ["expiring"]
            warn_before = 6

            [[notify]]
            name = "default"
            kind = "ntfy"
            url = "\(receiver.url("/default"))"
            events = ["expiring"]
            """)
        try await waitUp(fixture)
        let call = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "pip install requests", description: "client"))
        let number = try #require(try await pending(fixture, count: 1).first)
        try await eventually("the warn_before warning") { !receiver.messages(path: "/early").isEmpty }
        // Sent while the request still waits: a warning, not a post-mortem.
        #expect(fixture.bosun("queue", "--json").jsonLines.first?["number"] as? Int == number)
        let warning = try #require(receiver.messages(path: "/early").first)
        #expect(warning["event"] as? String == "expiring")
        #expect(items(warning).first?["number"] as? Int == number)
        #expect((warning["title"] as? String ?? "").hasPrefix("#\(number) expires in"), "\(warning)")
        try await eventually("the 80 % warning") { !receiver.records(path: "/default").isEmpty }
        let ntfy = try #require(receiver.records(path: "/default").first)
        #expect((ntfy["headers"] as? [String: String])?["Tags"] == "bosun,expiring,expand")
        #expect((ntfy["headers"] as? [String: String])?["Priority"] == "5", "expiring raises the priority")
        // The request then expires; only one warning per target.
        _ = call.wait()
        #expect(receiver.records().count == 2)
    }

    @Test func aRequestPendingAcrossARestartStillGetsItsWarning() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try fixture.addPolicy("zz-test.toml", "[tier.expand]\nttl = 14\n")
        let receiver = try await Receiver(root: fixture.root, name: "r")
        defer { receiver.stop() }
        try fixture.appendToMainConfig(
            """
            [[notify]]
            kind = "webhook"
            url = "\(receiver.url())"
            events = ["expiring"]
            warn_before = 5
            """)
        try await waitUp(fixture)
        let call = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "pip install requests", description: "client"), grace: 60)
        let number = try #require(try await pending(fixture, count: 1).first)
        fixture.stopDaemon()
        #expect(receiver.records().isEmpty, "stopped before the warning was due")
        try await waitUp(fixture)
        try await eventually("the warning after the restart") { !receiver.messages().isEmpty }
        #expect(receiver.messages().first.map(items)?.first?["number"] as? Int == number)
        #expect(receiver.messages().first?["event"] as? String == "expiring")
        #expect(fixture.bosun("deny", "\(number)", "done").status == 0)
        _ = call.wait()
    }

    @Test func aFailedDeliveryIsRetriedWithBackoffThenAudited() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        let flaky = try await Receiver(root: fixture.root, name: "flaky", failFirst: 2)
        defer { flaky.stop() }
        let broken = try await Receiver(root: fixture.root, name: "broken", failFirst: 1000)
        defer { broken.stop() }
        try fixture.appendToMainConfig(
            """
            [[notify]]
            name = "flaky"
            kind = "webhook"
            url = "\(flaky.url())"
            backoff = 0.1

            [[notify]]
            name = "broken"
            kind = "ntfy"
            url = "\(broken.url())"
            attempts = 3
            backoff = 0.1
            """)
        try await waitUp(fixture)
        let call = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "npm install left-pad", description: "deps"))
        let number = try #require(try await pending(fixture, count: 1).first)
        try await eventually("both outcomes audited") { fixture.notifyAudit().count == 2 }
        let audit = Dictionary(
            fixture.notifyAudit().map { ($0["target"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(audit["flaky"]?["result"] as? String == "sent")
        #expect(audit["flaky"]?["attempts"] as? Int == 3)
        #expect(audit["broken"]?["result"] as? String == "failed")
        #expect(audit["broken"]?["attempts"] as? Int == 3)
        #expect(audit["broken"]?["error"] as? String == "HTTP 500")
        #expect(flaky.records().count == 3 && broken.records().count == 3)
        // Each retry carries the same message.
        #expect(Set(flaky.records().compactMap { $0["body"] as? String }).count == 1)
        #expect(fixture.bosun("approve", "\(number)").status == 0)
        _ = call.wait()
    }

    @Test func aHangingOrUnreachableReceiverNeverDelaysADecision() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        let hanging = try await Receiver(root: fixture.root, name: "hang", hang: true)
        defer { hanging.stop() }
        try fixture.appendToMainConfig(
            """
            [[notify]]
            name = "hanging"
            kind = "webhook"
            url = "\(hanging.url())"
            timeout = 600
            attempts = 1

            [[notify]]
            name = "nobody"
            kind = "webhook"
            url = "http://127.0.0.1:1/hook"
            backoff = 600

            [[notify]]
            name = "stuck-command"
            kind = "command"
            command = ["/bin/sleep", "600"]
            timeout = 600
            """)
        try await waitUp(fixture)
        let call = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "npm install left-pad", description: "deps"))
        let number = try #require(try await pending(fixture, count: 1).first)
        try await eventually("the hanging receiver holds the notification") { hanging.records().count == 1 }
        #expect(fixture.bosun("approve", "\(number)").status == 0)
        let answer = call.wait()
        #expect(Payload.specific(answer)?["permissionDecision"] as? String == "allow", "\(answer.stdout)")
        // Policy decisions and new asks go on while all three targets are stuck.
        let allowed = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "git status")).wait()
        #expect(allowed.status == 0, "\(allowed.stderr)")
        let second = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "npm install right-pad", description: "deps"))
        let next = try #require(try await pending(fixture, count: 1).first)
        #expect(fixture.bosun("deny", "\(next)", "no").status == 0)
        #expect(Payload.specific(second.wait())?["permissionDecision"] as? String == "deny")
        // None of the stuck deliveries has finished: the decisions did not wait for them.
        #expect(fixture.notifyAudit().isEmpty, "\(fixture.notifyAudit())")
        #expect(hanging.records().count == 1, "the second ask waits behind the first in the target's queue")
    }

    @Test func aBreakerAndAHostGoingDownWithAsksWaitingAreNotified() async throws {
        let fixture = try Fixture(hosts: 2)
        defer { fixture.shutdown() }
        let receiver = try await Receiver(root: fixture.root, name: "r")
        defer { receiver.stop() }
        try fixture.appendToMainConfig(
            """
            [[notify]]
            name = "ops"
            kind = "webhook"
            url = "\(receiver.url("/ops"))"
            events = ["host_down", "breaker"]
            """)
        try await waitUp(fixture)
        let call = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "npm install left-pad", description: "deps"))
        let number = try #require(try await pending(fixture, count: 1).first)
        // h2 has nothing waiting: its going down is not worth a message; h1's is.
        #expect(fixture.fleet("stop", fixture.root, "2").status == 0)
        try await eventually("h2 down") { fixture.hostState("h2") != "up" }
        #expect(fixture.fleet("stop", fixture.root, "1").status == 0)
        try await eventually("host_down message") { !receiver.messages(path: "/ops").isEmpty }
        let down = try #require(receiver.messages(path: "/ops").first)
        #expect(down["event"] as? String == "host_down")
        #expect(items(down).first?["host"] as? String == "h1")
        #expect(items(down).first?["waiting"] as? Int == 1)
        #expect((items(down).first?["summary"] as? String)?.contains("#\(number)") == true)
        #expect(items(down).first?["act"] as? String == "bosun hosts")

        #expect(fixture.bosun("pause", "all", "incident 7").status != 2)
        try await eventually("breaker message") { receiver.messages(path: "/ops").count == 2 }
        let breaker = try #require(receiver.messages(path: "/ops").last)
        #expect(breaker["event"] as? String == "breaker" && breaker["priority"] as? Int == 5)
        #expect((breaker["title"] as? String ?? "").contains("incident 7"))
        #expect(items(breaker).first?["act"] as? String == "bosun resume all")
        #expect(fixture.fleet("start", fixture.root, "1").status == 0)
        #expect(fixture.bosun("deny", "\(number)", "done").status == 0)
        _ = call.wait()
    }
}
