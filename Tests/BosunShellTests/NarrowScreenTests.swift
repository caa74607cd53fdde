import BosunConfig
import BosunCore
import BosunTestSupport
import Foundation
import Testing

@testable import BosunShell
@testable import BosunStore
@testable import BosunSupervisor
@testable import BosunTerminal

/// Listings on a phone (issue 11): at 40 columns the columns that matter keep their width, the
/// queue is a list of cards, and the kubectl-style output options work on every listing.
@Suite(.serialized, .timeLimit(.minutes(10))) struct NarrowScreenTests {
    /// One moment for every rendering in a test, so ages compare equal however slow the machine.
    static let now = Date().addingTimeInterval(3600)
    static let command = "npm install left-pad --save-exact --registry https://registry.npmjs.org"

    static func fleet() async throws -> InProcessFleet {
        let fixture = try await InProcessFleet.make(hosts: ["web-1", "db-2"])
        try await fixture.thread("3fa2c9d0", host: "web-1", title: "fix the flaky test", cwd: "/srv/app")
        try await fixture.thread("77b1e0aa", host: "db-2", title: "migrate", cwd: "/srv/db", state: .paused)
        try await fixture.request(
            "r1", host: "web-1", thread: "3fa2c9d0", command: command, reason: "the build needs it")
        return fixture
    }

    @Test func everyListingFitsFortyColumns() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        for argv in [["hosts"], ["threads"], ["queue"], ["queue", "--all"], ["audit"]] {
            let result = await fixture.run(now: Self.now, argv, width: 40)
            let wide = result.stdout.split(separator: "\n").filter { TerminalWidth.columns(of: $0) > 40 }
            // The queue's command line may run to 32 columns at most; the rest fits 40.
            #expect(wide.isEmpty, "\(argv): \(wide)\n\(result.stdout)")
            #expect(result.exit == ExitStatus.ok || result.exit == ExitStatus.partial, "\(argv): \(result.stderr)")
        }
        // The columns that matter are whole: the thread, its state; the host's state.
        let threads = await fixture.run(now: Self.now, ["threads"], width: 40).stdout
        #expect(threads.contains("web-1/3fa2c9d0") && threads.contains("paused (soft)"), "\(threads)")
        #expect(!threads.contains("AGENT"), "less important columns dropped: \(threads)")
        let hosts = await fixture.run(now: Self.now, ["hosts"], width: 40).stdout
        #expect(hosts.contains("HOST") && hosts.contains("STATE") && hosts.contains("web-1"), "\(hosts)")
        // At 200 columns nothing drops.
        #expect(await fixture.run(now: Self.now, ["threads"], width: 200).stdout.contains("AGENT"))
    }

    @Test func theQueueIsTwoLineCardsOnAPhone() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        let cards = await fixture.run(now: Self.now, ["queue"], width: 40).stdout
        let lines = cards.split(separator: "\n")
        #expect(lines.count == 2, "\(cards)")
        #expect(lines.first?.hasPrefix("#1  web-1  ") == true && lines.first?.contains("0/1") == true, "\(cards)")
        // The command: as much as fits, never cut before 30 characters (even at 20 columns).
        #expect(lines.last.map(String.init) == "  " + Table.fit(Self.command, 38), "\(cards)")
        let tiny = await fixture.run(now: Self.now, ["queue"], width: 20).stdout.split(separator: "\n")
        #expect(tiny.last?.count == 32 && tiny.last?.hasPrefix("  npm install left-pad") == true, "\(tiny)")
        // -o narrow at any width; a table with the quorum column at 120.
        #expect(
            await fixture.run(now: Self.now, ["queue", "-o", "narrow"], width: 200).stdout
                == cards.replacingOccurrences(
                    of: Table.fit(Self.command, 38), with: Self.command))
        let table = await fixture.run(now: Self.now, ["queue"], width: 140).stdout
        #expect(table.contains("VOTES") && table.contains("0/1") && table.contains(Self.command), "\n\(table)")
        // Narrower, the other columns drop before the command is cut below 60 characters.
        let cut = await fixture.run(now: Self.now, ["queue"], width: 80).stdout
        #expect(cut.contains(String(Self.command.prefix(45))) && !cut.contains("THREAD"), "\n\(cut)")
    }

    @Test func outputOptionsWorkOnEveryListing() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        #expect(await fixture.run(now: Self.now, ["hosts", "-o", "name"], width: 40).stdout == "web-1\ndb-2\n")
        #expect(
            await fixture.run(now: Self.now, ["threads", "-o", "name"], width: 40).stdout.contains("web-1/3fa2c9d0\n"))
        #expect(await fixture.run(now: Self.now, ["queue", "-o", "name"], width: 40).stdout == "#1\n")
        #expect(
            await fixture.run(now: Self.now, ["audit", "-o", "name"], width: 40).stdout.split(separator: "\n").count
                >= 2)
        for listing in ["hosts", "threads", "queue", "audit"] {
            let json = await fixture.run(now: Self.now, [listing, "-o", "json"], width: 40).stdout
            #expect(
                json == (await fixture.run(now: Self.now, [listing, "--json"], width: 40).stdout), "--json is -o json")
            #expect(json.hasPrefix("{"), "\(listing): \(json)")
            let headless = await fixture.run(now: Self.now, [listing, "--no-headers", "-o", "wide"], width: 200).stdout
            let headed = await fixture.run(now: Self.now, [listing, "-o", "wide"], width: 200).stdout
            #expect(headed.hasSuffix(headless) && headed.count > headless.count, "\(listing): \(headless)")
        }
        // --width overrides the terminal's; -o wide keeps every column.
        #expect(
            await fixture.run(now: Self.now, ["threads", "--width", "40"], width: 300).stdout
                == (await fixture.run(now: Self.now, ["threads"], width: 40).stdout))
        #expect(await fixture.run(now: Self.now, ["threads", "-o", "wide"], width: 40).stdout.contains("AGENT"))
        let narrow = await fixture.run(now: Self.now, ["threads", "-o", "narrow"], width: 300).stdout
        #expect(narrow.contains("THREAD") && !narrow.contains("ACTIVE"), "\(narrow)")
    }

    @Test func anUnknownHostIsAnError() async throws {
        let fixture = try await Self.fleet()
        defer { Task { await fixture.remove() } }
        for argv in [
            ["hosts", "--host", "web-9"], ["threads", "--host", "web-9"], ["queue", "--host", "web-9"],
            ["audit", "--host", "web-9"],
        ] {
            let result = await fixture.run(now: Self.now, argv, width: 80)
            #expect(result.exit == ExitStatus.usage && result.stderr.contains("no host 'web-9'"), "\(argv)")
        }
        #expect(await fixture.run(now: Self.now, ["threads", "--host", "web-1"], width: 80).exit != ExitStatus.usage)
    }

    @Test func helpIsReadableAtFortyColumns() async throws {
        let fixture = try await InProcessFleet.make()
        defer { Task { await fixture.remove() } }
        for argv in [["help"], ["help", "queue"], ["threads", "--help"]] {
            let text = await fixture.run(now: Self.now, argv, width: 40).stdout
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.allSatisfy { $0.count <= 40 }, "\(argv):\n\(text)")
            // Every entry's name starts a line of its own; its description is indented under it.
            if argv == ["help"] {
                for command in ["hosts", "threads", "queue", "approve", "audit", "pause"] {
                    #expect(
                        lines.contains {
                            $0.trimmingCharacters(in: .whitespaces).hasPrefix(command) && $0.hasPrefix("  ")
                                && !$0.contains("  \(command)  ")
                        }, "\(command):\n\(text)")
                }
            }
        }
        let queue = await fixture.run(now: Self.now, ["help", "queue"], width: 40).stdout
        #expect(queue.contains("\n  --no-headers\n"), "\(queue)")
    }

    /// `show N` is a card: the evidence in the reviewer's order, wrapped at word boundaries.
    @Test func showIsACardInTheReviewersOrder() async throws {
        let fixture = try await InProcessFleet.make(hosts: ["web-1"])
        defer { Task { await fixture.remove() } }
        let now = Date()
        try await fixture.fleet.receive(
            ApprovalRequest(
                id: "r1", threadID: "3fa2c9d0", createdAt: now, deadlineAt: now.addingTimeInterval(600),
                evidence: Evidence(
                    tool: "Bash", command: Self.command, purpose: "the date picker needs left padding for two digits",
                    agent: .claude, sessionID: "s1", cwd: "/srv/app", repo: "/srv/app", branch: "fix-dates",
                    head: "0123456789abcdef", changedFiles: ["src/date.ts", "src/date.test.ts"],
                    testsRun: [TestRun(command: "npm test", exitCode: 1, at: now)],
                    sideEffects: ["installs packages"], network: ["registry.npmjs.org"],
                    nextStep: "Then I will rerun npm test and commit the fix.")),
            from: "web-1")
        let card = await fixture.run(now: Self.now, ["show", "1"], width: 40).stdout
        let lines = card.split(separator: "\n").map(String.init)
        #expect(lines.allSatisfy { $0.count <= 40 }, "\n\(card)")
        let order = [
            "action", "purpose", "host", "repo", "branch", "changed files", "tests run", "side effects", "network",
            "credentials", "tool", "next step", "missing",
        ]
        let starts = order.map { label in lines.firstIndex { $0.hasPrefix(label + " ") } }
        #expect(starts.allSatisfy { $0 != nil }, "\n\(card)")
        #expect(starts.compactMap { $0 } == starts.compactMap { $0 }.sorted(), "in the reviewer's order:\n\(card)")
        // Wrapped at word boundaries, continued under the value: no word is split.
        #expect(card.contains("left-pad") && card.contains("npm test → failed (exit 1)"), "\n\(card)")
        let words = Set(card.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        for word in ["--save-exact", "--registry", "https://registry.npmjs.org", "commit", "padding"] {
            #expect(words.contains(word) || words.contains(word + "."), "\(word) whole:\n\(card)")
        }
        #expect(card.contains("votes 0/1"), "\n\(card)")
        #expect(card.contains("not sent: ") == false || !card.contains("next_step"), "next step was sent")
        // Without a transcript, the card says what is missing.
        try await fixture.request("r2", host: "web-1", thread: "3fa2c9d0", command: "make deploy", reason: "ship")
        let bare = await fixture.run(now: Self.now, ["show", "2"], width: 40).stdout
        #expect(bare.contains("(unknown: no") && bare.contains("next_step"), "\n\(bare)")
    }
}

extension InProcessFleet {
    /// `run` at a fixed moment (argument first, so call sites read as before).
    fileprivate func run(now: Date, _ argv: [String], width: Int?) async -> ShellResult {
        await run(argv, width: width, now: now)
    }
}
