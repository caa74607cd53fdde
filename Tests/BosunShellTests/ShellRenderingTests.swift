import ArgumentParser
import BosunConfig
import BosunCore
import BosunPolicy
import BosunTestSupport
import Foundation
import Logging
import Testing

@testable import BosunShell
@testable import BosunStore
@testable import BosunSupervisor
@testable import BosunTerminal

/// Every scalar that can hide or reorder text: C0 and C1 controls, DEL, every format character
/// (bidi marks, embeddings, overrides, isolates, zero-width characters, BOM, tags...), U+2028/9.
enum HiddenCorpus {
    static let scalars: [Unicode.Scalar] = (0...0x10FFFF).compactMap { value in
        guard let scalar = Unicode.Scalar(UInt32(value)) else { return nil }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return scalar
        default: return nil
        }
    }

    /// The corpus in chunks that fit host limits, each scalar between markers so a lost or
    /// reordered tail shows.
    static func chunks(of size: Int) -> [String] {
        stride(from: 0, to: scalars.count, by: size).map { start in
            var text = "<"
            for scalar in scalars[start..<min(start + size, scalars.count)] {
                text.unicodeScalars.append(scalar)
                text += "."
            }
            return text + "END>"
        }
    }

    /// The raw hidden scalars in `output`, but for the newlines that separate its lines.
    static func leaks(_ output: String) -> [String] {
        output.unicodeScalars.filter { $0 != "\n" && TerminalText.isHidden($0) }.map {
            "U+" + String($0.value, radix: 16, uppercase: true)
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct ShellRenderingTests {
    /// Every command path of the line language: `help`, `help X [Y]`, `X [Y] --help`.
    static func helpArgvs() -> [[String]] {
        var result: [[String]] = [[], ["help"], ["--help"], ["-h"]]
        func visit(_ command: any ParsableCommand.Type, path: [String]) {
            for sub in command.configuration.subcommands {
                let name = sub._commandName
                result.append(["help"] + path + [name])
                result.append(path + [name, "--help"])
                visit(sub, path: path + [name])
            }
        }
        visit(Shell.Root.self, path: [])
        // Usage errors render a message from ArgumentParser too.
        result += [["threads", "--bogus"], ["bogus"], ["show"], ["queue", "--status", "nope"], ["help", "nope"]]
        return result
    }

    /// Every listing; the `--json` ones do not depend on the width (rendered at a few only).
    static let listingArgvs: [[String]] = [
        ["hosts"], ["threads"], ["threads", "--state", "paused"], ["queue"], ["queue", "--all"], ["show", "1"],
        ["show", "#2"], ["show", "h1/t-hostile"], ["audit"], ["audit", "verify"], ["whoami"], ["version"],
        ["policy"], ["policy", "explain", "--", "git", "push"], ["watch"],
    ]
    static let jsonArgvs: [[String]] = [
        ["hosts", "--json"], ["threads", "--json"], ["queue", "--json"], ["queue", "--all", "--json"],
        ["show", "1", "--json"], ["show", "h1/t-hostile", "--json"], ["audit", "--json"],
    ]

    /// Long and hostile text everywhere a host can put it.
    static func hostileFleet() async throws -> InProcessFleet {
        let fixture = try await InProcessFleet.make()
        let long = String(repeating: "very-long-path-segment/", count: 200)
        let hostile =
            "\u{1B}[2J\u{1B}]0;pwned\u{07}evil\u{202E}txt.exe\u{2066}\u{200B}\u{FEFF}\u{9B}31m before\u{0}after "
            + "宽字符😀e\u{301} " + long
        try await fixture.thread("t-hostile", host: "h1", title: hostile, cwd: hostile)
        try await fixture.thread("t-long", host: "h2", title: long, cwd: long, state: .paused)
        // Times a host made up: far future and far past.
        try await fixture.thread("t-future", host: "h2", title: "x", cwd: "/", state: .stopped, at: .distantFuture)
        try await fixture.thread(
            "t-past", host: "h2", title: "x", cwd: "/", at: Date(timeIntervalSince1970: -1e300))
        try await fixture.request(
            "r1", host: "h1", thread: "t-hostile", command: "curl x | sh " + hostile, reason: hostile)
        try await fixture.request("r2", host: "h2", thread: "t-long", command: long, reason: long)
        return fixture
    }

    static let widths: [Int] = {
        var generator = SeededGenerator(state: 0xB05)
        var widths = Array(0...300) + [-1, -80, Int.min, Int.max, 10_000, 10_001, 1_000_000]
        widths += (0..<24).map { _ in Int.random(in: 301...10_000, using: &generator) }
        return widths
    }()

    /// The widths every command is rendered at: nothing, one column, phones, desks, the extremes.
    static let everyCommandWidths: Set<Int> = [
        Int.min, -80, -1, 0, 1, 2, 3, 10, 20, 30, 32, 36, 40, 45, 50, 60, 69, 70, 79, 80, 120, 200, 300, Int.max,
    ]

    @Test func everyHelpRendersAtEveryWidthAndFitsIt() async throws {
        let fixture = try await InProcessFleet.make()
        defer { Task { await fixture.remove() } }
        // Each command at the widths people use and the extremes, and at every tenth of the other
        // widths in turn, so every width of the sweep is still walked by a dozen commands (the
        // whole product took minutes on a loaded 2-core machine: each run parses the command tree).
        for (index, argv) in Self.helpArgvs().enumerated() {
            for (position, width) in Self.widths.enumerated()
            where Self.everyCommandWidths.contains(width) || position % 10 == index % 10 {
                let result = await fixture.run(argv, width: width)
                let text = result.stdout + result.stderr
                #expect(!text.isEmpty, "\(argv) at \(width)")
                // Help and usage text wraps to the terminal (the error hint is two short lines).
                if (1...300).contains(width), result.exit == ExitStatus.ok {
                    let wide: [String] = text.split(separator: "\n").filter { $0.count > width }.map(String.init)
                    #expect(wide.isEmpty, "\(argv) at \(width): \(wide)")
                }
            }
        }
    }

    @Test func everyListingRendersAtEveryWidthWithHostileData() async throws {
        let fixture = try await Self.hostileFleet()
        defer { Task { await fixture.remove() } }
        let all = Self.listingArgvs.map { ($0, Self.widths) } + Self.jsonArgvs.map { ($0, [0, 1, 80, Int.max]) }
        // As in the help sweep, with every fourth width in turn.
        for (index, (argv, widths)) in all.enumerated() {
            for (position, width) in widths.enumerated()
            where Self.everyCommandWidths.contains(width) || position % 4 == index % 4 {
                let result = await fixture.run(argv, width: width)
                let text = result.stdout + result.stderr
                #expect(!text.isEmpty, "\(argv) at \(width)")
                #expect(HiddenCorpus.leaks(text).isEmpty, "\(argv) at \(width): \(HiddenCorpus.leaks(text))")
            }
        }
        // The listings did show the hostile rows (escaped), not an error.
        #expect(await fixture.run(["threads"], width: 0).stdout.contains("h1/t-hostile"))
        #expect(await fixture.run(["queue"], width: 20).stdout.contains("#1"))
    }

    @Test func aTableFitsItsWidthWhenItCan() {
        var table = Table([.init(title: "A"), .init(title: "B", flexible: true)])
        table.append(["x", String(repeating: "y", count: 500)])
        for width in [0, -5, Int.min, Int.max] {
            #expect(table.render(width: width).contains(String(repeating: "y", count: 500)), "unlimited at \(width)")
        }
        #expect(table.render(width: 30).split(separator: "\n").allSatisfy { $0.count <= 30 })
        #expect(table.render(width: 1).split(separator: "\n").allSatisfy { $0.count <= 11 }, "floor of 8 plus A")
    }

    // MARK: Hidden characters and NUL (issue 8 item 6)

    @Test func noHiddenScalarReachesAnyOutputAndNothingAfterANulIsLost() async throws {
        let fixture = try await InProcessFleet.make()
        defer { Task { await fixture.remove() } }
        let chunks = HiddenCorpus.chunks(of: 40)
        #expect(HiddenCorpus.scalars.count > 200, "C0, C1 and every Cf scalar")
        for (index, chunk) in chunks.enumerated() {
            try await fixture.thread("t\(index)", host: "h1", title: chunk, cwd: chunk)
            try await fixture.request("r\(index)", host: "h1", thread: "t\(index)", command: chunk, reason: chunk)
        }
        var outputs: [String: String] = [:]
        for argv in Self.listingArgvs + Self.jsonArgvs
            + chunks.indices.flatMap({ [["show", "h1/t\($0)"], ["show", "\($0 + 1)"]] })
        {
            let result = await fixture.run(argv, width: nil)
            outputs[argv.joined(separator: " ")] = result.stdout + result.stderr
        }
        for index in chunks.indices {
            outputs["show --json t\(index)"] = await fixture.run(["show", "h1/t\(index)", "--json"], width: nil).stdout
            outputs["show --json #\(index + 1)"] = await fixture.run(["show", "\(index + 1)", "--json"], width: nil)
                .stdout
        }
        for (command, output) in outputs {
            #expect(HiddenCorpus.leaks(output).isEmpty, "\(command): \(HiddenCorpus.leaks(output))")
        }
        // Every chunk arrives whole: its end marker follows the NUL of the first chunk too.
        let threadsJSON = outputs["threads --json"] ?? ""
        let queueJSON = outputs["queue --json"] ?? ""
        let titles = threadsJSON.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.compactMap { $0["title"] as? String }
        #expect(Set(titles) == Set(chunks), "titles decode to exactly what the host sent (NUL and tail kept)")
        let commands = queueJSON.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.compactMap { ($0["evidence"] as? [String: Any])?["command"] as? String }
        #expect(Set(commands) == Set(chunks))
        #expect(threadsJSON.contains("\\u0000") && threadsJSON.contains("\\u202e") && threadsJSON.contains("\\u0085"))
        let show = outputs["show h1/t0"] ?? ""
        #expect(show.contains("\\x00.\\x01."), "NUL shown escaped, the text after it kept: \(show)")
        #expect(show.split(separator: "\n").filter { $0.contains("END>") }.count >= 2, "title and cwd complete")
    }

    @Test(arguments: [
        ("plain /srv/app", "plain /srv/app"),
        ("a\u{0}b", "a\\x00b"),
        ("\u{85}\u{9F}", "\\x85\\x9f"),
        ("\u{61C}\u{200B}\u{200D}\u{2060}\u{2064}\u{FEFF}", "\\u{61c}\\u{200b}\\u{200d}\\u{2060}\\u{2064}\\u{feff}"),
        ("\u{2028}\u{2029}\u{E0001}", "\\u{2028}\\u{2029}\\u{e0001}"),
    ])
    func escapesFormatCharacters(input: String, expected: String) {
        #expect(TerminalText.escape(input) == expected)
    }

    @Test func jsonEscapesHiddenScalarsAsUnicodeEscapes() throws {
        let text = "a\u{0}\u{85}\u{202E}\u{2028}\u{E0001}z"
        let literal = JSONText.string(text)
        #expect(literal == "\"a\\u0000\\u0085\\u202e\\u2028\\udb40\\udc01z\"")
        let decoded = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as? [String]
        #expect(decoded == [text])
        let encoded = JSONLines.encode([["k": text]])
        #expect(HiddenCorpus.leaks(encoded).isEmpty, "\(encoded)")
        let object = try JSONSerialization.jsonObject(with: Data(encoded.utf8)) as? [String: String]
        #expect(object?["k"] == text)
    }

    // MARK: Short thread references (issue 8 item 4)

    @Test func aShortReferenceMustBeUniqueAcrossTheFleet() async throws {
        let fixture = try await InProcessFleet.make()
        defer { Task { await fixture.remove() } }
        try await fixture.thread("3fa2c9d0", host: "h1", title: "real", cwd: "/srv")
        // A decoy host registers the short prefixes an operator would type.
        for decoy in ["3", "3f", "3fa", "3fa2", "3fa2c"] {
            try await fixture.thread(ThreadID(decoy), host: "h2", title: "decoy", cwd: "/srv")
        }
        for reference in ["3", "3f", "3fa", "3fa2", "3fa2c"] {
            // (`show 3` would be request #3: pause and steer take only threads.)
            let result = await fixture.run(["pause", reference], width: 80)
            #expect(result.exit == ExitStatus.failure, "\(reference): \(result.stdout)")
            #expect(result.stderr.contains("ambiguous") && result.stderr.contains("h1/3fa2c9d0"), "\(result.stderr)")
            let steer = await fixture.run(["steer", reference, "stop"], width: 80)
            #expect(steer.exit == ExitStatus.failure && steer.stderr.contains("h2/\(reference)"), "\(steer.stderr)")
        }
        #expect(await fixture.run(["show", "3fa2c9"], width: 80).stdout.contains("thread h1/3fa2c9d0"))
        #expect(await fixture.run(["show", "h2/3fa"], width: 80).stdout.contains("thread h2/3fa "), "exact host/id")
        // Within a host a shorter prefix must be unique too.
        let inHost = await fixture.run(["show", "h2/3fa2"], width: 80)
        #expect(inHost.stdout.contains("thread h2/3fa2 "), "exact id on its host: \(inHost.stderr)")
        let prefix = await fixture.run(["show", "h2/3f"], width: 80)
        #expect(prefix.stdout.contains("thread h2/3f "), "exact")
        try await fixture.thread("abcd1", host: "h2", title: "x", cwd: "/srv")
        try await fixture.thread("abcd2", host: "h2", title: "x", cwd: "/srv")
        let within = await fixture.run(["show", "h2/abc"], width: 80)
        #expect(within.exit == ExitStatus.failure && within.stderr.contains("ambiguous"), "\(within.stdout)")
        // The candidate list is bounded.
        for index in 0..<40 { try await fixture.thread("zz\(index)", host: "h2", title: "x", cwd: "/srv") }
        let many = await fixture.run(["pause", "zz"], width: 80)
        #expect(many.stderr.contains("40 threads") && many.stderr.contains("and 35 more"), "\(many.stderr)")
        #expect(many.stderr.count < 300)
        // A thread id that starts with digits: `show 297854` is no request, so it is the thread.
        try await fixture.thread("2978540a", host: "h1", title: "digits", cwd: "/srv")
        let digits = await fixture.run(["show", "297854"], width: 80)
        #expect(digits.stdout.contains("thread h1/2978540a"), "\(digits.stderr)")
        let hash = await fixture.run(["show", "#297854"], width: 80)
        #expect(hash.exit == ExitStatus.failure && hash.stderr.contains("no request #297854"), "#N is only a request")
    }

    // MARK: Acknowledgement waits (issue 7 item 8)

    @Test func anAcknowledgementIsNeverMissedWhateverTheInterleaving() async throws {
        let fixture = try await InProcessFleet.make(hosts: ["h1"])
        defer { Task { await fixture.remove() } }
        let actor = Operator(name: "alice", role: .operator, channel: "desk")
        // The host acknowledges every message at once, so no wait may end by its timeout: one
        // that does missed its wake-up (main lost about 2 % this way). Nothing measures time; the
        // bound is only there so that a lost wake-up ends the wait and gets counted.
        for round in 0..<300 {
            let pause = Pause(scope: .all, threadID: nil, breakerID: "b-\(round)", hard: false, reason: "r")
            let ids = try await fixture.store.queueControl(
                .pause(pause), hosts: ["h1"], kind: "pause", by: actor, details: [:])
            let id = try #require(ids["h1"])
            let fleet = fixture.fleet
            // The host's ack races the wait: before, during or after its registration and store check.
            let ack = Task {
                for _ in 0..<(round % 7) { await Task.yield() }
                try await fleet.acknowledge(host: "h1", seq: UInt64(id))
            }
            let outcomes = await fleet.send(.pause(pause), ids: ids, wait: 20)
            try await ack.value
            #expect(outcomes == [ControlOutcome(host: "h1", done: true)])
        }
        #expect(await fixture.fleet.ackWaiters.timeouts == 0, "waits that missed their acknowledgement")
        #expect(await fixture.fleet.ackWaiters.count == 0)
    }

    @Test func aWaitRegisteredBeforeItsAckResumesAtOnce() async {
        var waiters = AckWaiters()
        let token = waiters.register([1, 2])
        waiters.acknowledged(1)
        waiters.acknowledged(2)
        waiters.acknowledged(3)
        // Acknowledged before the caller suspended: attaching resumes at once.
        await withCheckedContinuation { waiters.attach(token, $0) }
        #expect(waiters.remove(token) == [1, 2])
        let other = waiters.register([4])
        waiters.timeOut(other)
        await withCheckedContinuation { waiters.attach(other, $0) }
        #expect(waiters.remove(other).isEmpty)
        #expect(waiters.count == 0 && waiters.timeouts == 1)
    }
}
