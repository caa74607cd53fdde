import BosunConfig
import BosunCore
import Foundation
import Logging
import Testing

@testable import BosunStore
@testable import BosunSupervisor

/// What a notification says, independent of any receiver: redaction, escaping, bounds, routing, the
/// shell line to act, and the bounded queue.
@Suite struct NotifierTests {
    func record(command: String, reason: String? = nil, host: HostName = "web1", tier: Tier = .expand) -> RequestRecord
    {
        let now = Date()
        return RequestRecord(
            number: 42, host: host,
            request: ApprovalRequest(
                id: "r1", threadID: "t-1\u{1b}[31m", createdAt: now, deadlineAt: now.addingTimeInterval(60),
                evidence: Evidence(tool: "Bash", command: command, purpose: reason, cwd: "/srv/app")),
            receivedAt: now, expiresAt: now.addingTimeInterval(60),
            policy: PolicyResult(
                tier: tier, verdict: .ask, rule: "net", ruleSource: nil, reason: "network", missingEvidence: []),
            status: .pending, decision: nil, channel: nil, note: nil, local: false)
    }

    /// A host is untrusted: even evidence that arrives unredacted leaves redacted.
    @Test func secretsAreRedactedAgainAndTextIsEscapedAndBounded() {
        let long = String(repeating: "x", count: 5000)
        let notice = NoticeText.ask(
            record(
                command: "curl -H \"Authorization: Bearer abc.def.ghi\" https://api.x/\u{1b}]0;owned\u{07}\n\(long)",
                reason: "token ghp_1234567890abcdefghijABCDEFGHIJ123456 needed"),
            event: .ask, actPrefix: "bosun")
        let command = notice.command ?? ""
        #expect(command.contains("Bearer [REDACTED]") && !command.contains("abc.def.ghi"), "\(command)")
        #expect(command.contains("\\u{1b}]0;owned\\u{7}\\n"), "\(command)")
        #expect(!command.unicodeScalars.contains { $0.properties.generalCategory == .control })
        #expect(command.count <= NoticeText.maxCommand + 1 && command.hasSuffix("…"))
        #expect(notice.summary.contains("purpose: token [REDACTED] needed"), "\(notice.summary)")
        #expect(notice.summary.count <= NoticeText.maxSummary + 1)
        #expect(notice.thread == "t-1\\u{1b}[31m")
        #expect(notice.act == "bosun show 42")
        let json = String(decoding: NoticeText.message([notice], target: "t").json, as: UTF8.self)
        #expect(!json.contains("abc.def.ghi") && !json.contains("ghp_1234567890"))
    }

    @Test func theActLineUsesTheFrontDoorWhenConfigured() throws {
        #expect(Notifier.defaultActPrefix(nil) == "bosun")
        let door = try #require(
            try SupervisorConfig.parseMain(
                "[front_door]\nlisten = \"0.0.0.0:2222\"", file: "f", directory: "/etc/bosun"
            )
            .frontDoor)
        #expect(Notifier.defaultActPrefix(door) == "ssh -p 2222 \(Notifier.hostName())")
        let public22 = try #require(
            try SupervisorConfig.parseMain(
                "[front_door]\nlisten = \"sup.example.com:22\"", file: "f", directory: "/etc/bosun"
            ).frontDoor)
        #expect(Notifier.defaultActPrefix(public22) == "ssh sup.example.com")
    }

    @Test func templatesEscapeEveryValueAsJSON() throws {
        let notice = NoticeText.ask(record(command: "echo \"hi\"\\n"), event: .ask, actPrefix: "bosun")
        let message = NoticeText.message([notice], target: "chat")
        let body = NotifyTarget.fill(
            "{\"text\": \"{{title}}\", \"c\": \"{{ command }}\", \"x\": \"{{unknown}}\"}", message)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: String])
        #expect(object["c"] == "echo \"hi\"\\n")
        #expect(object["x"] == "{{unknown}}")
        #expect(NotifyTarget.headerValue("plain title") == "plain title")
        #expect(
            NotifyTarget.headerValue("café\r\nX: y") == "=?UTF-8?B?\(Data("café\r\nX: y".utf8).base64EncodedString())?="
        )
    }

    func target(_ text: String, store: Store) throws -> NotifyTarget {
        let config = try #require(
            try SupervisorConfig.parseMain(text, file: "f", directory: "/etc/bosun").notify.first)
        return NotifyTarget(config: config, actPrefix: "bosun", store: store, logger: Logger(label: "test"))
    }

    func store() throws -> (Store, String) {
        let directory = NSTemporaryDirectory() + "notifier-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (try Store(path: directory + "/bosun.db"), directory)
    }

    @Test func filtersRouteByEventTierHostAndLabel() throws {
        let (store, directory) = try store()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let commitOnly = try target(
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\ntiers = [\"commit\"]", store: store)
        let prod = try target(
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\nhosts = [\"web1\"]\nlabels = { env = \"prod\" }\nevents = [\"ask\", \"breaker\"]",
            store: store)
        let expand = NoticeText.ask(record(command: "ls"), event: .ask, actPrefix: "bosun")
        let commit = NoticeText.ask(record(command: "ls", tier: .commit), event: .ask, actPrefix: "bosun")
        let breaker = NoticeText.breaker(by: "alice", reason: "r", hard: false, actPrefix: "bosun")
        #expect(!commitOnly.matches(expand, labels: [:]))
        #expect(commitOnly.matches(commit, labels: [:]))
        #expect(commitOnly.matches(breaker, labels: [:]), "a breaker has no tier")
        #expect(prod.matches(expand, labels: ["env": "prod", "team": "a"]))
        #expect(!prod.matches(expand, labels: ["env": "dev"]))
        #expect(
            !prod.matches(
                NoticeText.ask(record(command: "ls", host: "web2"), event: .ask, actPrefix: "b"),
                labels: ["env": "prod"]))
        var expiring = expand
        expiring.event = .expiring
        #expect(!prod.matches(expiring, labels: ["env": "prod"]), "events filter")
        #expect(prod.matches(breaker, labels: [:]), "a fleet-wide breaker passes host filters")
    }

    @Test func aFullQueueDropsAndCounts() throws {
        let (store, directory) = try store()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Not started: nothing leaves the queue, so the bound is reached deterministically.
        let target = try target(
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\nqueue = 3", store: store)
        let notice = NoticeText.ask(record(command: "ls"), event: .ask, actPrefix: "bosun")
        for _ in 0..<5 { target.offer(notice) }
        #expect(target.droppedCount == 2)
    }

    @Test func anNtfyBodyIsCutToFitAtACharacterBoundary() {
        let text = String(repeating: "é", count: 3000)
        let cut = NotifyTarget.bounded(text, bytes: NotifyTarget.ntfyBodyLimit)
        #expect(cut.utf8.count <= NotifyTarget.ntfyBodyLimit)
        #expect(cut.hasSuffix("(cut; see the queue)") && cut.hasPrefix("éé"))
        #expect(NotifyTarget.bounded("short", bytes: 10) == "short")
    }
}
