import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A free TCP port on 127.0.0.1 (bound, read, released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A fleet whose bosund has the SSH front door on, with operators alice (operator, desk),
/// vic (viewer, desk) and mo (operator, mobile), and a stranger key nobody authorized.
final class FrontDoorFixture {
    let fixture: Fixture
    let port = freePort()

    init(hosts: Int = 1) async throws {
        fixture = try Fixture(hosts: hosts)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: fixture.config + "/bosund.toml"))
        handle.seekToEndOfFile()
        handle.write(Data("\n[front_door]\nlisten = \"127.0.0.1:\(port)\"\nidle_timeout = 60\n".utf8))
        try handle.close()
        try fixture.addOperator("alice", role: "operator", channel: "desk")
        try fixture.addOperator("vic", role: "viewer", channel: "desk")
        try fixture.addOperator("mo", role: "operator", channel: "mobile")
        try fixture.addOperator("stranger", role: nil)
        try await fixture.startDaemon()
        // Trust the front door's own host key, as an operator would after checking its fingerprint.
        let hostKey = Fixture.run("/usr/bin/ssh-keygen", ["-y", "-f", fixture.root + "/state/front_door_ed25519"])
        try "[127.0.0.1]:\(port) \(hostKey.stdout)".write(
            toFile: fixture.root + "/door_known_hosts", atomically: true, encoding: .utf8)
    }

    func sshArguments(_ name: String, tty: Bool = false) -> [String] {
        [
            "-p", String(port), "-i", fixture.root + "/\(name)_key", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "UserKnownHostsFile=\(fixture.root)/door_known_hosts", "-o", "StrictHostKeyChecking=yes",
            "-o", "LogLevel=ERROR", tty ? "-tt" : "-T", "\(name)@127.0.0.1",
        ]
    }

    /// One-shot: `ssh name@door <command…>`.
    func ssh(_ name: String, _ command: String...) -> CommandResult {
        Fixture.run("/usr/bin/ssh", sshArguments(name) + command)
    }

    /// `ssh [-tt] name@door < input`.
    func ssh(_ name: String, input: String, tty: Bool) throws -> CommandResult {
        let file = fixture.root + "/input-\(UUID().uuidString.prefix(6))"
        try input.write(toFile: file, atomically: true, encoding: .utf8)
        let arguments = sshArguments(name, tty: tty).map { "'\($0)'" }.joined(separator: " ")
        return Fixture.run("/bin/sh", ["-c", "/usr/bin/ssh \(arguments) < \(file)"])
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct FrontDoorTests {
    @Test func oneShotCommandsWithExitCodesAndIdentityFromTheKey() async throws {
        let door = try await FrontDoorFixture()
        defer { door.fixture.shutdown() }
        try await eventually("host up") { door.fixture.hostState("h1") == "up" }
        let whoami = door.ssh("alice", "whoami")
        #expect(whoami.status == 0, "\(whoami.stderr)")
        #expect(whoami.stdout.contains("alice (operator) via channel desk, key SHA256:"))
        let threads = door.ssh("alice", "threads", "--json")
        #expect(threads.status == 0)
        #expect(door.ssh("alice", "frobnicate").status == 2)
        #expect(door.ssh("alice", "frobnicate").stderr.contains("Unexpected argument 'frobnicate'"))
        #expect(door.fixture.fleet("stop", door.fixture.root, "1").status == 0)
        try await eventually("h1 down") { door.fixture.hostState("h1") != "up" }
        #expect(door.ssh("vic", "hosts").status == 3, "exit 3 when some hosts are down")
    }

    @Test func anUnknownKeyIsRefusedAndAudited() async throws {
        let door = try await FrontDoorFixture()
        defer { door.fixture.shutdown() }
        let refused = door.ssh("stranger", "threads")
        #expect(refused.status == 255)
        #expect(refused.stderr.contains("Permission denied (publickey)"), "\(refused.stderr)")
        try await eventually("refusal audited") {
            door.fixture.bosun("audit", "--json").jsonLines.contains { $0["kind"] as? String == "auth_refused" }
        }
    }

    @Test func rolesAndChannelsAreEnforcedAtTheDoor() async throws {
        let door = try await FrontDoorFixture()
        defer { door.fixture.shutdown() }
        try door.fixture.addReleaseRule(decision: "ask", reason: "a release needs two people")
        door.fixture.stopDaemon()
        try await door.fixture.startDaemon()
        try await eventually("welcomed") {
            FileManager.default.fileExists(atPath: door.fixture.spool(1) + "/link.json")
        }
        let call = try door.fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "frobnicate-release v2", description: "ship"))
        try await eventually("queued") { door.fixture.bosun("queue", "--json").jsonLines.count == 1 }
        let viewer = door.ssh("vic", "approve", "1", "ok")
        #expect(viewer.status == 77)
        #expect(viewer.stderr.contains("needs the operator role"))
        let mobile = door.ssh("mo", "approve", "#1", "from the train")
        #expect(mobile.status == 1)
        #expect(mobile.stderr.contains("not from channel 'mobile'"), "\(mobile.stderr)")
        #expect(door.ssh("alice", "deny", "1", "not", "from", "here").status == 0)
        #expect(Payload.specific(call.wait())?["permissionDecision"] as? String == "deny")
        let vote = door.fixture.bosun("audit", "--json").jsonLines.first { $0["kind"] as? String == "vote" }
        // `details` is a JSON object in `audit --json`.
        let details = (vote?["details"] as? [String: Any]).map { "\($0)" } ?? ""
        #expect(details.contains("SHA256:") && details.contains("ssh 127.0.0.1:"), "key and source audited: \(details)")
    }

    @Test func interactiveAndPipedSessionsRunTheSameShell() async throws {
        let door = try await FrontDoorFixture()
        defer { door.fixture.shutdown() }
        let interactive = try door.ssh("alice", input: "whoami\nhosts\nexit\n", tty: true)
        #expect(interactive.stdout.contains("bosun> "), "\(interactive.stdout)")
        #expect(interactive.stdout.contains("alice (operator) via channel desk"))
        #expect(interactive.stdout.contains("HOST"))
        #expect(interactive.stdout.contains("\r\n"), "a PTY gets CRLF")

        let piped = try door.ssh("vic", input: "whoami\nqueue\nthreads --json\n", tty: false)
        #expect(piped.stdout.contains("vic (viewer)"))
        #expect(piped.stdout.contains("queue empty"))
        #expect(!piped.stdout.contains("bosun> "), "no prompt without a PTY")
    }

    @Test func textFromHostsIsShownEscaped() async throws {
        let door = try await FrontDoorFixture()
        defer { door.fixture.shutdown() }
        let evil = door.fixture.root + "/evil\u{1B}]0;owned\u{07}dir"
        try FileManager.default.createDirectory(atPath: evil, withIntermediateDirectories: true)
        try door.fixture.runThread(on: 1, cwd: evil, "sleep", "600")
        try await eventually("thread listed") { door.fixture.threads().count == 1 }
        let listing = door.ssh("alice", "threads")
        #expect(listing.stdout.contains("evil\\e]0;owned\\x07dir"), "\(listing.stdout)")
        #expect(!listing.stdout.contains("\u{1B}"))
        let json = door.ssh("alice", "threads", "--json")
        #expect(!json.stdout.contains("\u{1B}"), "JSON escapes control characters too")
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct ReloadTests {
    @Test func onlyAdminsReloadAndABrokenPolicyKeepsTheOldOne() async throws {
        let door = try await FrontDoorFixture()
        let fixture = door.fixture
        defer { fixture.shutdown() }
        #expect(fixture.bosun("policy", "explain", "frobnicate-release").stdout.contains("no rule matches"))
        try fixture.addReleaseRule(decision: "deny", reason: "releases go through the release job")
        #expect(door.ssh("alice", "reload").status == 77, "operators may not reload")
        let reloaded = fixture.bosun("reload")  // root on the socket acts as admin
        #expect(reloaded.status == 0, "\(reloaded.stderr)")
        #expect(fixture.bosun("policy", "explain", "frobnicate-release").stdout.contains("test-release-deny"))

        try fixture.addPolicy("zz-broken.toml", "[[rule]]\nid = \"x\"\ntier = \"sideways\"\n")
        let broken = fixture.bosun("reload")
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("zz-broken.toml"), "\(broken.stderr)")
        #expect(fixture.bosun("policy", "explain", "frobnicate-release").stdout.contains("test-release-deny"))
        #expect(fixture.bosun("audit", "--json").jsonLines.contains { $0["kind"] as? String == "policy_reload" })
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct ForcedCommandTests {
    /// The alternative front door: OpenSSH's sshd with `command="bosun shell --operator …"` keys.
    @Test func openSSHForcedCommandsActAsTheOperator() async throws {
        let door = try await FrontDoorFixture()
        let fixture = door.fixture
        defer { fixture.shutdown() }
        let lines = Fixture.run(
            Fixture.binDirectory + "/bosun",
            [
                "--socket", fixture.socket, "operators", "authorized-keys", "--config", fixture.config, "--bosun",
                Fixture.binDirectory + "/bosun",
            ])
        #expect(lines.status == 0, "\(lines.stderr)")
        #expect(lines.stdout.contains("shell --operator alice --channel desk\",restrict ssh-ed25519 "))
        // Install them on host h1's sshd (its AuthorizedKeysFile), next to the supervisor's key.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: fixture.root + "/hosts/h1/authorized_keys"))
        handle.seekToEndOfFile()
        handle.write(Data(lines.stdout.utf8))
        try handle.close()
        let port = try String(contentsOfFile: fixture.root + "/hosts/h1/port", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        func ssh(_ name: String, _ command: String) -> CommandResult {
            Fixture.run(
                "/usr/bin/ssh",
                [
                    "-p", port, "-i", fixture.root + "/\(name)_key", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                    "-o", "UserKnownHostsFile=\(fixture.root)/known_hosts", "-o", "StrictHostKeyChecking=yes",
                    "-o", "LogLevel=ERROR", "\(NSUserName())@127.0.0.1", command,
                ])
        }
        let whoami = ssh("mo", "whoami")
        #expect(whoami.stdout.contains("mo (operator) via channel mobile"), "\(whoami.stdout)\(whoami.stderr)")
        #expect(ssh("vic", "approve 1").status == 77)
        #expect(ssh("alice", "hosts").status == 0)
    }
}
