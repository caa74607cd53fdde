import BosunConfig
import Foundation
import Testing

@Suite struct HostConfigTests {
    func parse(_ text: String, file: String = "/etc/bosun/hosts/web-1.toml") throws(ConfigError) -> HostConfig {
        try HostConfig.parse(text, file: file, directory: "/etc/bosun", defaultUser: "bosun")
    }

    @Test func fullHostFile() throws {
        let host = try parse(
            """
            address = "10.0.0.5"
            port = 2222
            user = "agent"
            identity = "keys/web"
            command = "/opt/bosun/bosun-host serve"
            host_key = "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

            [labels]
            env = "staging"
            team = "web"
            """)
        #expect(host.name == "web-1")
        #expect(host.port == 2222)
        #expect(host.user == "agent")
        #expect(host.identity == "/etc/bosun/keys/web")
        #expect(host.labels == ["env": "staging", "team": "web"])
        #expect(host.command == "/opt/bosun/bosun-host serve")
    }

    @Test func defaults() throws {
        let host = try parse("address = \"h.example\"")
        #expect(host.port == 22)
        #expect(host.user == "bosun")
        #expect(host.command == "bosun-host serve")
        #expect(host.hostKey == nil)
        #expect(host.labels.isEmpty)
    }

    @Test(arguments: [
        ("port = 22", "address", "missing"),
        ("address = \"a\"\nport = \"22\"", "port", "expected an integer in 1…65535, found a string"),
        ("address = \"a\"\nport = 70000", "port", "found 70000"),
        ("address = \"a\"\nlabels = \"x\"", "labels", "expected a table of strings"),
        ("address = \"a\"\n[labels]\nenv = 3", "labels.env", "expected a string, found an integer"),
        ("address = \"a\"\nhost_key = \"MD5:aa\"", "host_key", "SHA256"),
        ("address = \"a\"\nadress = \"b\"", "adress", "unknown key"),
        ("address = \"a\"\nname = \"a/b\"", "name", "expected letters"),
        ("address = \"\"", "address", "non-empty"),
    ])
    func malformedHostFilesNameTheKey(text: String, key: String, fragment: String) {
        do {
            _ = try parse(text)
            Issue.record("expected an error for \(key)")
        } catch {
            #expect(error.file == "/etc/bosun/hosts/web-1.toml")
            #expect(error.key == key)
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test func syntaxErrorsCarryLineAndColumn() {
        do {
            _ = try parse("address = \"a\"\nport = \n")
            Issue.record("expected a syntax error")
        } catch {
            #expect(error.key == nil)
            #expect(error.description.hasPrefix("/etc/bosun/hosts/web-1.toml: "))
            #expect(error.message.contains("line 2"), "\(error.message)")
        }
    }
}

@Suite struct SupervisorConfigTests {
    @Test func mainFileResolvesRelativePaths() throws {
        let config = try SupervisorConfig.parseMain(
            """
            state_dir = "state"
            socket = "/run/b.sock"
            [links]
            keepalive_interval = 2
            keepalive_timeout = 6.5
            max_concurrent_connects = 4
            max_pending_requests = 7
            """, file: "/etc/bosun/bosund.toml", directory: "/etc/bosun")
        #expect(config.stateDir == "/etc/bosun/state")
        #expect(config.socket == "/run/b.sock")
        #expect(config.identity == "/etc/bosun/state/id_ed25519")
        #expect(config.knownHosts == "/etc/bosun/state/known_hosts")
        #expect(config.links.keepaliveInterval == 2)
        #expect(config.links.keepaliveTimeout == 6.5)
        #expect(config.links.maxConcurrentConnects == 4)
        #expect(config.links.maxPendingRequests == 7)
        #expect(config.databasePath == "/etc/bosun/state/bosun.db")
    }

    @Test func defaultsWhenEmpty() throws {
        let config = try SupervisorConfig.parseMain("", file: "f", directory: "/etc/bosun")
        #expect(config.stateDir == "/var/lib/bosun")
        #expect(config.socket == "/run/bosun/bosund.sock")
    }

    @Test(arguments: [
        ("state_dir = 5", "state_dir"),
        ("sockett = \"x\"", "sockett"),
        ("[links]\nkeepalive_interval = 10\nkeepalive_timeout = 5", "links.keepalive_timeout"),
        ("[links]\nbackoff_max = \"soon\"", "links.backoff_max"),
        ("[links]\nretries = 3", "links.retries"),
        ("socket = \"/\(String(repeating: "s", count: 120))\"", "socket"),
    ])
    func malformedMainFile(text: String, key: String) {
        #expect {
            try SupervisorConfig.parseMain(text, file: "/etc/bosun/bosund.toml", directory: "/etc/bosun")
        } throws: { error in
            (error as? ConfigError)?.key == key
        }
    }

    @Test func loadsDirectoryAndRejectsDuplicateNames() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bosun-config-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/hosts", withIntermediateDirectories: true)
        try "state_dir = \"s\"\n".write(toFile: dir + "/bosund.toml", atomically: true, encoding: .utf8)
        try "address = \"127.0.0.1\"\n".write(toFile: dir + "/hosts/a.toml", atomically: true, encoding: .utf8)
        try "address = \"127.0.0.1\"\nname = \"c\"\n".write(
            toFile: dir + "/hosts/b.toml", atomically: true, encoding: .utf8)
        try "not a host".write(toFile: dir + "/hosts/README", atomically: true, encoding: .utf8)
        let config = try SupervisorConfig.load(directory: dir)
        #expect(config.hosts.map(\.name) == ["a", "c"])
        #expect(config.stateDir == dir + "/s")

        try "address = \"127.0.0.2\"\nname = \"a\"\n".write(
            toFile: dir + "/hosts/z.toml", atomically: true, encoding: .utf8)
        #expect {
            try SupervisorConfig.load(directory: dir)
        } throws: { error in
            let error = error as? ConfigError
            return error?.file == dir + "/hosts/z.toml" && error?.key == "name"
                && error?.message.contains("duplicate") == true
        }
    }

    @Test func missingDirectoryIsAClearError() {
        #expect {
            try SupervisorConfig.load(directory: "/nonexistent/bosun")
        } throws: { error in
            (error as? ConfigError)?.message == "configuration directory does not exist"
        }
    }
}

@Suite struct OperatorSocketMappingTests {
    static let aliceKey =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPuRYCowTblyGmBQg6Z9HKXb5Gw0Xe+azMxS4Gm1Sbmf alice@laptop"

    @Test func localAccountsMapExplicitlyWithTheirChannel() throws {
        let config = try OperatorConfig.parse(
            """
            role = "operator"
            [[key]]
            public_key = "\(Self.aliceKey)"
            channel = "desk"
            [[socket]]
            unix_user = "alice"
            [[socket]]
            unix_user = "alice-ci"
            channel = "desk"
            """, file: "/etc/bosun/operators/alice.toml")
        #expect(
            config.unixUsers == [
                OperatorUnixUser(user: "alice", channel: "cli"), OperatorUnixUser(user: "alice-ci", channel: "desk"),
            ])
        // A socket mapping alone makes an operator.
        let local = try OperatorConfig.parse(
            "role = \"admin\"\n[[socket]]\nunix_user = \"ops\"\n", file: "/etc/bosun/operators/ops.toml")
        #expect(local.keys.isEmpty)
        #expect(local.unixUsers == [OperatorUnixUser(user: "ops", channel: "cli")])
    }

    @Test(arguments: [
        ("role = \"operator\"\n[[socket]]\nchannel = \"cli\"", "socket[0].unix_user", "missing"),
        ("role = \"operator\"\n[[socket]]\nunix_user = \"a b\"", "socket[0].unix_user", "local account name"),
        ("role = \"operator\"\n[[socket]]\nunix_user = \"a\"\nchannel = \"c d\"", "socket[0].channel", "letters"),
        ("role = \"operator\"\n[[socket]]\nunix_user = \"a\"\nuid = 5", "socket[0].uid", "unknown key"),
        ("role = \"operator\"", "key", "[[socket]]"),
    ])
    func malformedSocketEntriesNameTheKey(text: String, key: String, fragment: String) {
        do {
            _ = try OperatorConfig.parse(text, file: "/etc/bosun/operators/x.toml")
            Issue.record("expected an error for \(key)")
        } catch {
            #expect(error.key == key, "\(error)")
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test func anAccountBelongsToOneOperator() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bosun-ops-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in ["a", "b"] {
            try "role = \"operator\"\n[[socket]]\nunix_user = \"shared\"\n".write(
                toFile: dir + "/\(name).toml", atomically: true, encoding: .utf8)
        }
        var problems: [ConfigError] = []
        let operators = OperatorConfig.loadAll(directory: dir, problems: &problems)
        #expect(operators.map(\.name) == ["a"])
        #expect(problems.count == 1)
        #expect(problems.first?.file == dir + "/b.toml")
        #expect(problems.first?.message.contains("already belongs to operator a") == true)
    }
}

@Suite struct FrontDoorConfigTests {
    @Test func limitsAreRead() throws {
        let config = try SupervisorConfig.parseMain(
            """
            [front_door]
            listen = "127.0.0.1:2222"
            login_grace_time = 5
            max_connections = 64
            max_unauthenticated = 16
            max_connections_per_address = 4
            """, file: "/etc/bosun/bosund.toml", directory: "/etc/bosun")
        let door = try #require(config.frontDoor)
        #expect(door.loginGraceTime == 5)
        #expect(door.maxConnections == 64)
        #expect(door.maxUnauthenticated == 16)
        #expect(door.maxConnectionsPerAddress == 4)

        let defaults = try #require(
            try SupervisorConfig.parseMain("[front_door]\n", file: "f", directory: "/etc/bosun").frontDoor)
        #expect(defaults.loginGraceTime == 10)
        #expect(defaults.maxConnectionsPerAddress == 10)
        #expect(defaults.maxUnauthenticated < defaults.maxConnections)
    }

    @Test(arguments: [
        ("[front_door]\nmax_connections = 8\nmax_unauthenticated = 9", "front_door.max_unauthenticated"),
        ("[front_door]\nmax_connections_per_address = 0", "front_door.max_connections_per_address"),
        ("[front_door]\nlogin_grace_time = 0", "front_door.login_grace_time"),
        ("socket_trusted_users = \"bosun-ssh\"", "socket_trusted_users"),
    ])
    func badLimitsNameTheKey(text: String, key: String) {
        #expect {
            try SupervisorConfig.parseMain(text, file: "/etc/bosun/bosund.toml", directory: "/etc/bosun")
        } throws: { error in
            (error as? ConfigError)?.key == key
        }
    }
}

/// Issue 7.14: `bosun check` reports every problem at once, naming file, key and what was expected.
@Suite struct ConfigCheckTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bosun-check-\(UUID().uuidString)").path

    func write(_ path: String, _ text: String) throws {
        let full = dir + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
    }

    func problem(_ check: ConfigCheck, file: String, key: String?) -> ConfigProblem? {
        check.problems.first { $0.problem.file == dir + "/" + file && $0.problem.key == key }
    }

    @Test func everyProblemIsReportedTogether() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(
            "bosund.toml", "state_dir = \"state\"\nidentity = \"id.pub\"\nknown_hosts = \"kh\"\n")
        try write("id.pub", OperatorSocketMappingTests.aliceKey + "\n")
        try FileManager.default.createDirectory(atPath: dir + "/kh", withIntermediateDirectories: true)
        try write("hosts/a.toml", "address = \"127.0.0.1\"\nidentity = \"keys/missing\"\n")
        try write("hosts/b.toml", "address = \"127.0.0.1\"\nport = \"x\"\n")
        try write("hosts/c.toml", "address = \"127.0.0.1\"\n")
        try write(
            "operators/pat.toml",
            "role = \"operator\"\n[[key]]\npublic_key = \"\(OperatorSocketMappingTests.aliceKey)\"\nchannel = \"deks\"\n"
        )
        try write("operators/bad.toml", "role = \"boss\"\n")

        let check = SupervisorConfig.check(directory: dir)
        let identity = try #require(problem(check, file: "bosund.toml", key: "identity"), "\(check.problems)")
        #expect(identity.severity == .error)
        #expect(identity.problem.message.contains("is a public key; expected the private key"))
        let knownHosts = try #require(problem(check, file: "bosund.toml", key: "known_hosts"))
        #expect(knownHosts.severity == .error)
        #expect(knownHosts.problem.message.contains("is a directory; expected an OpenSSH known_hosts file"))
        let hostKey = try #require(problem(check, file: "hosts/a.toml", key: "identity"))
        #expect(hostKey.severity == .error)
        #expect(hostKey.problem.message.contains("\(dir)/keys/missing does not exist"))
        #expect(problem(check, file: "hosts/b.toml", key: "port")?.severity == .error)
        #expect(problem(check, file: "operators/bad.toml", key: "role")?.severity == .error)
        let channel = try #require(problem(check, file: "operators/pat.toml", key: "key.channel"))
        #expect(channel.severity == .warning)
        #expect(channel.problem.message.contains("channel \"deks\" is accepted by no tier's approve_from"))
        #expect(check.errors.count == 5, "\(check.problems)")
        // What did load is still there.
        #expect(check.config?.hosts.map(\.name) == ["a", "c"])
    }

    /// Issue 11: `bosun check` warns about a rule an earlier rule hides (the first matching rule
    /// decides a part), naming both; a rule an earlier one hides only in part is not reported.
    @Test func aRuleAnEarlierRuleHidesIsAWarning() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write("bosund.toml", "state_dir = \"state\"\n")
        try write(
            "policies/a.toml",
            """
            [[rule]]
            id = "frob-any"
            tier = "continue"
            decision = "allow"
            reason = "frob is harmless"
            match.argv = ["frob"]
            examples.match = ["frob x", "frob y"]

            [[rule]]
            id = "frob-x-deny"
            tier = "commit"
            decision = "deny"
            reason = "never frob x"
            match.argv = ["frob", "x"]
            examples.match = ["frob x"]

            [[rule]]
            id = "zap-partly"
            tier = "continue"
            decision = "ask"
            reason = "zap"
            match.argv = ["{frob,zap}", "*"]
            examples.match = ["frob y", "zap y"]
            """)
        let check = SupervisorConfig.check(directory: dir)
        let hidden = check.warnings.filter { $0.problem.message.hasPrefix("never decides") }
        #expect(hidden.count == 1, "\(check.problems)")
        #expect(hidden.first?.problem.file == dir + "/policies/a.toml")
        #expect(hidden.first?.problem.key?.hasPrefix("rule frob-x-deny") == true, "\(hidden)")
        #expect(hidden.first?.problem.message.contains("frob-any") == true)
        #expect(check.errors.isEmpty, "\(check.errors)")
    }

    @Test func missingFilesAndNoOperators() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write("bosund.toml", "state_dir = \"state\"\n")
        try write("hosts/a.toml", "address = \"127.0.0.1\"\n")
        try write(
            "hosts/pinned.toml",
            "address = \"127.0.0.1\"\nhost_key = \"SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\"\n")

        let check = SupervisorConfig.check(directory: dir)
        let identity = try #require(problem(check, file: "bosund.toml", key: "identity"), "\(check.problems)")
        #expect(identity.severity == .warning, "ssh-agent may still serve")
        #expect(identity.problem.message.contains("\(dir)/state/id_ed25519 does not exist"))
        let knownHosts = try #require(problem(check, file: "bosund.toml", key: "known_hosts"))
        #expect(knownHosts.severity == .error)
        #expect(knownHosts.problem.message.contains("verified key of a "))
        let operators = try #require(problem(check, file: "operators", key: nil))
        #expect(operators.severity == .warning)
        #expect(operators.problem.message.hasPrefix("no operators"))

        // With every host pinned and a real private key, only the missing operators remain.
        try write(
            "hosts/a.toml",
            "address = \"127.0.0.1\"\nhost_key = \"SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\"\n")
        try write("state/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n")
        let fixed = SupervisorConfig.check(directory: dir)
        #expect(fixed.errors.isEmpty, "\(fixed.problems)")
        #expect(fixed.warnings.count == 1)
    }
}
