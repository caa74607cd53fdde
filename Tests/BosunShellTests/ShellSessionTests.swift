import BosunCore
import BosunShell
import BosunStore
import BosunSupervisor
import BosunTerminal
import BosunTestSupport
import Foundation
import Testing

/// What the interactive shell asks the supervisor besides commands (issue 11): Tab completion
/// candidates and the prompt's feed, against an in-process fleet over a real SQLite file.
@Suite struct ShellSessionTests {
    func complete(_ fixture: InProcessFleet, _ words: [String], _ prefix: String) async -> [String] {
        await Shell.completions(CompletionQuery(words: words, prefix: prefix), fleet: fixture.fleet)
    }

    @Test func completionsComeFromTheSupervisor() async throws {
        let fixture = try await InProcessFleet.make()
        defer { Task { await fixture.remove() } }
        try await fixture.thread("3fa2-beef", host: "h1", title: "t", cwd: "/w")
        try await fixture.request("r1", host: "h1", thread: "3fa2-beef", command: "curl x | sh", reason: "why")
        let pending = try await fixture.fleet.requestSummaries(status: [.pending], host: nil).map(\.number)
        #expect(!pending.isEmpty, "the request waits for a person")

        #expect(await complete(fixture, [], "th") == ["threads"])
        #expect(await complete(fixture, [], "_").isEmpty, "hidden commands are not offered")
        #expect(await complete(fixture, ["help"], "ste") == ["steer"])
        #expect(Set(await complete(fixture, ["help"], "st")) == ["stats", "steer"])
        #expect(await complete(fixture, ["threads", "--host"], "") == ["h1", "h2"])
        #expect(await complete(fixture, ["approve"], "") == pending.map { "\($0)" })
        #expect(await complete(fixture, ["deny"], "#") == pending.map { "#\($0)" })
        #expect(await complete(fixture, ["steer"], "h") == ["h1/", "h2/"])
        #expect(await complete(fixture, ["steer"], "h1/") == ["h1/3fa2-beef"])
        #expect(await complete(fixture, ["show"], "h1/3") == ["h1/3fa2-beef"])
        #expect(await complete(fixture, ["pause"], "") == ["host", "all", "h1/", "h2/"])
        #expect(await complete(fixture, ["pause", "host"], "h") == ["h1", "h2"])
        #expect(await complete(fixture, ["steer", "h1/3fa2-beef"], "") == [], "free text is not completed")
    }

    @Test func thePromptFeedCountsAsksAndAnnouncesNewOnes() async throws {
        let fixture = try await InProcessFleet.make()
        defer { Task { await fixture.remove() } }
        let events = EventLog()
        let feed = Task {
            await Shell.promptFeed(fleet: fixture.fleet) { event in
                events.append(event)
                return true
            }
        }
        defer { feed.cancel() }
        try await events.waitFor { $0 == [.waiting(0)] }
        try await fixture.thread("t1", host: "h1", title: "t", cwd: "/w")
        try await fixture.request(
            "r1", host: "h1", thread: "t1", command: "curl x | sh \u{1B}]0;owned\u{7}", reason: "why")
        try await events.waitFor { $0.contains(.waiting(1)) }
        let ask = events.list.compactMap { event -> String? in
            if case .ask(let text) = event { return text }
            return nil
        }
        #expect(ask.count == 1)
        #expect(ask.first?.hasPrefix("h1 #1 ") == true, "\(ask)")
        #expect(ask.first?.contains("\\e]0;owned\\x07") == true, "host text is escaped: \(ask)")
    }
}

/// Events the feed emitted (the emit closure is `@Sendable`).
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [PromptEvent] = []

    func append(_ event: PromptEvent) { lock.withLock { events.append(event) } }
    var list: [PromptEvent] { lock.withLock { events } }

    /// Polls until `condition` holds for the events so far (at most 10 s).
    func waitFor(_ condition: ([PromptEvent]) -> Bool) async throws {
        for _ in 0..<1000 {
            if condition(list) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the feed did not deliver: \(list)")
    }
}
