import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 7.2 and 7.3 end to end: hooks installed the README's way point at a binary that runs, and
/// supervision coverage (hooks per host, threads no hook ever passed) is visible in `bosun`.
@Suite(.serialized, .timeLimit(.minutes(10))) struct HookCoverageTests {
    /// A scratch directory removed at the end.
    final class Scratch {
        let path: String

        init() throws {
            var template = Array("/tmp/bosun-hooks-it-XXXXXX".utf8CString)
            guard mkdtemp(&template) != nil else { throw FixtureError(description: "mkdtemp failed") }
            path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        func directory(_ name: String) throws -> String {
            let full = path + "/" + name
            try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
            return full
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Runs `script` with `/bin/bash -c` (for `exec -a`) in `cwd` with exactly `environment`, `input` on stdin.
    static func shell(_ script: String, cwd: String, environment: [String: String], input: Data = Data())
        throws -> CommandResult
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        process.environment = environment
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let out = Fixture.ErrorCollector(stdout.fileHandleForReading)
        let err = Fixture.ErrorCollector(stderr.fileHandleForReading)
        let outData = out.wait()
        let errData = err.wait()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    static func sessionStart(_ session: String, cwd: String) throws -> Data {
        try JSONSerialization.data(withJSONObject: [
            "session_id": session, "transcript_path": "/t", "cwd": cwd, "hook_event_name": "SessionStart",
            "source": "startup", "model": "m",
        ])
    }

    /// The Bosun hook commands in a Claude settings.json (one per event).
    static func claudeCommands(_ path: String) throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let hooks = try #require(root["hooks"] as? [String: [[String: Any]]])
        return hooks.values.flatMap { groups in
            groups.flatMap { ($0["hooks"] as? [[String: Any]]) ?? [] }.compactMap { $0["command"] as? String }
        }.filter { $0.contains("bosun-host hook") }
    }

    /// The hook commands in Bosun's block of a Codex config.toml (TOML basic strings; the test paths
    /// need no escapes).
    static func codexCommands(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard line.hasPrefix("command = \""), line.hasSuffix("\"") else { return nil }
            return String(line.dropFirst(11).dropLast())
        }
    }

    /// Checks a written hook command: an absolute program that exists and is executable, outside
    /// the directory install-hooks ran in; and that running it as the agent would answers exit 0.
    static func expectRunnable(
        _ commands: [String], agent: String, project: String, scratch: Scratch,
        sourceLocation: SourceLocation =
            #_sourceLocation
    ) throws {
        #expect(!commands.isEmpty, sourceLocation: sourceLocation)
        for command in Set(commands) {
            let program = String(command.prefix { $0 != " " })
            #expect(command == "\(program) hook \(agent)", sourceLocation: sourceLocation)
            #expect(program.hasPrefix("/"), "\(command)", sourceLocation: sourceLocation)
            #expect(!program.hasPrefix(project), "\(command)", sourceLocation: sourceLocation)
            #expect(FileManager.default.isExecutableFile(atPath: program), "\(command)", sourceLocation: sourceLocation)
            // The hook as the agent runs it: through a shell, from the project, with a plain PATH.
            let spool = scratch.path + "/spool-\(agent)"
            let answer = try shell(
                command, cwd: project,
                environment: ["PATH": "/usr/bin:/bin", "HOME": scratch.path + "/home", "BOSUN_HOST_STATE": spool],
                input: sessionStart("sess-\(agent)", cwd: project))
            #expect(answer.status == 0, "\(command): \(answer.stderr)", sourceLocation: sourceLocation)
            // It really ran bosun-host: the session's thread is in the spool, marked as hooked.
            let thread = try Data(contentsOf: URL(fileURLWithPath: spool + "/threads/s-sess-\(agent).json"))
            let object = try JSONSerialization.jsonObject(with: thread) as? [String: Any]
            #expect(object?["hooked_at"] is String, sourceLocation: sourceLocation)
        }
    }

    @Test func installHooksRunThroughPATHWritesAnAbsolutePathThatRuns() throws {
        let scratch = try Scratch()
        let bin = try scratch.directory("deploy/bin")
        let home = try scratch.directory("home")
        let project = try scratch.directory("work/project")
        // The README's deploy flow: the helper copied onto PATH, run by its bare name elsewhere.
        try FileManager.default.copyItem(atPath: Fixture.binDirectory + "/bosun-host", toPath: bin + "/bosun-host")
        let environment = ["PATH": bin + ":/usr/bin:/bin", "HOME": home]

        let claude = try Self.shell(
            "bosun-host install-hooks claude --scope project", cwd: project, environment: environment)
        #expect(claude.status == 0, "\(claude.stderr)")
        #expect(claude.stdout.contains("wrote \(project)/.claude/settings.json"))
        #expect(claude.stdout.contains("hook command: \(bin)/bosun-host hook claude"))
        try Self.expectRunnable(
            Self.claudeCommands(project + "/.claude/settings.json"), agent: "claude", project: project,
            scratch: scratch)

        // argv[0] may lie (exec -a): the running file still decides.
        let codex = try Self.shell(
            "exec -a bosun-host-nowhere bosun-host install-hooks codex --scope project", cwd: project,
            environment: environment)
        #expect(codex.status == 0, "\(codex.stderr)")
        #expect(codex.stdout.contains("wrote \(project)/.codex/config.toml"))
        try Self.expectRunnable(
            Self.codexCommands(project + "/.codex/config.toml"), agent: "codex", project: project, scratch: scratch)
    }

    @Test func installHooksThroughASymlinkOnPATHKeepsTheLink() throws {
        let scratch = try Scratch()
        let bin = try scratch.directory("bin")
        let home = try scratch.directory("home")
        let project = try scratch.directory("project")
        try FileManager.default.createSymbolicLink(
            atPath: bin + "/bosun-host", withDestinationPath: Fixture.binDirectory + "/bosun-host")
        let result = try Self.shell(
            "bosun-host install-hooks claude", cwd: project,
            environment: ["PATH": bin + ":/usr/bin:/bin", "HOME": home])
        #expect(result.status == 0, "\(result.stderr)")
        let commands = try Self.claudeCommands(home + "/.claude/settings.json")
        #expect(Set(commands) == ["\(bin)/bosun-host hook claude"])
        try Self.expectRunnable(commands, agent: "claude", project: project, scratch: scratch)
    }

    @Test func hostsShowEachHostsHookCoverageAndThreadsShowUnsupervisedOnes() async throws {
        let fixture = try Fixture(hosts: 3)
        defer { fixture.shutdown() }
        let bosunHost = Fixture.binDirectory + "/bosun-host"
        // Each host its own HOME (as separate machines have), where its agents' user hooks live.
        var homes: [Int: String] = [:]
        for host in 1...3 {
            let home = fixture.root + "/homes/h\(host)"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            homes[host] = home
            let file = fixture.config + "/hosts/h\(host).toml"
            let text = try String(contentsOfFile: file, encoding: .utf8)
            try text.replacingOccurrences(of: "command = \"", with: "command = \"env HOME=\(home) ").write(
                toFile: file, atomically: true, encoding: .utf8)
        }
        let work = fixture.root + "/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        func onHost(_ host: Int, _ arguments: [String]) -> CommandResult {
            Fixture.run(
                "/usr/bin/env",
                ["HOME=\(homes[host] ?? "/nonexistent")", bosunHost, "--state", fixture.spool(host)]
                    + arguments, cwd: work)
        }
        // h1: both agents hooked. h2: none. h3: Claude hooks whose binary has gone away.
        #expect(onHost(1, ["install-hooks", "claude"]).status == 0)
        #expect(onHost(1, ["install-hooks", "codex"]).status == 0)
        #expect(onHost(3, ["install-hooks", "claude"]).status == 0)
        let h3Settings = (homes[3] ?? "") + "/.claude/settings.json"
        try String(contentsOfFile: h3Settings, encoding: .utf8)
            .replacingOccurrences(of: bosunHost, with: fixture.root + "/removed/bosun-host")
            .write(toFile: h3Settings, atomically: true, encoding: .utf8)

        try await fixture.startDaemon()
        try await eventually("all hosts up with a hooks summary") {
            fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" && $0["hooks"] is String }
        }
        let hosts = fixture.hosts()
        #expect(hosts["h1"]?["hooks"] as? String == "claude,codex")
        #expect(hosts["h2"]?["hooks"] as? String == "none")
        let broken = try #require(hosts["h3"]?["hooks"] as? String)
        #expect(broken.hasPrefix("broken: claude hook command: \(fixture.root)/removed/bosun-host: No such file"))
        let table = fixture.bosun("hosts")
        #expect(table.status == 0)
        #expect(table.stdout.contains("HOOKS"))
        #expect(table.stdout.contains("claude,codex"))

        // doctor on the hosts: h1 all good (hooks run, link live), h2 not.
        let good = onHost(1, ["doctor", "--json"])
        #expect(good.status == 0, "\(good.stdout)")
        let goodReport = try #require(good.jsonLines.first)
        #expect(goodReport["ok"] as? Bool == true)
        let checks = goodReport["checks"] as? [[String: Any]] ?? []
        #expect(
            checks.contains { $0["name"] as? String == "supervisor link" && $0["status"] as? String == "ok" },
            "\(checks)")
        let bad = onHost(2, ["doctor"])
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("FAIL  coverage"))
        #expect(bad.stdout.contains("hooks: none"))

        // A thread launched by `run` that no hook ever passed is unsupervised; one whose agent's
        // hook ran (through BOSUN_THREAD_ID, as `run` sets it) is not.
        try fixture.runThread(on: 2, "sleep", "30")
        let payload = String(decoding: try Self.sessionStart("sess-run", cwd: "/tmp"), as: UTF8.self)
        // The "agent" waits for its thread record (as a real agent's first hook comes after its
        // start-up), then calls its SessionStart hook and keeps running.
        try fixture.runThread(
            on: 1, "/bin/sh", "-c",
            """
            while [ ! -e "$BOSUN_HOST_STATE/threads/$BOSUN_THREAD_ID.json" ]; do sleep 0.05; done
            printf '%s' '\(payload)' | env HOME=\(homes[1] ?? "") \(bosunHost) hook claude || exit 99
            exec sleep 30
            """)
        try await eventually("both threads listed, h1's hooked") {
            let threads = fixture.threads()
            return threads.count == 2
                && threads.contains { $0["host"] as? String == "h1" && $0["hooked_at"] is String }
        }
        let threads = fixture.threads()
        let h2 = try #require(threads.first { $0["host"] as? String == "h2" })
        #expect(h2["state"] as? String == "running")
        #expect(h2["supervised"] as? Bool == false)
        #expect(h2["hooked_at"] is NSNull)
        let h1 = try #require(threads.first { $0["host"] as? String == "h1" })
        #expect(h1["supervised"] as? Bool == true)
        let listing = fixture.bosun("threads")
        let h2Line = listing.stdout.split(separator: "\n").first { $0.hasPrefix("h2/") } ?? ""
        let h1Line = listing.stdout.split(separator: "\n").first { $0.hasPrefix("h1/") } ?? ""
        #expect(h2Line.contains("running, unsupervised"), "\(listing.stdout)")
        #expect(!h1Line.contains("unsupervised"), "\(listing.stdout)")
    }
}
