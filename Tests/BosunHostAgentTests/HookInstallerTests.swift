import BosunCore
import BosunHostAgent
import Foundation
import Testing

/// A fresh directory under the system temporary directory, removed by `cleanup()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "bosun-hooks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }

    func write(_ text: String, to name: String) throws {
        let file = path + "/" + name
        try FileManager.default.createDirectory(
            atPath: NSString(string: file).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
    }

    func read(_ name: String) throws -> String {
        try String(contentsOfFile: path + "/" + name, encoding: .utf8)
    }
}

@Suite struct HookInstallerTests {
    static let claudeCommand = "/usr/local/bin/bosun-host hook claude"
    static let codexCommand = "/usr/local/bin/bosun-host hook codex"

    // MARK: Claude

    @Test func claudeMergeKeepsForeignKeysAndHooks() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        try scratch.write(
            """
            {
              "model": "opus",
              "env": {"DISABLE_TELEMETRY": "1"},
              "permissions": {"allow": ["Bash(ls:*)"], "deny": []},
              "hooks": {
                "PreToolUse": [
                  {"matcher": "Bash", "hooks": [{"type": "command", "command": "/usr/bin/other-guard", "timeout": 5}]},
                  {"matcher": "*", "hooks": [
                    {"type": "command", "command": "/old/bin/bosun-host hook claude", "timeout": 60},
                    {"type": "command", "command": "/usr/bin/logger-hook"}
                  ]}
                ],
                "Stop": [{"hooks": [{"type": "command", "command": "/opt/bosun-host hook claude"}]}],
                "Notification": [{"hooks": [{"type": "command", "command": "notify-send hi"}]}]
              }
            }
            """, to: "settings.json")
        let installer = HookInstaller(
            agent: .claude, scope: .user, configDirectory: scratch.path, command: Self.claudeCommand)
        #expect(try installer.install() == [scratch.path + "/settings.json"])

        let root = try JSONValue(parsing: Data(try scratch.read("settings.json").utf8))
        #expect(root["model"] == .string("opus"))
        #expect(root["env"] == .object(["DISABLE_TELEMETRY": .string("1")]))
        #expect(root["permissions"]?["allow"] == .array([.string("Bash(ls:*)")]))
        let hooks = try #require(root["hooks"])
        #expect(
            hooks["Notification"]
                == .array([
                    .object([
                        "hooks": .array([.object(["type": .string("command"), "command": .string("notify-send hi")])])
                    ])
                ]))

        let bosun: JSONValue = .object([
            "type": .string("command"), "command": .string(Self.claudeCommand), "timeout": .number(300),
        ])
        let pre = try #require(hooks["PreToolUse"]?.arrayValue)
        #expect(pre.count == 3)
        #expect(pre[0]["hooks"]?.arrayValue?.first?["command"] == .string("/usr/bin/other-guard"))
        #expect(
            pre[1]
                == .object([
                    "matcher": .string("*"),
                    "hooks": .array([.object(["type": .string("command"), "command": .string("/usr/bin/logger-hook")])]
                    ),
                ]))
        #expect(pre[2] == .object(["matcher": .string("*"), "hooks": .array([bosun])]))
        // The old Bosun-only Stop group is replaced, not duplicated.
        #expect(hooks["Stop"] == .array([.object(["hooks": .array([bosun])])]))

        for event in [
            "PreToolUse", "PermissionRequest", "PostToolUse", "SessionStart", "UserPromptSubmit", "Stop", "SessionEnd",
        ] {
            let groups = try #require(hooks[event]?.arrayValue, "\(event)")
            let ours = groups.flatMap { $0["hooks"]?.arrayValue ?? [] }.filter {
                $0["command"]?.stringValue?.contains("bosun-host hook") == true
            }
            #expect(ours == [bosun], "\(event)")
            let matcher = groups.last?["matcher"]
            let toolEvent = ["PreToolUse", "PermissionRequest", "PostToolUse"].contains(event)
            #expect(matcher == (toolEvent ? .string("*") : nil), "\(event)")
        }
    }

    @Test func claudeInstallIsIdempotent() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        try scratch.write(
            #"{"theme":"dark","hooks":{"PreToolUse":[{"matcher":"Edit","hooks":[{"type":"command","command":"fmt"}]}]}}"#,
            to: "settings.json")
        let installer = HookInstaller(
            agent: .claude, scope: .user, configDirectory: scratch.path, command: Self.claudeCommand, timeout: 120)
        _ = try installer.install()
        let first = try scratch.read("settings.json")
        _ = try installer.install()
        _ = try installer.install()
        #expect(try scratch.read("settings.json") == first)
        #expect(
            first.components(separatedBy: "bosun-host hook").count - 1 == 8,
            "one per Claude event, PostToolUseFailure included")
        #expect(first.contains("\"timeout\": 120"))
        #expect(first.hasSuffix("}\n"))

        // A new command path replaces the old entries.
        var moved = installer
        moved.command = "/opt/bosun/bin/bosun-host hook claude"
        _ = try moved.install()
        let second = try scratch.read("settings.json")
        #expect(second.components(separatedBy: "bosun-host hook").count - 1 == 8)
        #expect(!second.contains(Self.claudeCommand))
    }

    @Test func claudeCreatesMissingSettingsUnderProjectScope() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        let installer = HookInstaller(
            agent: .claude, scope: .project, command: Self.claudeCommand, workingDirectory: scratch.path,
            environment: ["HOME": "/nonexistent"])
        #expect(installer.configPath == scratch.path + "/.claude/settings.json")
        #expect(try installer.install() == [scratch.path + "/.claude/settings.json"])
        let root = try JSONValue(parsing: Data(try scratch.read(".claude/settings.json").utf8))
        #expect(root.objectValue?.keys.sorted() == ["hooks"])
        #expect(root["hooks"]?.objectValue?.count == 8)
    }

    @Test func claudeRefusesToClobberMalformedSettings() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        for text in ["{ not json", "[1,2]", #"{"hooks": []}"#] {
            try scratch.write(text, to: "settings.json")
            let installer = HookInstaller(
                agent: .claude, scope: .user, configDirectory: scratch.path, command: Self.claudeCommand)
            #expect(throws: HookInstallerError.self) { try installer.install() }
            #expect(try scratch.read("settings.json") == text)
        }
    }

    @Test func symlinkedSettingsAreWrittenThrough() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        try scratch.write(#"{"model":"opus"}"#, to: "dotfiles/claude-settings.json")
        try FileManager.default.createDirectory(atPath: scratch.path + "/home", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: scratch.path + "/home/settings.json",
            withDestinationPath: scratch.path + "/dotfiles/claude-settings.json")
        let installer = HookInstaller(
            agent: .claude, scope: .user, configDirectory: scratch.path + "/home", command: Self.claudeCommand)
        _ = try installer.install()
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: scratch.path + "/home/settings.json")
        #expect(link == scratch.path + "/dotfiles/claude-settings.json")
        let root = try JSONValue(parsing: Data(try scratch.read("dotfiles/claude-settings.json").utf8))
        #expect(root["model"] == .string("opus"))
        #expect(root["hooks"]?["PreToolUse"] != nil)
    }

    @Test func configDirectoriesFollowScopeAndEnvironment() {
        let env = ["HOME": "/home/dev", "CODEX_HOME": "/data/codex"]
        func dir(_ agent: HookAgent, _ scope: HookInstaller.Scope, _ env: [String: String]) -> String {
            HookInstaller(agent: agent, scope: scope, command: "c", workingDirectory: "/srv/app", environment: env)
                .resolvedConfigDirectory
        }
        #expect(dir(.claude, .user, env) == "/home/dev/.claude")
        #expect(dir(.claude, .project, env) == "/srv/app/.claude")
        #expect(dir(.codex, .user, env) == "/data/codex")
        #expect(dir(.codex, .user, ["HOME": "/home/dev"]) == "/home/dev/.codex")
        #expect(dir(.codex, .project, env) == "/srv/app/.codex")
        let relative = HookInstaller(
            agent: .codex, scope: .user, configDirectory: "cfg/../conf", command: "c", workingDirectory: "/srv/app")
        #expect(relative.configPath == "/srv/app/conf/config.toml")
    }

    // MARK: Codex

    static let codexOriginal = """
        # my codex config
        model = "gpt-5-codex"
        approval_policy = "on-request"

        [features]
        plugins = false

        [projects."/srv/app"]
        trust_level = "trusted"

        [hooks.state."/elsewhere/hooks.json:stop:0:0"]
        trusted_hash = "sha256:0000"
        """

    @Test func codexAppendsABlockAndKeepsTheFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        try scratch.write(Self.codexOriginal, to: "config.toml")
        let installer = HookInstaller(
            agent: .codex, scope: .user, configDirectory: scratch.path, command: Self.codexCommand)
        #expect(try installer.install() == [scratch.path + "/config.toml"])
        let text = try scratch.read("config.toml")
        #expect(text.hasPrefix(Self.codexOriginal + "\n"))
        #expect(text.hasSuffix(HookInstaller.codexBlockEnd + "\n"))
        let path = scratch.path + "/config.toml"
        let expectedBlock = """
            \(HookInstaller.codexBlockStart)
            [[hooks.PreToolUse]]
            matcher = "*"

            [[hooks.PreToolUse.hooks]]
            type = "command"
            command = "/usr/local/bin/bosun-host hook codex"
            timeout = 300

            [[hooks.PermissionRequest]]
            matcher = "*"

            [[hooks.PermissionRequest.hooks]]
            type = "command"
            command = "/usr/local/bin/bosun-host hook codex"
            timeout = 300

            [[hooks.PostToolUse]]
            matcher = "*"

            [[hooks.PostToolUse.hooks]]
            type = "command"
            command = "/usr/local/bin/bosun-host hook codex"
            timeout = 300

            [[hooks.SessionStart]]
            matcher = "*"

            [[hooks.SessionStart.hooks]]
            type = "command"
            command = "/usr/local/bin/bosun-host hook codex"
            timeout = 300

            [[hooks.UserPromptSubmit]]

            [[hooks.UserPromptSubmit.hooks]]
            type = "command"
            command = "/usr/local/bin/bosun-host hook codex"
            timeout = 300

            [[hooks.Stop]]

            [[hooks.Stop.hooks]]
            type = "command"
            command = "/usr/local/bin/bosun-host hook codex"
            timeout = 300

            [hooks.state."\(path):pre_tool_use:0:0"]
            trusted_hash = "sha256:9e2ca7b62ebba88465f46930aa7ced2600afabcac6fb18cf9e986ccef975fcce"

            """
        #expect(text.contains(expectedBlock))
        #expect(
            text.contains(
                "[hooks.state.\"\(path):stop:0:0\"]\ntrusted_hash = \"sha256:4dc72b34639461ccdb814691a1a1a02117b07148381ef8c464b32ba124f2316c\"\n"
            ))
        for label in ["permission_request", "post_tool_use", "session_start", "user_prompt_submit"] {
            #expect(text.contains("[hooks.state.\"\(path):\(label):0:0\"]\ntrusted_hash = \"sha256:"), "\(label)")
        }
    }

    @Test func codexReplacesItsBlockAndKeepsEverythingElseByteForByte() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        let head = "model = \"o3\"\r\n# keep: odd spacing   \n\n"
        let tail = "\n[profiles.fast]\nmodel = \"gpt-5-mini\"\n# trailing comment without newline"
        let stale = """
            \(HookInstaller.codexBlockStart)
            [[hooks.PreToolUse]]
            matcher = "*"
            [[hooks.PreToolUse.hooks]]
            type = "command"
            command = "/old/bosun-host hook codex"
            \(HookInstaller.codexBlockEnd)

            """
        try scratch.write(head + stale + tail, to: "config.toml")
        let installer = HookInstaller(
            agent: .codex, scope: .user, configDirectory: scratch.path, command: Self.codexCommand, timeout: 45)
        _ = try installer.install()
        let first = try scratch.read("config.toml")
        #expect(first.hasPrefix(head + HookInstaller.codexBlockStart + "\n"))
        #expect(first.hasSuffix(HookInstaller.codexBlockEnd + "\n" + tail))
        #expect(!first.contains("/old/bosun-host"))
        #expect(first.components(separatedBy: HookInstaller.codexBlockStart).count == 2)
        #expect(first.contains("timeout = 45\n"))

        _ = try installer.install()
        #expect(try scratch.read("config.toml") == first)
    }

    @Test func codexCreatesAMissingConfig() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        let installer = HookInstaller(
            agent: .codex, scope: .user, command: Self.codexCommand,
            environment: ["HOME": "/nonexistent", "CODEX_HOME": scratch.path + "/codex-home"])
        #expect(try installer.install() == [scratch.path + "/codex-home/config.toml"])
        let text = try scratch.read("codex-home/config.toml")
        #expect(text.hasPrefix(HookInstaller.codexBlockStart + "\n[[hooks.PreToolUse]]\n"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/codex-home")
        #expect(leftovers == ["config.toml"])
    }

    @Test func codexGroupIndexCountsTheUsersOwnGroupsAbove() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        try scratch.write(
            """
            [[hooks.PreToolUse]]
            matcher = "Bash"
            [[hooks.PreToolUse.hooks]]
            type = "command"
            command = "/usr/bin/other-guard"

            """, to: "config.toml")
        let installer = HookInstaller(
            agent: .codex, scope: .user, configDirectory: scratch.path, command: Self.codexCommand)
        _ = try installer.install()
        let text = try scratch.read("config.toml")
        let path = scratch.path + "/config.toml"
        #expect(text.contains("[hooks.state.\"\(path):pre_tool_use:1:0\"]"))
        #expect(text.contains("[hooks.state.\"\(path):post_tool_use:0:0\"]"))
    }

    @Test func codexTrustHashMatchesPythonHashlib() {
        // python3: hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(',', ':'),
        // ensure_ascii=False).encode()).hexdigest()
        #expect(
            HookInstaller.codexTrustedHash(
                label: "pre_tool_use", command: Self.codexCommand, timeout: 300, matcher: "*")
                == "sha256:9e2ca7b62ebba88465f46930aa7ced2600afabcac6fb18cf9e986ccef975fcce")
        #expect(
            HookInstaller.codexTrustedHash(label: "stop", command: Self.codexCommand, timeout: 300, matcher: nil)
                == "sha256:4dc72b34639461ccdb814691a1a1a02117b07148381ef8c464b32ba124f2316c")
        #expect(
            HookInstaller.codexTrustedHash(
                label: "permission_request", command: "/opt/bosun dir/bosun-host hook codex --label \"é\\x\"",
                timeout: 600, matcher: "*")
                == "sha256:8da9649a1357e3d7e179bb809a994889f851271452b868ccee2a4a2463d00549")
    }

    @Test func codexTrustHashMatchesFoundationSerialization() throws {
        let identity: [String: Any] = [
            "event_name": "post_tool_use", "matcher": "*",
            "hooks": [["async": false, "command": Self.codexCommand, "timeout": 300, "type": "command"]],
        ]
        let data = try JSONSerialization.data(
            withJSONObject: identity, options: [.sortedKeys, .withoutEscapingSlashes])
        #expect(
            HookInstaller.codexTrustedHash(
                label: "post_tool_use", command: Self.codexCommand, timeout: 300, matcher: "*")
                == "sha256:" + SHA256.hex(data))
    }

    @Test func codexCommandIsTOMLEscaped() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        let command = "/opt/bosun dir/bosun-host hook codex --label \"é\\x\"\t"
        let installer = HookInstaller(agent: .codex, scope: .user, configDirectory: scratch.path, command: command)
        _ = try installer.install()
        let text = try scratch.read("config.toml")
        #expect(text.contains(#"command = "/opt/bosun dir/bosun-host hook codex --label \"é\\x\"\t""#))
    }

    // MARK: - The running binary (issue 7.2)

    /// An executable file at `scratch/name` (a copy of /bin/true: any real executable will do).
    static func executable(in scratch: ScratchDirectory, _ name: String) throws -> String {
        let path = scratch.path + "/" + name
        try FileManager.default.createDirectory(
            atPath: NSString(string: path).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: path)
        return path
    }

    @Test func aBareNameIsResolvedThroughPATHWhenItIsTheRunningFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        let real = try Self.executable(in: scratch, "opt/bosun-host")
        try FileManager.default.createDirectory(atPath: scratch.path + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/bin/bosun-host", withDestinationPath: real)
        // /proc/self/exe stands for the running file: a link to it, as the kernel's is.
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/exe", withDestinationPath: real)
        let resolved = try HookInstaller.resolveExecutable(
            argv0: "bosun-host", environment: ["PATH": "/nonexistent:" + scratch.path + "/bin"],
            workingDirectory: "/", selfExe: scratch.path + "/exe")
        // The PATH entry (a symlink an upgrade may repoint) is kept: it is the running file.
        #expect(resolved == scratch.path + "/bin/bosun-host")
        #expect(
            HookInstaller.hookCommand(executable: resolved, agent: .claude)
                == scratch.path + "/bin/bosun-host hook claude")
    }

    @Test func argv0ThatIsNotTheRunningFileIsIgnored() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        let real = try Self.executable(in: scratch, "opt/bosun-host")
        let other = try Self.executable(in: scratch, "bin/bosun-host")
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/exe", withDestinationPath: real)
        // Found through PATH, but another file (exec -a, or a stale copy earlier in PATH).
        let viaPath = try HookInstaller.resolveExecutable(
            argv0: "bosun-host", environment: ["PATH": scratch.path + "/bin"], workingDirectory: "/",
            selfExe: scratch.path + "/exe")
        #expect(viaPath == real)
        #expect(other != real)
        // Not found at all: the kernel's path, never `<cwd>/bosun-host` (what main wrote).
        let project = scratch.path + "/project"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        let bare = try HookInstaller.resolveExecutable(
            argv0: "bosun-host", environment: ["PATH": "/nonexistent"], workingDirectory: project,
            selfExe: scratch.path + "/exe")
        #expect(bare == real)
    }

    @Test func aRelativeArgv0IsResolvedAgainstTheWorkingDirectory() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        let real = try Self.executable(in: scratch, "tools/bosun-host")
        let resolved = try HookInstaller.resolveExecutable(
            argv0: "../tools/./bosun-host", environment: [:], workingDirectory: scratch.path + "/project",
            selfExe: scratch.path + "/no-proc-here")
        #expect(resolved == real)
    }

    @Test func anUnresolvableOrUnusableBinaryIsRefused() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanup() }
        #expect(throws: HookInstallerError(.executable, path: "bosun-host")) {
            try HookInstaller.resolveExecutable(
                argv0: "bosun-host", environment: ["PATH": "/nonexistent"], workingDirectory: "/",
                selfExe: scratch.path + "/no-proc-here")
        }
        // A running file that is not an executable regular file (e.g. replaced by a directory).
        try FileManager.default.createDirectory(atPath: scratch.path + "/dir", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: scratch.path + "/exe", withDestinationPath: scratch.path + "/dir")
        let error = #expect(throws: HookInstallerError.self) {
            try HookInstaller.resolveExecutable(
                argv0: "", environment: [:], workingDirectory: "/", selfExe: scratch.path + "/exe")
        }
        #expect(error?.code == .executable)
        #expect(error?.detail == "not a regular file")
    }

    @Test func anExecutablePathWithSpacesIsShellQuotedInTheCommand() {
        #expect(
            HookInstaller.hookCommand(executable: "/opt/my tools/bosun-host", agent: .codex)
                == "'/opt/my tools/bosun-host' hook codex")
    }
}
