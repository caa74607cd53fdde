import BosunConfig
import BosunCore
import Foundation
import Testing

@Suite struct NotifyConfigTests {
    func parse(_ text: String) throws(ConfigError) -> [NotifyConfig] {
        try SupervisorConfig.parseMain(text, file: "/etc/bosun/bosund.toml", directory: "/etc/bosun").notify
    }

    @Test func everyKindWithItsOptions() throws {
        let targets = try parse(
            """
            [[notify]]
            name = "desk"
            kind = "webhook"
            url = "https://hooks.example.com/T0/B0"
            template = '{"text": "{{title}}"}'
            headers = { Authorization = "Bearer abc" }
            tiers = ["commit"]
            labels = { env = "prod" }
            digest = "30s"
            warn_before = "5m"
            attempts = 3
            backoff = 0.5
            timeout = 4
            queue = 10

            [[notify]]
            kind = "ntfy"
            url = "http://127.0.0.1:8080/bosun-alerts"
            hosts = "web1"
            events = ["ask", "breaker"]
            click = "ssh://sup.example.com:2222"
            act = "ssh -p 2222 alice@sup.example.com"

            [[notify]]
            kind = "command"
            command = ["/usr/local/bin/page", "--to", "oncall"]
            """)
        #expect(targets.count == 3)
        let desk = targets[0]
        #expect(desk.name == "desk" && desk.kind == .webhook)
        #expect(desk.template == "{\"text\": \"{{title}}\"}")
        #expect(desk.headers == ["Authorization": "Bearer abc"])
        #expect(desk.tiers == [.commit] && desk.labels == ["env": "prod"])
        #expect(desk.digest == 30 && desk.warnBefore == 300)
        #expect(desk.attempts == 3 && desk.backoff == 0.5 && desk.timeout == 4 && desk.queue == 10)
        #expect(desk.events == NotifyConfig.Event.allCases)
        let phone = targets[1]
        #expect(phone.name == "ntfy-2" && phone.hosts == ["web1"] && phone.events == [.ask, .breaker])
        #expect(phone.click == "ssh://sup.example.com:2222" && phone.act == "ssh -p 2222 alice@sup.example.com")
        #expect(phone.digest == 0 && phone.warnBefore == nil && phone.attempts == 5)
        #expect(targets[2].command == ["/usr/local/bin/page", "--to", "oncall"])
    }

    @Test func noTablesNoTargets() throws {
        #expect(try parse("").isEmpty)
    }

    @Test(arguments: [
        ("[[notify]]\nurl = \"http://x\"", "notify[0].kind", "missing"),
        ("[[notify]]\nkind = \"email\"", "notify[0].kind", "webhook, ntfy, command"),
        ("[[notify]]\nkind = \"webhook\"", "notify[0].url", "missing"),
        ("[[notify]]\nkind = \"webhook\"\nurl = \"ftp://x/y\"", "notify[0].url", "http"),
        ("[[notify]]\nkind = \"ntfy\"\nurl = \"not a url\"", "notify[0].url", "http"),
        ("[[notify]]\nkind = \"command\"", "notify[0].command", "missing"),
        ("[[notify]]\nkind = \"command\"\ncommand = [\"page\"]", "notify[0].command[0]", "absolute"),
        ("[[notify]]\nkind = \"command\"\ncommand = \"/bin/true\"\nurl = \"http://x\"", "notify[0].url", "not used"),
        ("[[notify]]\nkind = \"ntfy\"\nurl = \"http://x/t\"\ntemplate = \"{}\"", "notify[0].template", "webhook"),
        ("[[notify]]\nkind = \"webhook\"\nurl = \"http://x/t\"\nclick = \"http://y\"", "notify[0].click", "ntfy"),
        ("[[notify]]\nkind = \"webhook\"\nurl = \"http://x/t\"\ntiers = [\"urgent\"]", "notify[0].tiers[0]", "commit"),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://x/t\"\nevents = [\"all\"]", "notify[0].events[0]",
            "host_down"
        ),
        ("[[notify]]\nkind = \"webhook\"\nurl = \"http://x/t\"\ndigest = \"soon\"", "notify[0].digest", "duration"),
        ("[[notify]]\nkind = \"webhook\"\nurl = \"http://x/t\"\nattempts = 0", "notify[0].attempts", "1…100"),
        ("[[notify]]\nkind = \"webhook\"\nurl = \"http://x/t\"\nretry = 3", "notify[0].retry", "unknown key"),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://x/t\"\nheaders = { \"X Y\" = \"1\" }",
            "notify[0].headers.X Y", "header"
        ),
        ("[[notify]]\nkind = \"webhook\"\nurl = \"http://x/t\"\nname = \"my hook\"", "notify[0].name", "printable"),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://x/a\"\n[[notify]]\nkind = \"ntfy\"\nurl = \"http://x/b\"\nname = \"webhook-1\"",
            "notify[1].name", "duplicate"
        ),
        ("notify = \"http://x\"", "notify", "[[notify]]"),
    ])
    func malformedTargetsNameTheKey(text: String, key: String, fragment: String) {
        #expect {
            try parse(text)
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.key == key && error.message.contains(fragment) && error.file == "/etc/bosun/bosund.toml"
        }
    }

    @Test func checkWarnsAboutTargetsThatCannotWorkAsMeant() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bosun-notify-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/hosts", withIntermediateDirectories: true)
        try "address = \"127.0.0.1\"\n".write(toFile: dir + "/hosts/web1.toml", atomically: true, encoding: .utf8)
        try """
        [[notify]]
        kind = "command"
        command = ["/nonexistent/page"]
        hosts = ["web1", "web9"]

        [[notify]]
        kind = "ntfy"
        url = "http://ntfy.example.com/secret-topic"

        [[notify]]
        kind = "webhook"
        url = "http://127.0.0.1:8080/hook"
        """.write(toFile: dir + "/bosund.toml", atomically: true, encoding: .utf8)
        let check = SupervisorConfig.check(directory: dir)
        let notify = check.problems.filter { $0.problem.key?.hasPrefix("notify") == true }
        #expect(notify.allSatisfy { $0.severity == .warning })
        #expect(
            notify.map { $0.problem.key ?? "" }.sorted() == ["notify[0].command", "notify[0].hosts", "notify[1].url"],
            "\(notify)")
        #expect(notify.contains { $0.problem.message.contains("\"web9\"") })
    }
}
