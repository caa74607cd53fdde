import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// End to end through real sshd hosts, a real bosund and the real CLI.
@Suite(.serialized, .timeLimit(.minutes(10))) struct FleetTests {
    @Test func threadsOnEveryHostAppearWithHostCwdAndState() async throws {
        let fixture = try Fixture(hosts: 3)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("all hosts up") { fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" } }

        let repo = fixture.root + "/work/repo"
        try FileManager.default.createDirectory(atPath: repo + "/.git", withIntermediateDirectories: true)
        try "ref: refs/heads/feature-x\n".write(toFile: repo + "/.git/HEAD", atomically: true, encoding: .utf8)
        for host in 1...3 {
            try fixture.runThread(on: host, cwd: host == 2 ? repo : "/tmp", "sleep", "600")
        }
        try fixture.runThread(on: 3, cwd: "/", "sh", "-c", "exit 7")

        // Listed once the short thread has also exited (it may show as running for a moment).
        try await eventually("four threads listed, the short one exited") {
            let listed = fixture.threads()
            return listed.count == 4 && listed.contains { $0["state"] as? String == "exited" }
        }
        let threads = fixture.threads()
        for host in ["h1", "h2", "h3"] {
            let running = threads.filter { $0["host"] as? String == host && $0["state"] as? String == "running" }
            #expect(running.count == 1, "\(host): \(threads)")
            #expect(running.first?["argv"] as? [String] == ["sleep", "600"])
            #expect(running.first?["stale"] as? Bool == false)
        }
        let onH2 = try #require(threads.first { $0["host"] as? String == "h2" })
        #expect(onH2["cwd"] as? String == repo)
        #expect(onH2["repo"] as? String == repo)
        #expect(onH2["branch"] as? String == "feature-x")
        #expect((threads.first { $0["host"] as? String == "h1" })?["cwd"] as? String == "/tmp")

        try await eventually("the short thread shows as exited with its status") {
            fixture.threads().contains {
                $0["host"] as? String == "h3" && $0["state"] as? String == "exited" && $0["exit_code"] as? Int == 7
            }
        }

        // Filters and the human table.
        #expect(fixture.bosun("threads", "--json", "--host", "h2").jsonLines.count == 1)
        #expect(fixture.bosun("threads", "--json", "--state", "exited").jsonLines.count == 1)
        #expect(
            fixture.bosun("threads", "--json", "--label", "rack=b").jsonLines.map { $0["host"] as? String } == ["h2"])
        let table = fixture.bosun("threads")
        #expect(table.status == 0)
        #expect(table.stdout.hasPrefix("THREAD"))
        #expect(table.stdout.contains("h2/"))
        #expect(table.stdout.contains("feature-x"))
        let hosts = fixture.bosun("hosts")
        #expect(hosts.status == 0)
        #expect(hosts.stdout.contains("rack=a"))
    }

    @Test func aThreadThatEndsShowsAsExited() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        let process = try fixture.runThread(on: 1, "sleep", "600")
        try await eventually("thread running") { fixture.threads().first?["state"] as? String == "running" }
        kill(process.processIdentifier, SIGTERM)  // forwarded to the agent's process group
        process.waitUntilExit()
        try await eventually("thread exited") { fixture.threads().first?["state"] as? String == "exited" }
        #expect(fixture.threads().first?["exit_code"] as? Int == 128 + Int(SIGTERM))
    }

    @Test func killingOneHostMarksItDownAndStaleThenItReconnects() async throws {
        let fixture = try Fixture(hosts: 3)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        for host in 1...3 { try fixture.runThread(on: host, "sleep", "600") }
        try await eventually("three live threads") {
            let threads = fixture.threads()
            return threads.count == 3 && threads.allSatisfy { $0["stale"] as? Bool == false }
        }

        #expect(fixture.fleet("stop", fixture.root, "2").status == 0)
        try await eventually("h2 down") { fixture.hostState("h2") == "backoff" }
        let hosts = fixture.hosts()
        #expect(hosts["h1"]?["state"] as? String == "up")
        #expect(hosts["h3"]?["state"] as? String == "up")
        #expect((hosts["h2"]?["reason"] as? String)?.isEmpty == false)
        let threads = fixture.threads()
        #expect(threads.filter { $0["stale"] as? Bool == true }.map { $0["host"] as? String } == ["h2"])
        #expect(fixture.bosun("threads").status == 3, "unreachable hosts give exit 3")
        #expect(fixture.bosun("hosts").status == 3)
        #expect(fixture.bosun("threads").stdout.contains("(stale)"))
        #expect(fixture.bosun("threads", "--host", "h1").status == 0, "filtered to reachable hosts")

        // A thread started while h2 is away is reported when it comes back.
        try fixture.runThread(on: 2, "sleep", "601")
        #expect(fixture.fleet("start", fixture.root, "2").status == 0)
        try await eventually("h2 back, its threads current") {
            let threads = fixture.threads()
            return fixture.hostState("h2") == "up" && threads.count == 4
                && threads.allSatisfy { $0["stale"] as? Bool == false }
        }
        #expect(fixture.bosun("threads").status == 0)
    }

    @Test func aChangedHostKeyRefusesTheLink() async throws {
        let fixture = try Fixture(hosts: 2)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("both up") { fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" } }
        let rekey = fixture.fleet("rekey", fixture.root, "2")
        #expect(rekey.status == 0)
        let newKey = rekey.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // State and reason from one listing: a refused link retries at the backoff cap, so a second
        // call can find it connecting again, with no reason to show.
        var reason = ""
        try await eventually("h2 refused") {
            guard let h2 = fixture.hosts()["h2"], h2["state"] as? String == "refused" else { return false }
            reason = h2["reason"] as? String ?? ""
            return true
        }
        #expect(reason.contains("HOST KEY CHANGED"))
        #expect(reason.contains(newKey))
        #expect(fixture.hostState("h1") == "up")
        #expect(fixture.bosun("hosts").stdout.contains("HOST KEY CHANGED"))
    }

    @Test func anUnknownHostKeyIsRefusedButAPinAccepts() async throws {
        let fixture = try Fixture(hosts: 2)
        defer { fixture.shutdown() }
        // Forget every host key; pin h2's instead.
        try "".write(toFile: fixture.root + "/known_hosts", atomically: true, encoding: .utf8)
        let pin = fixture.fleet("fingerprint", fixture.root, "2").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let h2File = fixture.config + "/hosts/h2.toml"
        let text = try String(contentsOfFile: h2File, encoding: .utf8)
        try text.replacingOccurrences(of: "[labels]", with: "host_key = \"\(pin)\"\n\n[labels]")
            .write(toFile: h2File, atomically: true, encoding: .utf8)
        try await fixture.startDaemon()
        var reason = ""
        try await eventually("h1 refused, h2 up") {
            let hosts = fixture.hosts()
            guard hosts["h1"]?["state"] as? String == "refused", hosts["h2"]?["state"] as? String == "up" else {
                return false
            }
            reason = hosts["h1"]?["reason"] as? String ?? ""
            return true
        }
        #expect(reason.contains("unknown host key SHA256:"))
        #expect(fixture.hosts()["h2"]?["host_key"] as? String == pin)
    }

    /// Issue 10: libssh is handed only the known_hosts lines that can concern the host
    /// (KnownHostsIndex); hashed names and patterns are always among them, so a fleet whose
    /// known_hosts is hashed (`ssh-keygen -H`) or uses a pattern still comes up, and a key that
    /// differs is still refused among a thousand other hosts' lines.
    @Test func hashedAndPatternKnownHostsStillVerifyAmongManyOtherLines() async throws {
        let fixture = try Fixture(hosts: 2)
        defer { fixture.shutdown() }
        let path = fixture.root + "/known_hosts"
        let original = try String(contentsOfFile: path, encoding: .utf8)
        let lines = original.split(separator: "\n").map(String.init)
        func port(_ host: Int) throws -> String {
            try String(contentsOfFile: fixture.root + "/hosts/h\(host)/port", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let (port1, port2) = (try port(1), try port(2))
        let h1 = try #require(lines.first { $0.contains(":\(port1) ") })
        let h2 = try #require(lines.first { $0.contains(":\(port2) ") })
        let key = h1.split(separator: " ").dropFirst().joined(separator: " ")
        // Other hosts' lines, some with h2's key type but another key.
        let others = (1...1000).map { "[127.0.0.1]:\(1_000 + $0) \(key)" }
        // h1 under a pattern; h2 hashed by the real ssh-keygen.
        let pattern = "[127.0.0.*]:\(port1) \(key)"
        try ([h2] + others).joined(separator: "\n").appending("\n").write(
            toFile: path, atomically: true, encoding: .utf8)
        #expect(Fixture.run("/usr/bin/ssh-keygen", ["-H", "-f", path]).status == 0)
        let hashed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!hashed.contains(":\(port2) "), "h2's name is hashed")
        try (hashed + pattern + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        try await fixture.startDaemon()
        try await eventually("both up") { fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" } }

        // A new key for h2: refused, whatever the other lines.
        let rekey = fixture.fleet("rekey", fixture.root, "2")
        #expect(rekey.status == 0)
        try await eventually("h2 refused") { fixture.hosts()["h2"]?["state"] as? String == "refused" }
        let reason = fixture.hosts()["h2"]?["reason"] as? String
        #expect(reason?.contains("HOST KEY CHANGED") == true)
        #expect(fixture.hostState("h1") == "up")
    }

    @Test func protocolGarbageDropsThatHostNotTheDaemon() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        let port = try String(contentsOfFile: fixture.root + "/hosts/h1/port", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let liar = """
            name = "liar"
            address = "127.0.0.1"
            port = \(port)
            user = "\(NSUserName())"
            command = "echo garbage; printf '\\\\033[2J\\\\n'; echo '{\\"v\\":1,\\"type\\":\\"thread\\",\\"seq\\":1}'; exec cat >/dev/null"
            """
        try liar.write(toFile: fixture.config + "/hosts/liar.toml", atomically: true, encoding: .utf8)
        try await fixture.startDaemon()
        try await eventually("liar dropped for protocol errors") {
            let liar = fixture.hosts()["liar"]
            return (liar?["protocol_errors"] as? Int ?? 0) >= 3
                && (liar?["reason"] as? String)?.contains("protocol errors") == true
        }
        #expect(fixture.hostState("h1") == "up")
        #expect(fixture.daemon?.isRunning == true)
        try fixture.runThread(on: 1, "sleep", "600")
        try await eventually("h1 still reports threads") { fixture.threads().count == 1 }
    }

    @Test func aHostSendingTooFastIsDropped() async throws {
        let fixture = try Fixture(hosts: 1, links: "max_messages_per_second = 5")
        defer { fixture.shutdown() }
        let port = try String(contentsOfFile: fixture.root + "/hosts/h1/port", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let hello = #"{"v":1,"type":"hello","seq":0,"host_version":"x","hostname":"x","boot_id":"x","capabilities":[]}"#
        let chatty = """
            name = "chatty"
            address = "127.0.0.1"
            port = \(port)
            user = "\(NSUserName())"
            command = '''for i in $(seq 1 200); do echo '\(hello)'; done; exec cat >/dev/null'''
            """
        try chatty.write(toFile: fixture.config + "/hosts/chatty.toml", atomically: true, encoding: .utf8)
        try await fixture.startDaemon()
        try await eventually("chatty dropped for its message rate") {
            (fixture.hosts()["chatty"]?["reason"] as? String)?.contains("message rate over 5/s") == true
        }
        #expect(fixture.hostState("h1") == "up")
    }

    @Test func lastKnownStateSurvivesADaemonRestartMarkedStale() async throws {
        let fixture = try Fixture(hosts: 2)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try fixture.runThread(on: 1, "sleep", "600")
        try fixture.runThread(on: 2, "sleep", "600")
        try await eventually("two threads") { fixture.threads().count == 2 }

        fixture.stopDaemon(signal: SIGKILL)
        #expect(fixture.fleet("stop", fixture.root, "2").status == 0)
        try await fixture.startDaemon()
        try await eventually("h1 current again, h2 still stale") {
            let threads = fixture.threads()
            let stale = Dictionary(
                uniqueKeysWithValues: threads.map { ($0["host"] as? String ?? "", $0["stale"] as? Bool) })
            return threads.count == 2 && stale["h1"] == false && stale["h2"] == true
        }
        let h2 = try #require(fixture.hosts()["h2"])
        #expect(h2["state"] as? String != "up")
        #expect(h2["last_seen"] is String, "last_seen survives the restart")
    }
}

@Suite struct ConfigurationErrorTests {
    @Test func malformedHostFileGivesAClearError() throws {
        let dir = "/tmp/bosun-cfg-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/hosts", withIntermediateDirectories: true)
        try "state_dir = \"\(dir)/state\"\nsocket = \"\(dir)/s.sock\"\n".write(
            toFile: dir + "/bosund.toml", atomically: true, encoding: .utf8)
        try "address = \"127.0.0.1\"\nport = \"twenty-two\"\n".write(
            toFile: dir + "/hosts/web.toml", atomically: true, encoding: .utf8)

        let check = Fixture.run(Fixture.binDirectory + "/bosun", ["check", "--config", dir])
        #expect(check.status == 78)
        #expect(
            check.stderr.contains("\(dir)/hosts/web.toml: port: expected an integer in 1…65535, found a string"),
            "\(check.stderr)")

        let daemon = Fixture.run(Fixture.binDirectory + "/bosund", ["--config", dir])
        #expect(daemon.status == 78)
        #expect(daemon.stderr.contains("\(dir)/hosts/web.toml: port:"), "\(daemon.stderr)")

        try "address = \"127.0.0.1\"\n".write(toFile: dir + "/hosts/web.toml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/state", withIntermediateDirectories: true)
        try "".write(toFile: dir + "/state/known_hosts", atomically: true, encoding: .utf8)
        let good = Fixture.run(Fixture.binDirectory + "/bosun", ["check", "--config", dir])
        #expect(good.status == 0)
        #expect(good.stdout.contains("1 host(s): web"))
    }

    @Test func theCLISaysPlainlyWhenTheDaemonIsDown() {
        let result = Fixture.run(
            Fixture.binDirectory + "/bosun", ["--socket", "/tmp/bosun-nonexistent.sock", "threads"])
        #expect(result.status == 69)
        #expect(result.stderr.contains("bosund is not running"))
        #expect(result.stdout.isEmpty)
    }
}
