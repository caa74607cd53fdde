import BosunCore
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Why hooks could not be installed: which file and what went wrong.
public struct HookInstallerError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case unreadable = "cannot read"
            case malformed = "not valid JSON settings"
            case unwritable = "cannot write"
            case executable = "cannot resolve the bosun-host executable"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let unreadable = Code(.unreadable)
        public static let malformed = Code(.malformed)
        public static let unwritable = Code(.unwritable)
        /// The running binary's absolute path could not be found, or is not an executable file:
        /// hooks pointing there would fail and leave the agent unsupervised.
        public static let executable = Code(.executable)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let path: String
    public let detail: String

    public init(_ code: Code, path: String, _ detail: String = "") {
        self.code = code
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): \(code)" + (detail.isEmpty ? "" : ": \(detail)") }

    public static func == (lhs: HookInstallerError, rhs: HookInstallerError) -> Bool {
        lhs.code == rhs.code && lhs.path == rhs.path
    }
}

/// Registers `bosun-host hook <agent>` in an agent's configuration (AGENTS.md "Hook configuration"),
/// idempotently and without disturbing anything else in the file.
public struct HookInstaller: Sendable {
    /// Whose configuration: the user's (`~/.claude`, `$CODEX_HOME` or `~/.codex`) or the project's
    /// (`<cwd>/.claude`, `<cwd>/.codex`).
    public enum Scope: String, Sendable, CaseIterable {
        case user, project
    }

    public var agent: HookAgent
    public var scope: Scope
    /// Overrides the directory holding `settings.json` / `config.toml`.
    public var configDirectory: String?
    /// The hook command, e.g. `/usr/local/bin/bosun-host hook claude`.
    public var command: String
    /// Seconds the agent waits for the hook.
    public var timeout: Int
    /// The project directory for `.project` scope, and the base for relative paths.
    public var workingDirectory: String
    /// Where `HOME` and `CODEX_HOME` come from.
    public var environment: [String: String]

    /// How Bosun recognises its own entries in a Claude `settings.json`.
    public static let commandMarker = "bosun-host hook"
    public static let codexBlockStart = "# >>> bosun hooks (managed by bosun-host install-hooks) >>>"
    public static let codexBlockEnd = "# <<< bosun hooks <<<"

    /// Claude Code events Bosun hooks, and whether each takes a tool matcher.
    public static let claudeEvents: [(event: String, matcher: String?)] = [
        ("PreToolUse", "*"), ("PermissionRequest", "*"), ("PostToolUse", "*"), ("PostToolUseFailure", "*"),
        ("SessionStart", nil), ("UserPromptSubmit", nil), ("Stop", nil), ("SessionEnd", nil),
    ]

    /// Codex events Bosun hooks, their trust-key label, and their matcher. Codex drops the matcher of
    /// UserPromptSubmit and Stop before hashing (`matcher_pattern_for_event`), and TOML cannot hold a null,
    /// so those groups are written without one and hashed without a `matcher` key.
    public static let codexEvents: [(event: String, label: String, matcher: String?)] = [
        ("PreToolUse", "pre_tool_use", "*"), ("PermissionRequest", "permission_request", "*"),
        ("PostToolUse", "post_tool_use", "*"), ("SessionStart", "session_start", "*"),
        ("UserPromptSubmit", "user_prompt_submit", nil), ("Stop", "stop", nil),
    ]

    public init(
        agent: HookAgent, scope: Scope, configDirectory: String? = nil, command: String, timeout: Int = 300,
        workingDirectory: String = FileManager.default.currentDirectoryPath,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.agent = agent
        self.scope = scope
        self.configDirectory = configDirectory
        self.command = command
        self.timeout = timeout
        self.workingDirectory = workingDirectory
        self.environment = environment
    }

    /// The absolute directory the configuration file lives in.
    public var resolvedConfigDirectory: String {
        if let configDirectory, !configDirectory.isEmpty { return absolute(configDirectory) }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? PosixSupport.homeDirectory()
        switch (agent, scope) {
        case (.claude, .user): return absolute(home + "/.claude")
        case (.claude, .project): return absolute(workingDirectory + "/.claude")
        case (.codex, .user):
            if let codexHome = environment["CODEX_HOME"], !codexHome.isEmpty { return absolute(codexHome) }
            return absolute(home + "/.codex")
        case (.codex, .project): return absolute(workingDirectory + "/.codex")
        }
    }

    /// The file ``install()`` edits.
    public var configPath: String {
        resolvedConfigDirectory + (agent == .claude ? "/settings.json" : "/config.toml")
    }

    /// Writes Bosun's hooks into the agent's configuration (creating it if missing) and returns the paths
    /// written.
    public func install() throws -> [String] {
        let path = configPath
        let existing = try Self.read(path)
        let updated: String
        switch agent {
        case .claude: updated = try claudeSettings(merging: existing, path: path)
        case .codex: updated = codexConfig(merging: existing ?? "", path: path)
        }
        try Self.writeAtomically(updated, to: path)
        return [path]
    }

    /// The hook command for `agent` run by `executable` (an absolute path, shell-quoted when needed).
    public static func hookCommand(executable: String, agent: HookAgent) -> String {
        "\(ShellWords.quote(executable)) hook \(agent.rawValue)"
    }

    // MARK: - Running binary

    /// The absolute path of the running `bosun-host`, for the hook command: what the agent will run
    /// from any directory, long after this process is gone.
    ///
    /// `argv[0]` resolved like a shell would (through `PATH` for a bare name, against `cwd` for a
    /// relative one) is kept when it is the very file the kernel runs (`selfExe`, i.e.
    /// `/proc/self/exe`): a symlink such as `/usr/local/bin/bosun-host` then survives upgrades that
    /// move its target. Otherwise the kernel's canonical path is used. The result must be an
    /// executable regular file; anything else is refused rather than written.
    public static func resolveExecutable(
        argv0: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath, selfExe: String = "/proc/self/exe"
    ) throws(HookInstallerError) -> String {
        let fromArgv = lookUp(argv0, environment: environment, workingDirectory: workingDirectory)
        let chosen: String
        if let running = canonicalTarget(of: selfExe) {
            // argv[0] can say anything (exec -a): keep it only when it is the running file.
            if let fromArgv, let id = fileID(running), fileID(fromArgv) == id {
                chosen = fromArgv
            } else {
                chosen = running
            }
        } else if let fromArgv {
            chosen = fromArgv
        } else {
            throw HookInstallerError(
                .executable, path: argv0.isEmpty ? "argv[0]" : argv0,
                "\(selfExe) is unreadable and argv[0] is not found through PATH; run install-hooks by its absolute path"
            )
        }
        if let problem = executableProblem(chosen) {
            throw HookInstallerError(.executable, path: chosen, problem)
        }
        return chosen
    }

    /// Why `path` cannot serve as a hook command, or nil.
    public static func executableProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return String(cString: strerror(errno)) }
        guard info.st_mode & S_IFMT == S_IFREG else { return "not a regular file" }
        guard access(path, X_OK) == 0 else { return "not executable" }
        return nil
    }

    /// `word` resolved to an absolute path the way `execvp` would: as given when it holds a slash
    /// (against `workingDirectory` when relative), else the first executable match in `PATH`.
    public static func lookUp(_ word: String, environment: [String: String], workingDirectory: String) -> String? {
        guard !word.isEmpty else { return nil }
        func absolute(_ path: String, base: String) -> String {
            URL(fileURLWithPath: path.hasPrefix("/") ? path : base + "/" + path).standardizedFileURL.path
        }
        if word.contains("/") { return absolute(word, base: workingDirectory) }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = absolute(String(directory.isEmpty ? "." : directory) + "/" + word, base: workingDirectory)
            if executableProblem(candidate) == nil { return candidate }
        }
        return nil
    }

    /// The canonical path a symlink such as `/proc/self/exe` points to (nil when unreadable or the
    /// file was deleted).
    private static func canonicalTarget(of link: String) -> String? {
        guard let resolved = realpath(link, nil) else { return nil }
        defer { free(resolved) }
        let path = String(cString: resolved)
        return path.hasPrefix("/") && !path.hasSuffix(" (deleted)") ? path : nil
    }

    private static func fileID(_ path: String) -> [UInt64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [UInt64(truncatingIfNeeded: info.st_dev), UInt64(truncatingIfNeeded: info.st_ino)]
    }

    // MARK: - Claude

    /// `existing` settings with Bosun's entries (re)placed last under each event and everything else kept.
    func claudeSettings(merging existing: String?, path: String) throws -> String {
        var root: [String: JSONValue] = [:]
        if let existing, !existing.trimmingSpacesAndNewlines().isEmpty {
            guard let parsed = try? JSONValue(parsing: Data(existing.utf8)) else {
                throw HookInstallerError(.malformed, path: path, "not JSON; left untouched")
            }
            guard let object = parsed.objectValue else {
                throw HookInstallerError(.malformed, path: path, "top level is not an object; left untouched")
            }
            root = object
        }
        var hooks: [String: JSONValue] = [:]
        switch root["hooks"] {
        case nil, .null?: break
        case .object(let object)?: hooks = object
        default: throw HookInstallerError(.malformed, path: path, "\"hooks\" is not an object; left untouched")
        }

        let entry: JSONValue = .object([
            "type": .string("command"), "command": .string(command), "timeout": .number(Double(timeout)),
        ])
        for (event, matcher) in Self.claudeEvents {
            var groups = hooks[event]?.arrayValue ?? []
            groups = groups.compactMap(Self.removingBosunHooks)
            var group: [String: JSONValue] = ["hooks": .array([entry])]
            if let matcher { group["matcher"] = .string(matcher) }
            groups.append(.object(group))
            hooks[event] = .array(groups)
        }
        root["hooks"] = .object(hooks)
        return JSONValue.object(root).prettyJSON + "\n"
    }

    /// A matcher group without Bosun's hooks; `nil` when only Bosun's hooks were in it.
    private static func removingBosunHooks(_ group: JSONValue) -> JSONValue? {
        guard case .object(var members) = group, let entries = members["hooks"]?.arrayValue else { return group }
        let kept = entries.filter { !($0["command"]?.stringValue?.contains(commandMarker) ?? false) }
        if kept.count == entries.count { return group }
        if kept.isEmpty { return nil }
        members["hooks"] = .array(kept)
        return .object(members)
    }

    // MARK: - Codex

    /// `existing` with Bosun's delimited block replaced (or appended); every byte outside it is kept.
    func codexConfig(merging existing: String, path: String) -> String {
        let before: String
        let after: String
        if let start = existing.firstRange(of: Self.codexBlockStart),
            let end = existing[start.upperBound...].firstRange(of: Self.codexBlockEnd)
        {
            before = String(existing[..<start.lowerBound])
            var tail = existing[end.upperBound...]
            if tail.hasPrefix("\n") { tail = tail.dropFirst() }
            after = String(tail)
        } else {
            var head = existing
            if !head.isEmpty && !head.hasSuffix("\n") { head += "\n" }
            if !head.isEmpty && !head.hasSuffix("\n\n") { head += "\n" }
            before = head
            after = ""
        }
        return before + codexBlock(path: path, existingGroupsBefore: before) + after
    }

    /// The managed block. A group's index `i` in its trust key counts the user's own `[[hooks.<Event>]]`
    /// groups above the block in the same file; groups in `hooks.json` or inline arrays are not counted.
    func codexBlock(path: String, existingGroupsBefore text: String) -> String {
        var lines = [Self.codexBlockStart]
        var trust: [String] = []
        for (event, label, matcher) in Self.codexEvents {
            let groupIndex = Self.countGroupHeaders(event: event, in: text)
            lines.append("[[hooks.\(event)]]")
            if let matcher { lines.append("matcher = \(Self.tomlString(matcher))") }
            lines.append("")
            lines.append("[[hooks.\(event).hooks]]")
            lines.append("type = \"command\"")
            lines.append("command = \(Self.tomlString(command))")
            lines.append("timeout = \(timeout)")
            lines.append("")
            let key = "\(path):\(label):\(groupIndex):0"
            trust.append("[hooks.state.\(Self.tomlString(key))]")
            trust.append(
                "trusted_hash = \(Self.tomlString(Self.codexTrustedHash(label: label, command: command, timeout: timeout, matcher: matcher)))"
            )
            trust.append("")
        }
        lines.append(contentsOf: trust)
        lines.append(Self.codexBlockEnd)
        return lines.joined(separator: "\n") + "\n"
    }

    /// `sha256:<hex>` over the compact key-sorted JSON Codex hashes for one command hook:
    /// `{"event_name":…,"hooks":[{"async":false,"command":…,"timeout":…,"type":"command"}],"matcher":…}`,
    /// with no `matcher` key when the group has none.
    public static func codexTrustedHash(label: String, command: String, timeout: Int, matcher: String?) -> String {
        var identity: [String: JSONValue] = [
            "event_name": .string(label),
            "hooks": .array([
                .object([
                    "async": .bool(false), "command": .string(command), "timeout": .number(Double(max(timeout, 1))),
                    "type": .string("command"),
                ])
            ]),
        ]
        if let matcher { identity["matcher"] = .string(matcher) }
        return "sha256:" + SHA256.hex(JSONValue.object(identity).canonicalJSON)
    }

    private static func countGroupHeaders(event: String, in text: String) -> Int {
        let accepted: Set<String> = ["[[hooks.\(event)]]", "[[hooks.\"\(event)\"]]"]
        return text.split(whereSeparator: \.isNewline).filter { line in
            var trimmed = line.trimmingSpaces()
            if let comment = trimmed.firstIndex(of: "#") { trimmed = String(trimmed[..<comment]) }
            return accepted.contains(trimmed.filter { $0 != " " })
        }.count
    }

    /// A TOML basic string: quotes, backslashes and control characters escaped.
    static func tomlString(_ value: String) -> String {
        var output = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case let control where control.value < 0x20 || control.value == 0x7F:
                let hex = String(control.value, radix: 16, uppercase: true)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    // MARK: - Files

    private func absolute(_ path: String) -> String {
        let full = path.hasPrefix("/") ? path : workingDirectory + "/" + path
        return URL(fileURLWithPath: full).standardizedFileURL.path
    }

    private static func read(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HookInstallerError(.unreadable, path: path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw HookInstallerError(.unreadable, path: path, "not UTF-8")
        }
        return text
    }

    /// Writes `text` beside `path` and renames it into place, keeping an existing file's permissions. A
    /// symlinked file (dotfiles) is written through: its target is replaced, the link stays.
    private static func writeAtomically(_ text: String, to link: String) throws {
        let path = URL(fileURLWithPath: link).resolvingSymlinksInPath().path
        let directory = PosixSupport.deletingLastPathComponent(path)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw HookInstallerError(.unwritable, path: directory, "\(error)")
        }
        let temporary = directory + "/.\(PosixSupport.lastPathComponent(path)).bosun-\(getpid()).tmp"
        var info = stat()
        let mode = stat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)) else {
            throw HookInstallerError(.unwritable, path: temporary)
        }
        if let mode {
            _ = chmod(temporary, mode)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = unlink(temporary)
            throw HookInstallerError(.unwritable, path: path, reason)
        }
    }
}
