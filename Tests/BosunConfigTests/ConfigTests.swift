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
