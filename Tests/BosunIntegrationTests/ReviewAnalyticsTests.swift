import Foundation
import Testing

/// Issue 12: a scripted history through real hosts (real sshd, real `bosun-host hook` payloads of
/// Claude and Codex with PostToolUse outcomes, real operator actions over the socket), then every
/// figure of `stats`, `policy suggest|replay`, `mark` and `export evalset` checked exactly.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ReviewAnalyticsTests {
    static func json(_ result: CommandResult) -> [String: Any] {
        result.jsonLines.first ?? [:]
    }

    /// Runs `line` as operator `name` on `channel` through `bosun shell` over the socket.
    static func shell(_ fixture: Fixture, _ name: String, _ channel: String, _ line: String) -> CommandResult {
        Fixture.run(
            "/bin/sh",
            [
                "-c",
                "echo '\(line)' | \(Fixture.binDirectory)/bosun --socket \(fixture.socket) shell --operator \(name) --channel \(channel)",
            ])
    }

    static func git(_ repo: String, _ arguments: String...) throws {
        let result = Fixture.run(
            "/usr/bin/git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments)
        guard result.status == 0 else { throw FixtureError(description: "git \(arguments): \(result.stderr)") }
    }

    /// Nearest-rank percentile, written again here so the test does not trust the code it checks.
    static func rank(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        let index = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[max(0, min(sorted.count - 1, index))]
    }

    @Test func scriptedHistoryGivesExactFigures() async throws {
        let fixture = try Fixture(hosts: 2)
        defer { fixture.shutdown() }
        try fixture.addOperator("mo", role: "operator", channel: "mobile")
        try fixture.addOperator("vic", role: "viewer", channel: "desk")
        try await fixture.startDaemon()
        try await eventually("hosts up and welcomed") {
            fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" }
                && [1, 2].allSatisfy { FileManager.default.fileExists(atPath: fixture.spool($0) + "/link.json") }
        }
        // The Claude thread works in a real git repository (changed files come from `git status`).
        let repo = fixture.root + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        try Self.git(repo, "init", "-q")
        try "notes\n".write(toFile: repo + "/notes.md", atomically: true, encoding: .utf8)
        try Self.git(repo, "add", "notes.md")
        try Self.git(repo, "commit", "-qm", "init")

        let claude = "rv-claude-session"
        let codex = "rv-codex-session"
        var asked = 0
        /// Sends one Claude PreToolUse; an ask is decided by `decide` (words of a `bosun` line, or
        /// `mo:` + a shell line for the mobile operator). Returns the request number.
        func claudeCall(
            _ command: String, description: String? = nil, decide: String? = nil, deadline: Double = 60
        ) async throws -> (Int, String) {
            let call = try fixture.hook(
                on: 1, "claude",
                Payload.claude("PreToolUse", command, description: description, session: claude, cwd: repo),
                deadline: deadline)
            return try await finish(call, decide: decide)
        }
        func codexCall(_ command: String, decide: String? = nil) async throws -> (Int, String) {
            let call = try fixture.hook(on: 2, "codex", Payload.codexPreToolUse(command, session: codex))
            return try await finish(call, decide: decide)
        }
        func finish(_ call: HookCall, decide: String?) async throws -> (Int, String) {
            if let decide {
                asked += 1
                try await eventually("queued") { fixture.bosun("queue", "--json").jsonLines.count == 1 }
                let number = try #require(fixture.bosun("queue", "--json").jsonLines.first?["number"] as? Int)
                let line = decide.replacingOccurrences(of: "N", with: "\(number)")
                let voted =
                    line.hasPrefix("mo:")
                    ? Self.shell(fixture, "mo", "mobile", String(line.dropFirst(3)))
                    : Fixture.run(
                        Fixture.binDirectory + "/bosun",
                        ["--socket", fixture.socket] + line.split(separator: " ").map(String.init))
                #expect(voted.status == 0, "\(line): \(voted.stdout)\(voted.stderr)")
            }
            _ = call.wait()
            let all = fixture.bosun("queue", "--all", "--json").jsonLines
            let last = try #require(all.last)
            return (last["number"] as? Int ?? 0, last["status"] as? String ?? "")
        }
        func post(_ command: String, response: [String: Any]) throws {
            var payload = Payload.claude("PostToolUse", command, session: claude, cwd: repo)
            payload["tool_response"] = response
            #expect(try fixture.hook(on: 1, "claude", payload).wait().status == 0)
        }

        // #1 policy allows; it runs and succeeds.
        #expect(try await claudeCall("git status") == (1, "allowed"))
        try post("git status", response: ["stdout": "clean", "stderr": "", "interrupted": false])
        // #2 an install without a stated purpose: denied for missing evidence.
        #expect(try await claudeCall("npm install left-pad") == (2, "denied"))
        // #3–#5 the same unknown command, asked three times and approved: from cli, mobile, cli.
        let lint = "frobnicate-lint --fast"
        #expect(try await claudeCall(lint, description: "lint", decide: "approve N") == (3, "allowed"))
        // Claude reports an interrupted call (a failure with no exit code: recorded as -1).
        try post(lint, response: ["stdout": "", "stderr": "lint: 3 problems", "interrupted": true])
        #expect(try await claudeCall(lint, description: "lint again", decide: "mo:approve N") == (4, "allowed"))
        try post(lint, response: ["stdout": "ok", "stderr": "", "interrupted": false])
        #expect(try await claudeCall(lint, description: "lint once more", decide: "approve N") == (5, "allowed"))
        // #6 Codex on the other host: a variant a person denies; #7 a push policy denies.
        #expect(try await codexCall("frobnicate-lint --slow", decide: "deny N too slow") == (6, "denied"))
        #expect(try await codexCall("git push origin main") == (7, "denied"))
        // #8 nobody answers: the hook's deadline passes and the host answers itself.
        let docs = try fixture.hook(
            on: 1, "claude",
            Payload.claude("PreToolUse", "frobnicate-docs build", description: "docs", session: claude, cwd: repo),
            deadline: 10)
        // (Not polled as queued: on a loaded machine the poll may come after the deadline.)
        _ = docs.wait()
        try await eventually("the host's answer is recorded", timeout: 60) {
            fixture.bosun("queue", "--all", "--json").jsonLines.last.map {
                $0["number"] as? Int == 8 && $0["status"] as? String == "expired"
            } ?? false
        }
        // #9 approved from mobile changes notes.md; #10 commits it; #11 changes it again; #12 commits.
        #expect(
            try await claudeCall("frobnicate-fmt notes.md", description: "format", decide: "mo:approve N")
                == (9, "allowed"))
        try "notes, formatted\n".write(toFile: repo + "/notes.md", atomically: true, encoding: .utf8)
        #expect(try await claudeCall("git commit -am fmt") == (10, "allowed"))
        try Self.git(repo, "commit", "-qam", "fmt")
        #expect(
            try await claudeCall("frobnicate-fmt notes.md", description: "format again", decide: "approve N")
                == (11, "allowed"))
        try "notes, formatted twice\n".write(toFile: repo + "/notes.md", atomically: true, encoding: .utf8)
        #expect(try await claudeCall("git commit -am again") == (12, "allowed"))
        try Self.git(repo, "commit", "-qam", "again")
        // #13 Codex runs an approved test that fails: its PostToolUse response is a string.
        #expect(try await codexCall("frobnicate-test unit", decide: "approve N") == (13, "allowed"))
        var codexPost = Payload.codexPreToolUse("frobnicate-test unit", session: codex)
        codexPost["hook_event_name"] = "PostToolUse"
        codexPost["tool_response"] = "Exit code: 2\nWall time: 0.4 seconds\nOutput:\nFAIL test_parse"
        #expect(try fixture.hook(on: 2, "codex", codexPost).wait().status == 0)
        try await eventually("outcomes stored") {
            (Self.json(fixture.bosun("stats", "--json"))["failures"] as? [String: Any]).flatMap {
                ($0["overall"] as? [String: Any])?["outcomes"] as? Int
            } == 3
        }

        // Marks: operators only, audited.
        #expect(Self.shell(fixture, "vic", "desk", "mark 3 incident x").status == 77)
        #expect(fixture.bosun("mark", "3", "incident", "lint failed right after approval").status == 0)
        #expect(Self.shell(fixture, "mo", "mobile", "mark 9 near-miss formatted the same file twice").status == 0)
        #expect(fixture.bosun("mark", "99", "incident", "x").status == 1)
        #expect(
            fixture.bosun("audit", "--json").jsonLines.filter { $0["kind"] as? String == "mark" }.count == 2)

        // ── stats ─────────────────────────────────────────────────────────────────────────────────
        let stats = Self.json(fixture.bosun("stats", "--json"))
        #expect(stats["requests"] as? Int == 13)
        #expect(stats["queued"] as? Int == 8)
        #expect(asked == 7)

        let evalset = fixture.bosun("export", "evalset").jsonLines
        #expect(evalset.compactMap { $0["request"] as? Int } == [3, 4, 5, 6, 8, 9, 11, 13])
        let rfc3339 = ISO8601DateFormatter()
        rfc3339.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func date(_ line: [String: Any], _ key: String) -> Double? {
            (line[key] as? String).flatMap { rfc3339.date(from: $0)?.timeIntervalSince1970 }
        }
        var responses: [Int: Double] = [:]
        for line in evalset {
            if let first = date(line, "first_vote_at"), let queued = date(line, "queued_at") {
                responses[line["request"] as? Int ?? 0] = Double(first) - Double(queued)
            }
        }
        #expect(responses.keys.sorted() == [3, 4, 5, 6, 9, 11, 13])
        let response = try #require(stats["response"] as? [String: Any])
        let overall = try #require(response["overall"] as? [String: Any])
        // JSON times carry milliseconds: a difference of two is within 2 ms of the stored one.
        func near(_ value: Any?, _ expected: Double) -> Bool {
            guard let value = value as? Double else { return false }
            return abs(value - expected) <= 0.002
        }
        #expect(overall["count"] as? Int == 7)
        #expect(near(overall["p50"], Self.rank(Array(responses.values), 0.5)))
        #expect(near(overall["p90"], Self.rank(Array(responses.values), 0.9)))
        #expect(near(overall["max"], responses.values.max() ?? -1))
        #expect(response["unanswered"] as? Int == 1)
        func groups(_ key: String) -> [String: [String: Any]] {
            var out: [String: [String: Any]] = [:]
            for group in response[key] as? [[String: Any]] ?? [] {
                out[group["key"] as? String ?? ""] = group["summary"] as? [String: Any]
            }
            return out
        }
        let account = try #require(
            (evalset.first?["decision"] as? [String: Any]).flatMap {
                ($0["votes"] as? [[String: Any]])?.first?["operator"] as? String
            })
        #expect(groups("by_channel").mapValues { $0["count"] as? Int } == ["cli": 5, "mobile": 2])
        #expect(groups("by_operator").mapValues { $0["count"] as? Int } == [account: 5, "mo": 2])
        #expect(groups("by_host").mapValues { $0["count"] as? Int } == ["h1": 5, "h2": 2])
        #expect(groups("by_tier").mapValues { $0["count"] as? Int } == ["expand": 7])
        let mobile = [4, 9].compactMap { responses[$0] }
        #expect(near(groups("by_channel")["mobile"]?["max"], mobile.max() ?? -1))
        #expect(near(groups("by_channel")["mobile"]?["p50"], Self.rank(mobile, 0.5)))
        // Agent wait: creation to decision, at most to the hook's deadline, over the eight asks.
        let wait = evalset.reduce(0.0) { total, line in
            guard let created = date(line, "created_at"), let decided = date(line, "decided_at"),
                let deadline = date(line, "deadline_at")
            else { return total + 1e9 }
            return total + max(0, min(decided, deadline) - created)
        }
        #expect(abs((response["agent_wait_seconds"] as? Double ?? -1) - wait) <= 0.002 * 8)

        let volume = try #require(stats["volume"] as? [String: Any])
        #expect(volume["asks"] as? Int == 8)
        #expect(volume["threads"] as? Int == 2)
        #expect(volume["per_thread"] as? Double == 4)
        let top = volume["top"] as? [[String: Any]] ?? []
        #expect(top.map { $0["asks"] as? Int } == [6, 2])
        #expect(top.map { ($0["thread"] as? String)?.prefix(3) } == ["h1/", "h2/"])
        #expect(top.allSatisfy { ($0["per_hour"] as? Double ?? 0) > 0 })

        let failures = try #require(stats["failures"] as? [String: Any])
        func rate(_ value: Any?) -> [Int?] {
            let object = value as? [String: Any] ?? [:]
            return [object["approved"] as? Int, object["outcomes"] as? Int, object["failed"] as? Int]
        }
        #expect(rate(failures["overall"]) == [6, 3, 2])
        #expect((failures["overall"] as? [String: Any])?["rate"] as? Double == 2.0 / 3)
        let byChannel = Dictionary(
            uniqueKeysWithValues: (failures["by_channel"] as? [[String: Any]] ?? []).map {
                ($0["key"] as? String ?? "", rate($0))
            })
        #expect(byChannel == ["cli": [4, 2, 2], "mobile": [2, 1, 0]])
        #expect((failures["by_tier"] as? [[String: Any]] ?? []).map(rate) == [[6, 3, 2]])
        #expect(rate(failures["policy_allowed"]) == [3, 1, 0])

        let rework = try #require(stats["rework"] as? [String: Any])
        #expect(rework["mobile_approved"] as? Int == 2)
        #expect(rework["with_files"] as? Int == 1)
        #expect(rework["reworked"] as? Int == 1)
        #expect(rework["requests"] as? [Int] == [9])
        #expect(rework["rate"] as? Double == 1)

        let decisions = try #require(stats["decisions"] as? [String: Any])
        #expect(decisions["decided"] as? Int == 13)
        #expect(decisions["policy"] as? Int == 5)
        #expect(decisions["person"] as? Int == 7)
        #expect(decisions["host"] as? Int == 1)
        #expect(decisions["timeout"] as? Int == 0)
        #expect(decisions["denied"] as? Int == 3)
        #expect(decisions["denial_rate"] as? Double == 3.0 / 13)
        #expect(decisions["queued_decided"] as? Int == 8)
        // #8: the hook's deadline passed on the host (a timeout, not a denial).
        #expect(decisions["expired"] as? Int == 1)
        #expect(decisions["expiry_rate"] as? Double == 1.0 / 8)
        #expect(decisions["denied_missing_evidence"] as? Int == 1)

        let noisiest = stats["noisiest"] as? [[String: Any]] ?? []
        #expect(
            noisiest.map { $0["action"] as? String } == [
                "frobnicate-lint", "frobnicate-fmt notes.md", "frobnicate-docs build", "frobnicate-test unit",
            ])
        #expect(noisiest.map { $0["count"] as? Int } == [4, 2, 1, 1])
        #expect(noisiest.map { $0["approval_rate"] as? Double } == [0.75, 1, 0, 1])

        let marks = stats["marks"] as? [[String: Any]] ?? []
        #expect(marks.map { $0["number"] as? Int } == [3, 9])
        #expect(marks.map { $0["kind"] as? String } == ["incident", "near-miss"])
        #expect(marks.map { $0["operator"] as? String } == [account, "mo"])

        // Filters.
        #expect(Self.json(fixture.bosun("stats", "--json", "--host", "h2"))["requests"] as? Int == 3)
        #expect(Self.json(fixture.bosun("stats", "--json", "--label", "rack=b"))["requests"] as? Int == 3)
        #expect(Self.json(fixture.bosun("stats", "--json", "--operator", "mo"))["requests"] as? Int == 2)
        #expect(Self.json(fixture.bosun("stats", "--json", "--tier", "commit"))["requests"] as? Int == 1)
        #expect(Self.json(fixture.bosun("stats", "--json", "--since", "2030-01-01T00:00:00Z"))["requests"] as? Int == 0)
        #expect(fixture.bosun("stats", "--since", "forever").status == 2)
        let text = Self.shell(fixture, "vic", "desk", "stats")
        #expect(text.status == 0, "viewers read stats: \(text.stderr)")
        #expect(text.stdout.contains("13 requests, 8 asked a person"), "\(text.stdout)")

        // ── the evaluation set ────────────────────────────────────────────────────────────────────
        let three = try #require(evalset.first)
        #expect(three["action"] as? String == lint)
        #expect(three["person"] as? String == "approved")
        #expect((three["outcome"] as? [String: Any])?["exit_code"] as? Int == -1)
        #expect((three["outcome"] as? [String: Any])?["failed"] as? Bool == true)
        #expect((three["policy"] as? [String: Any])?["verdict"] as? String == "ask")
        #expect(((three["marks"] as? [[String: Any]])?.first)?["kind"] as? String == "incident")
        #expect((three["evidence"] as? [String: Any])?["command"] as? String == lint)
        #expect(evalset.first { $0["request"] as? Int == 6 }?["person"] as? String == "denied")
        #expect(evalset.first { $0["request"] as? Int == 8 }?["person"] as? String == "none")
        #expect(
            (evalset.first { $0["request"] as? Int == 8 }?["decision"] as? [String: Any])?["status"] as? String
                == "expired")
        #expect(fixture.bosun("export", "evalset", "--all").jsonLines.count == 13)
        #expect(
            (evalset.last?["outcome"] as? [String: Any])?["exit_code"] as? Int == 2, "Codex's string response is parsed"
        )

        // ── policy suggest ────────────────────────────────────────────────────────────────────────
        let suggestions = fixture.bosun("policy", "suggest", "--min-count", "3", "--json").jsonLines
        #expect(suggestions.count == 1)
        let suggestion = try #require(suggestions.first)
        #expect(suggestion["argv"] as? [String] == ["frobnicate-lint --fast $"])
        #expect(suggestion["labels"] as? [String: String] == ["fleet": "local", "rack": "a"])
        #expect(suggestion["agent"] as? [String] == ["claude"])
        #expect(suggestion["tool"] as? [String] == ["Bash"])
        #expect(suggestion["examples_match"] as? [String] == [lint])
        #expect(suggestion["examples_not_match"] as? [String] == ["frobnicate-lint --slow"])
        #expect(suggestion["requests"] as? [Int] == [3, 4, 5])
        #expect(suggestion["repos"] as? [String] == [repo])
        #expect(fixture.bosun("policy", "suggest", "--min-count", "2", "--json").jsonLines.count == 2)

        // Replay before and after: the repository's policy changes nothing; a stricter one exactly this.
        let same = fixture.bosun("policy", "replay", Fixture.packageRoot + "/policies", "--json")
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.jsonLines.isEmpty, "\(same.stdout)")
        #expect(fixture.bosun("policy", "replay", Fixture.packageRoot + "/policies").stdout.contains("0 change(s)"))
        let strict = fixture.root + "/strict"
        try FileManager.default.createDirectory(atPath: strict, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Fixture.packageRoot + "/policies/default.toml", toPath: strict + "/default.toml")
        try """
        [[rule]]
        id = "strict-lint"
        tier = "expand"
        decision = "deny"
        reason = "no linting"
        match.argv = ["frobnicate-lint"]
        examples.match = ["frobnicate-lint --fast"]

        [[rule]]
        id = "strict-status"
        tier = "continue"
        decision = "ask"
        reason = "ask before status"
        match.argv = ["git status"]
        examples.match = ["git status"]
        """.write(toFile: strict + "/00-strict.toml", atomically: true, encoding: .utf8)
        let changes = fixture.bosun("policy", "replay", strict, "--json").jsonLines
        #expect(changes.map { $0["number"] as? Int } == [1, 3, 4, 5, 6])
        #expect(
            changes.map { $0["kind"] as? String } == [
                "would ask what policy allowed", "would deny what a person approved",
                "would deny what a person approved", "would deny what a person approved",
                "would deny what a person denied",
            ])
        #expect(Self.shell(fixture, "vic", "desk", "policy replay \(strict)").status == 77, "bosund reads the file")

        // --write: operators only; checked with the policies in force; audited with its digest.
        let target = fixture.config + "/policies/zz-suggested.toml"
        #expect(Self.shell(fixture, "vic", "desk", "policy suggest --write \(target)").status == 77)
        let written = fixture.bosun("policy", "suggest", "--min-count", "3", "--write", target)
        #expect(written.status == 0, "\(written.stderr)")
        // The file's SHA-256, by coreutils (this target runs the binaries and imports none of our modules).
        let digest = String(Fixture.run("/usr/bin/sha256sum", [target]).stdout.prefix(64))
        #expect(digest.count == 64 && written.stdout.contains(digest), "\(written.stdout)")
        #expect(fixture.bosun("check", "--config", fixture.config).status == 0)
        let audit = fixture.bosun("audit", "--json").jsonLines.filter { $0["kind"] as? String == "policy_write" }
        #expect(audit.count == 1)
        // `audit --json` carries details as an object.
        let details = audit.first?["details"] as? [String: Any]
        #expect(details?.values.contains { "\($0)".contains(digest) } == true, "\(audit)")
        #expect(
            fixture.bosun("policy", "suggest", "--min-count", "3", "--write", target).status == 1, "never overwrites")
        #expect(fixture.bosun("audit", "verify").status == 0, "marks and the policy write keep the chain whole")
        #expect(fixture.bosun("policy", "replay", "policies").status == 2, "a relative path is refused")
        // Once reloaded, the suggested rule allows the command on rack a, and nothing else changes.
        #expect(fixture.bosun("reload").status == 0)
        #expect(try await claudeCall(lint) == (14, "allowed"))
    }
}
