import BosunCore
import Testing

@testable import BosunHostAgent

/// `bosun-host`'s command line without ArgumentParser (issue 10): the shapes scripts, hooks and
/// people use, and clear usage errors (never a trap) for the rest.
@Suite struct HostCommandLineTests {
    func parse(_ line: String) throws(HostUsageError) -> HostCommand {
        try HostCommandLine.parse(line.split(separator: " ").map(String.init))
    }

    @Test func theShapesInUseAreRead() throws {
        #expect(try parse("--version") == .version)
        #expect(try parse("--state /s serve") == .serve(state: "/s", silenceTimeout: nil))
        #expect(try parse("--state=/s serve --silence-timeout 5") == .serve(state: "/s", silenceTimeout: 5))
        #expect(try parse("serve --silence-timeout=2.5") == .serve(state: nil, silenceTimeout: 2.5))
        #expect(try parse("hook claude") == .hook(state: nil, agent: .claude, deadline: nil, probe: false))
        #expect(
            try parse("--state /s hook codex --deadline 20")
                == .hook(state: "/s", agent: .codex, deadline: 20, probe: false))
        #expect(
            try parse("hook codex --probe --state /s") == .hook(state: "/s", agent: .codex, deadline: nil, probe: true))
        #expect(try parse("--state /s run -- claude --flag -x") == .run(state: "/s", argv: ["claude", "--flag", "-x"]))
        #expect(try parse("status --json") == .status(state: nil, json: true))
        #expect(try parse("status") == .status(state: nil, json: false))
        #expect(
            try parse("install-hooks codex --scope project --timeout 60")
                == .installHooks(agent: .codex, scope: .project, configDirectory: nil, timeout: 60))
        #expect(
            try parse("install-hooks claude --config-dir /c")
                == .installHooks(agent: .claude, scope: .user, configDirectory: "/c", timeout: 300))
        #expect(try parse("doctor --json --project /p") == .doctor(state: nil, json: true, project: "/p"))
        guard case .help(let text) = try parse("hook --help") else {
            Issue.record("no help")
            return
        }
        #expect(text.contains("--deadline"))
        guard case .help(let root) = try parse("help") else {
            Issue.record("no help")
            return
        }
        #expect(root.contains("install-hooks"))
    }

    @Test func badCommandLinesAreUsageErrors() {
        for (line, message) in [
            ("", "Missing expected argument '<subcommand>'"), ("frobnicate", "Unknown subcommand 'frobnicate'"),
            ("hook", "Missing expected argument '<agent>'"), ("hook gemini", "'gemini' is invalid for '<agent>'"),
            ("hook claude extra", "Unexpected argument 'extra'"), ("hook claude --deadline", "Missing value"),
            ("hook claude --deadline nan", "invalid for '--deadline'"),
            ("hook claude --deadline inf", "invalid for '--deadline'"),
            ("hook claude --deadline 1e300", "at most 86400"), ("hook claude --deadline -1", "above 0"),
            ("hook claude --deadline 0", "above 0"), ("hook claude --verbose", "Unknown option '--verbose'"),
            ("hook claude --deadline 1 --deadline 2", "more than once"), ("run", "expected the agent's command"),
            ("run --", "expected the agent's command"), ("serve --silence-timeout -3", "positive number"),
            ("serve --silence-timeout 1e999", "invalid for '--silence-timeout'"), ("--state", "Missing value"),
            ("--state= hook claude", "needs a directory"), ("install-hooks claude --scope global", "user or project"),
            ("install-hooks claude --timeout 99999999999999999999", "whole number"),
            ("help nope", "Unknown subcommand"),
            ("status --json --json", "Unknown option '--json'"),
        ] {
            #expect(throws: HostUsageError.self, "\(line)") { _ = try parse(line) }
            do {
                _ = try parse(line)
            } catch {
                #expect(error.message.contains(message), "\(line): \(error.message)")
                #expect(error.description.hasPrefix("Error: "))
            }
        }
    }

    /// Values from the environment that are not seconds are ignored or clamped. On main
    /// `BOSUN_HOOK_DEADLINE=1e300` or `BOSUN_HOOK_UNREACHABLE_GRACE=inf` were taken as they are,
    /// and the reasons print `Int(settings.deadline)` / `Int(settings.unreachableGrace)`: a trap
    /// if that text is ever built (the waiting loop's order keeps it from being reached today, so
    /// this is hardening, not a crash seen); `--deadline nan` was accepted by ArgumentParser and
    /// made the hook wake every millisecond and never time out.
    @Test func hookSettingsFromTheEnvironmentAreBounded() {
        let huge = HookSettings(environment: [
            "BOSUN_HOOK_DEADLINE": "1e300", "BOSUN_HOOK_UNREACHABLE_GRACE": "inf", "BOSUN_HOOK_PAUSE_HOLD": "nan",
        ])
        #expect(huge.deadline == HostCommandLine.maxSeconds)
        #expect(huge.unreachableGrace == HostCommandLine.maxSeconds)
        #expect(huge.pauseHold == HookSettings().pauseHold)
        #expect(HookSettings.wholeSeconds(.nan) == 0)
        #expect(HookSettings.wholeSeconds(.infinity) == Int(HostCommandLine.maxSeconds))
        #expect(HookSettings.wholeSeconds(-5) == 0)
        #expect(HookSettings.wholeSeconds(270.9) == 270)
    }
}
