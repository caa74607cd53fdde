import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every scalar that can hide or reorder text: C0, DEL, C1, every format character (Cf: bidi
/// marks, embeddings, overrides, isolates, zero-width characters, BOM, tags), U+2028, U+2029.
enum HiddenScalars {
    static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    static let all: [Unicode.Scalar] = (0...0x10FFFF).compactMap { Unicode.Scalar(UInt32($0)) }.filter(isHidden)

    /// The corpus in chunks, each scalar followed by a dot, closed by `END<n>>` so a lost tail shows.
    static func chunks(of size: Int) -> [String] {
        stride(from: 0, to: all.count, by: size).enumerated().map { index, start in
            var text = "<"
            for scalar in all[start..<min(start + size, all.count)] {
                text.unicodeScalars.append(scalar)
                text += "."
            }
            return text + "END\(index)>"
        }
    }

    /// Raw hidden scalars in `output`, but for line breaks (and the \r a PTY adds).
    static func leaks(_ output: String) -> [String] {
        output.unicodeScalars.filter { $0 != "\n" && $0 != "\r" && isHidden($0) }.map {
            "U+" + String($0.value, radix: 16, uppercase: true)
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct ShellHardeningTests {
    // MARK: Issue 8 item 6: text from hosts

    @Test func hiddenCharactersFromARealHostAreEscapedInEveryOutputAndNothingAfterANulIsLost() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
        let chunks = HiddenScalars.chunks(of: 60)
        #expect(HiddenScalars.all.count > 200)
        for (index, chunk) in chunks.enumerated() {
            // The thread's title (its prompt), cwd and a request's command and reason carry the corpus.
            var prompt = Payload.claude("UserPromptSubmit", "", session: "hidden-\(index)", cwd: chunk)
            prompt["prompt"] = "P\u{0}after-nul-\(index) \u{202E}\u{85}"
            _ = try fixture.hook(on: 1, "claude", prompt).wait()
            _ = try fixture.hook(
                on: 1, "claude",
                Payload.claude("PreToolUse", chunk, description: chunk, session: "hidden-\(index)", cwd: chunk),
                deadline: 120)
        }
        try await eventually("every request stored") {
            fixture.bosun("queue", "--all", "--json").jsonLines.count >= chunks.count
        }
        let threads = fixture.threads()
        #expect(threads.count == chunks.count)
        let threadIDs = threads.compactMap { $0["id"] as? String }
        var commands: [[String]] = [
            ["threads"], ["threads", "--json"], ["queue", "--all"], ["queue", "--all", "--json"], ["audit"],
            ["audit", "--json"], ["hosts"], ["hosts", "--json"],
        ]
        for number in 1...chunks.count { commands += [["show", "\(number)"], ["show", "\(number)", "--json"]] }
        for id in threadIDs { commands += [["show", "h1/\(id)"], ["show", "h1/\(id)", "--json"]] }
        var outputs: [String: String] = [:]
        for command in commands {
            let result = Fixture.run(Fixture.binDirectory + "/bosun", ["--socket", fixture.socket] + command)
            outputs[command.joined(separator: " ")] = result.stdout + result.stderr
            #expect(
                HiddenScalars.leaks(result.stdout + result.stderr).isEmpty,
                "\(command): \(HiddenScalars.leaks(result.stdout + result.stderr))")
        }
        // Nothing lost: each value decodes from --json to exactly what the host sent.
        #expect(Set(threads.compactMap { $0["cwd"] as? String }) == Set(chunks))
        #expect(
            Set(threads.compactMap { $0["title"] as? String })
                == Set(chunks.indices.map { "P\u{0}after-nul-\($0) \u{202E}\u{85}" }))
        let requests = fixture.bosun("queue", "--all", "--json").jsonLines
        #expect(Set(requests.compactMap { ($0["evidence"] as? [String: Any])?["command"] as? String }) == Set(chunks))
        // And the terminal shows the NUL escaped with what follows it.
        let card = outputs["show h1/\(threadIDs.first ?? "")"] ?? ""
        #expect(card.contains("P\\x00after-nul-"), "\(card)")
        #expect(card.contains("\\u{202e}\\x85"), "\(card)")
        #expect(outputs["threads --json"]?.contains("\\u0000after-nul-") == true)
        #expect(outputs["queue --all"]?.contains("\\x00.\\x01.") == true, "\(outputs["queue --all"] ?? "")")
    }

    // MARK: Issue 8 item 4: decoy threads

    @Test func aDecoyHostCannotCaptureAShortReferenceToAnotherHostsThread() async throws {
        let fixture = try Fixture(hosts: 2)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await eventually("welcomed") {
            (1...2).allSatisfy { FileManager.default.fileExists(atPath: fixture.spool($0) + "/link.json") }
        }
        func start(_ host: Int, session: String) throws {
            var payload = Payload.claude("UserPromptSubmit", "", session: session)
            payload["prompt"] = "work"
            _ = try fixture.hook(on: host, "claude", payload).wait()
        }
        try start(1, session: "3fa2c9d0")
        // The decoy host registers the prefixes an operator would type for h1's thread.
        for decoy in ["3fa", "3fa2", "3fa2c9"] { try start(2, session: decoy) }
        try await eventually("four threads") { fixture.threads().count == 4 }
        let real = try #require(fixture.threads().first { $0["host"] as? String == "h1" }?["id"] as? String)
        for decoy in ["s-3fa", "s-3fa2", "s-3fa2c9"] {
            let pause = fixture.bosun("pause", decoy)
            #expect(pause.status == 1, "\(decoy) is ambiguous: \(pause.stdout)")
            #expect(pause.stderr.contains("ambiguous") && pause.stderr.contains("h1/\(real)"), "\(pause.stderr)")
            let steer = fixture.bosun("steer", decoy, "stop", "now")
            #expect(steer.status == 1 && steer.stderr.contains("h2/\(decoy)"), "\(steer.stderr)")
        }
        #expect(fixture.threads().allSatisfy { $0["state"] as? String == "running" }, "nothing paused")
        // A unique prefix, or host/prefix, still names a thread.
        #expect(fixture.bosun("show", "s-3fa2c9d").stdout.contains("thread h1/\(real)"))
        #expect(fixture.bosun("pause", "h1/s-3fa").status == 0)
        try await eventually("the real thread paused") {
            fixture.threads().first { $0["host"] as? String == "h1" }?["state"] as? String == "paused"
        }
        #expect(fixture.bosun("show", "h2/s-3fa").stdout.contains("thread h2/s-3fa "), "exact id on its host")
        let onHost = fixture.bosun("show", "h2/s-3fa2")
        #expect(onHost.stdout.contains("thread h2/s-3fa2 "), "exact id wins within its own host: \(onHost.stderr)")
    }

    // MARK: Issue 7 item 7: soft to hard pause

    @Test func aHardPauseOnTopOfASoftOneStopsTheProcessAndThreadsShowsWhich() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try fixture.runThread(on: 1, "sleep", "300")
        try await eventually("running") { fixture.threads().first?["state"] as? String == "running" }
        let thread = try #require(fixture.threads().first)
        let id = try #require(thread["id"] as? String)
        let pid = try #require((thread["pid"] as? Int).map { Int32($0) })

        #expect(fixture.bosun("pause", id, "look").status == 0)
        try await eventually("soft paused") { fixture.threads().first?["state"] as? String == "paused" }
        #expect(fixture.bosun("threads").stdout.contains("paused (soft)"))
        #expect(processState(pid) != "T", "a soft pause does not stop the process")

        let hard = fixture.bosun("pause", id, "--hard", "stop it")
        // A thread's pause names the thread, not its host.
        #expect(hard.status == 0 && hard.stdout.contains("h1/\(id): paused"), "\(hard.stdout)\(hard.stderr)")
        try await eventually("stopped (T in /proc)") { processState(pid) == "T" }
        try await eventually("threads says hard") { fixture.bosun("threads").stdout.contains("paused (hard)") }
        #expect(fixture.threads().first?["state"] as? String == "stopped")
        #expect(fixture.bosun("threads", "--state", "paused", "--json").jsonLines.count == 1)

        #expect(fixture.bosun("resume", id).status == 0)
        try await eventually("running again") {
            processState(pid) == "S" && fixture.threads().first?["state"] as? String == "running"
        }
    }

    // MARK: Issue 7 item 1: help at any width, at the real front door

    @Test func helpAtAZeroByZeroOrNarrowPTYLeavesBosundUp() async throws {
        let door = try await FrontDoorFixture()
        defer { door.fixture.shutdown() }
        let daemon = try #require(door.fixture.daemon)
        let pid = daemon.processIdentifier
        let arguments = door.sshArguments("alice", tty: true).map { "'\($0)'" }.joined(separator: " ")
        // `ssh -tt` with no terminal of its own asks for a 0×0 PTY.
        for command in ["help threads", "help", "threads --help", "pause --help", "help audit verify"] {
            let zero = Fixture.run("/bin/sh", ["-c", "/usr/bin/ssh \(arguments) \(command) </dev/null"])
            #expect(zero.status == 0, "\(command) at 0x0: \(zero.stdout)\(zero.stderr)")
            #expect(zero.stdout.contains("USAGE"), "\(command): \(zero.stdout)")
        }
        // A 20-column terminal (and 1 column): `script` gives ssh a terminal of that size (ssh
        // reads the size from its stdin, so stdin stays the terminal here).
        for columns in [20, 1] {
            let narrow = Fixture.run(
                "/usr/bin/script",
                ["-qec", "stty cols \(columns) rows 10; /usr/bin/ssh \(arguments) help threads", "/dev/null"])
            #expect(narrow.status == 0, "\(columns) columns: \(narrow.stdout)\(narrow.stderr)")
            let lines = narrow.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n")
            #expect(lines.joined().contains("USAGE:"), "\(narrow.stdout)")
            #expect(lines.allSatisfy { $0.count <= columns }, "\(lines.filter { $0.count > columns })")
        }
        #expect(daemon.isRunning && door.fixture.daemon?.processIdentifier == pid, "same bosund")
        #expect(door.fixture.bosun("version").status == 0, "still answers")
        #expect(door.ssh("alice", "whoami").status == 0)
    }
}
