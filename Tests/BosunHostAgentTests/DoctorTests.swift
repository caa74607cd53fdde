import BosunCore
import Foundation
import Testing

@testable import BosunHostAgent

#if canImport(Glibc)
    import Glibc
#endif

/// `bosun-host doctor` against temporary homes, projects and spools, with the real `bosun-host`
/// binary as the hook command (its `--probe` is what doctor runs).
@Suite struct DoctorTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let binary =
        (ProcessInfo.processInfo.environment["BOSUN_BIN_DIR"] ?? packageRoot + "/.build/debug") + "/bosun-host"

    /// A home, a project and a spool under one scratch directory.
    struct Host {
        let scratch: ScratchDirectory
        var home: String { scratch.path + "/home" }
        var project: String { scratch.path + "/project" }
        var spool: Spool { Spool(root: scratch.path + "/spool") }
        var environment: [String: String] { ["HOME": home, "PATH": "/usr/bin:/bin"] }

        init() throws {
            scratch = try ScratchDirectory()
            for directory in [home, project] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        }

        func install(_ agent: HookAgent, _ scope: HookInstaller.Scope = .user, executable: String = DoctorTests.binary)
            throws
        {
            _ = try HookInstaller(
                agent: agent, scope: scope, command: HookInstaller.hookCommand(executable: executable, agent: agent),
                workingDirectory: project, environment: environment
            ).install()
        }

        func doctor(probe: Bool = true) -> DoctorReport {
            Doctor(spool: spool, environment: environment, projectDirectory: project, runProbe: probe).run()
        }
    }

    static func check(_ report: DoctorReport, _ name: String) -> DoctorCheck? {
        report.checks.first { $0.name == name }
    }

    @Test func installedHooksThatRunAreAllGood() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build bosun-host first")
        let host = try Host()
        defer { host.scratch.cleanup() }
        try host.install(.claude)
        try host.install(.codex, .project)
        try host.spool.prepare()
        let lock = try host.spool.holdLink(pid: getpid())
        defer { close(lock) }

        let report = host.doctor()
        #expect(report.ok, "\(report.render(width: 80))")
        #expect(report.hooksSummary == "claude,codex")
        #expect(Self.check(report, "claude hooks (user)")?.status == .ok)
        #expect(Self.check(report, "claude hooks (project)")?.status == .absent)
        #expect(Self.check(report, "codex hooks (project)")?.status == .ok)
        #expect(Self.check(report, "codex hooks (project)")?.detail.contains("trust hashes match") == true)
        #expect(Self.check(report, "claude hook command")?.detail.contains("runs (probe answered)") == true)
        #expect(Self.check(report, "codex hook command")?.status == .ok)
        #expect(Self.check(report, "supervisor link")?.detail.hasPrefix("live") == true)
        #expect(Self.check(report, "spool")?.status == .ok)
        #expect(Self.check(report, "inotify")?.status == .ok)
        // The probe leaves no thread, request or outbox entry behind.
        #expect(host.spool.readThreads().isEmpty)
        #expect(host.spool.pendingRequests().isEmpty)
        #expect(host.spool.outbox().isEmpty)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: host.spool.root + "/tmp")) == [])
    }

    @Test func noHooksAnywhereIsBrokenCoverageSummarisedAsNone() throws {
        let host = try Host()
        defer { host.scratch.cleanup() }
        let report = host.doctor()
        #expect(!report.ok)
        #expect(report.hooksSummary == "none")
        #expect(report.agents.isEmpty)
        for name in ["claude hooks (user)", "claude hooks (project)", "codex hooks (user)", "codex hooks (project)"] {
            #expect(Self.check(report, name)?.status == .absent)
        }
        #expect(Self.check(report, "coverage")?.status == .fail)
        // Without serve, no link.
        #expect(Self.check(report, "supervisor link")?.status == .fail)
    }

    @Test func aHookCommandPointingToAMissingBinaryIsBroken() throws {
        let host = try Host()
        defer { host.scratch.cleanup() }
        // What install-hooks wrote on main when run through PATH: `<cwd>/bosun-host hook claude`.
        try host.install(.claude, executable: host.project + "/bosun-host")
        let report = host.doctor()
        #expect(!report.ok)
        let command = try #require(Self.check(report, "claude hook command"))
        #expect(command.status == .fail)
        #expect(command.detail.contains("No such file or directory"))
        #expect(report.hooksSummary.hasPrefix("broken: claude hook command: \(host.project)/bosun-host: No such file"))
        #expect(report.agents.isEmpty)
    }

    @Test func aHookCommandThatIsNotBosunHostFailsTheProbe() throws {
        let host = try Host()
        defer { host.scratch.cleanup() }
        // Something else under bosun-host's name (a wrong file deployed): a copy of /bin/true,
        // which exits 0 to anything, so only the probe's answer tells it apart.
        let impostor = host.scratch.path + "/bin/bosun-host"
        try FileManager.default.createDirectory(atPath: host.scratch.path + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: impostor)
        try host.install(.claude, executable: impostor)
        let report = host.doctor()
        let command = try #require(Self.check(report, "claude hook command"))
        #expect(command.status == .fail)
        #expect(command.detail.contains("--probe: exit 0"))
        // Without the probe (serve's summary), an executable file is enough.
        #expect(host.doctor(probe: false).hooksSummary == "claude")
    }

    @Test func aWrongCodexTrustHashIsBroken() throws {
        let host = try Host()
        defer { host.scratch.cleanup() }
        try host.install(.codex)
        let path = host.home + "/.codex/config.toml"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        let good = HookInstaller.codexTrustedHash(
            label: "stop", command: HookInstaller.hookCommand(executable: Self.binary, agent: .codex), timeout: 300,
            matcher: nil)
        #expect(text.contains(good))
        text = text.replacingOccurrences(of: good, with: "sha256:" + String(repeating: "0", count: 64))
        try text.write(toFile: path, atomically: true, encoding: .utf8)

        let report = host.doctor()
        let codex = try #require(Self.check(report, "codex hooks (user)"))
        #expect(codex.status == .fail)
        #expect(codex.detail.contains("trust hash for Stop does not match"))
        #expect(report.hooksSummary.hasPrefix("broken: codex hooks (user): "))
    }

    @Test func aCodexConfigMovedElsewhereHasNoTrustEntryForItsPath() throws {
        let host = try Host()
        defer { host.scratch.cleanup() }
        try host.install(.codex)
        // The same file under CODEX_HOME: Codex keys trust by the file's path, so none applies.
        let moved = host.scratch.path + "/codex-home"
        try FileManager.default.createDirectory(atPath: moved, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: host.home + "/.codex/config.toml", toPath: moved + "/config.toml")
        var environment = host.environment
        environment["CODEX_HOME"] = moved
        let report = Doctor(spool: host.spool, environment: environment, projectDirectory: host.project).run()
        let codex = try #require(Self.check(report, "codex hooks (user)"))
        #expect(codex.status == .fail)
        #expect(codex.detail.contains("no trust entry for PreToolUse"))
    }

    @Test func incompleteClaudeHooksAreBroken() throws {
        let host = try Host()
        defer { host.scratch.cleanup() }
        try host.install(.claude)
        let path = host.home + "/.claude/settings.json"
        var settings = try #require(try JSONValue(parsing: Data(contentsOf: URL(fileURLWithPath: path))).objectValue)
        var hooks = try #require(settings["hooks"]?.objectValue)
        hooks["PreToolUse"] = nil
        settings["hooks"] = .object(hooks)
        try Data(JSONValue.object(settings).prettyJSON.utf8).write(to: URL(fileURLWithPath: path))
        let check = try #require(Self.check(host.doctor(probe: false), "claude hooks (user)"))
        #expect(check.status == .fail)
        #expect(check.detail.contains("no Bosun hook for PreToolUse"))
    }

    @Test func anUnwritableSpoolIsBroken() throws {
        let host = try Host()
        defer { host.scratch.cleanup() }
        try host.install(.claude)
        // A file where the spool directory should be (root ignores permission bits, not this).
        try Data().write(to: URL(fileURLWithPath: host.spool.root))
        let report = host.doctor()
        let spool = try #require(Self.check(report, "spool"))
        #expect(spool.status == .fail)
        #expect(spool.detail.contains("cannot create directory"))
        #expect(report.hooksSummary.hasPrefix("broken: "))
        // The hook command's own probe reports the same spool as unusable.
        let command = try #require(Self.check(report, "claude hook command"))
        #expect(command.status == .fail)
        #expect(command.detail.contains("spool unusable"))
    }

    @Test func theHumanReportFitsFortyColumnsAndTheJSONIsOneObject() throws {
        let host = try Host()
        defer { host.scratch.cleanup() }
        try host.install(.claude, executable: host.project + "/a-rather-long-directory-name/bosun-host")
        let report = host.doctor(probe: false)
        let text = report.render(width: 40)
        for line in text.split(separator: "\n") {
            #expect(line.count <= 40, "\(line)")
        }
        #expect(text.contains("FAIL  claude hook command"))
        #expect(text.hasPrefix("bosun-host doctor: "))
        for width in [0, 1, 5, 20, 21, 39, 10_000] {
            #expect(!report.render(width: width).isEmpty)
        }
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == false)
        #expect((object["hooks"] as? String)?.hasPrefix("broken: ") == true)
        #expect((object["checks"] as? [[String: Any]])?.count == report.checks.count)
    }

    @Test func wrapCutsLongWordsAndKeepsShortOnes() {
        #expect(DoctorReport.wrap("a bb ccc", width: 4) == ["a bb", "ccc"])
        #expect(DoctorReport.wrap("", width: 10) == [""])
        #expect(DoctorReport.wrap("/usr/local/bin/bosun-host", width: 12) == ["/usr/local/", "bin/", "bosun-host"])
        #expect(DoctorReport.wrap("abcdefghij", width: 4) == ["abcd", "efgh", "ij"])
    }

    @Test func tomlBasicStringsRoundTripWhatTheInstallerWrites() {
        for value in ["/usr/bin/x hook codex", "q\"uote\\back\tslash\u{1}é", ""] {
            #expect(Doctor.tomlBasicString(HookInstaller.tomlString(value)) == value)
        }
        #expect(Doctor.tomlBasicString("\"unterminated") == nil)
        #expect(Doctor.tomlBasicString("\"bad \\q escape\"") == nil)
        #expect(Doctor.tomlBasicString("\"\\uD800\"") == nil)
    }
}
