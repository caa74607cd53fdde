import BosunCore
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// One thing `bosun-host doctor` looked at.
public struct DoctorCheck: Sendable, Equatable, Encodable {
    public enum Status: String, Sendable, Encodable {
        /// Works.
        case ok
        /// Works, but worth knowing (e.g. a hook command found only through PATH).
        case warn
        /// Broken: some agent runs unsupervised, or hooks will fail.
        case fail
        /// Not installed here (not a problem by itself).
        case absent
    }

    /// Short, e.g. `claude hooks (user)`.
    public var name: String
    public var status: Status
    public var detail: String
    /// Whether a failure here means hook calls fail or bypass Bosun (what the `hello` summary
    /// reports); the supervisor link is not one (it is what `bosun hosts` shows anyway).
    var concernsHooks: Bool

    public init(_ name: String, _ status: Status, _ detail: String, concernsHooks: Bool = true) {
        self.name = name
        self.status = status
        self.detail = detail
        self.concernsHooks = concernsHooks
    }

    enum CodingKeys: String, CodingKey { case name, status, detail }
}

/// What `bosun-host doctor` found: the checks in order, and the summary `serve` sends in `hello`.
public struct DoctorReport: Sendable, Equatable {
    public var checks: [DoctorCheck]
    /// Agents whose hooks are installed (in some scope) and whose checks passed.
    public var agents: [HookAgent]

    public var ok: Bool { !checks.contains { $0.status == .fail } }

    public var problems: [DoctorCheck] { checks.filter { $0.status == .fail } }

    /// `claude,codex`, `none`, or `broken: <first problem>` (bounded for `hello`).
    public var hooksSummary: String {
        if let first = checks.first(where: { $0.status == .fail && $0.concernsHooks }) {
            return Hello.boundedHooks("broken: \(first.name): \(first.detail)")
        }
        return agents.isEmpty ? "none" : agents.map(\.rawValue).joined(separator: ",")
    }

    /// The human report, wrapped to `width` columns (at least 20).
    public func render(width: Int) -> String {
        let width = max(20, width)
        let indent = 6
        var lines: [String] = []
        let verdict = ok ? "all good" : "\(problems.count) problem" + (problems.count == 1 ? "" : "s")
        lines.append(contentsOf: Self.wrap("bosun-host doctor: \(verdict)", width: width))
        for check in checks {
            let tag: String
            switch check.status {
            case .ok: tag = "ok"
            case .warn: tag = "warn"
            case .fail: tag = "FAIL"
            case .absent: tag = "--"
            }
            for (index, line) in Self.wrap(TerminalSafe.escape(check.name), width: width - indent).enumerated() {
                let lead = index == 0 ? tag : ""
                lines.append(lead + String(repeating: " ", count: indent - lead.count) + line)
            }
            for line in Self.wrap(TerminalSafe.escape(check.detail), width: width - indent) {
                lines.append(String(repeating: " ", count: indent) + line)
            }
        }
        lines.append(contentsOf: Self.wrap("hooks: \(TerminalSafe.escape(hooksSummary))", width: width))
        return lines.joined(separator: "\n") + "\n"
    }

    /// One JSON object: `ok`, `hooks` (the summary) and `checks` (`name`, `status`, `detail`).
    public var json: String {
        struct Body: Encodable {
            var ok: Bool
            var hooks: String
            var agents: [String]
            var checks: [DoctorCheck]
        }
        let encoder = Timestamp.makeEncoder()
        let body = Body(ok: ok, hooks: hooksSummary, agents: agents.map(\.rawValue), checks: checks)
        let data = (try? encoder.encode(body)) ?? Data("{\"ok\":false}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Words of `text` in lines of at most `width` characters; longer words (paths) are cut.
    /// Lines after the first start with `continuation` spaces (at most half the width).
    static func wrap(_ text: String, width: Int, continuation: Int = 0) -> [String] {
        let width = max(1, width)
        let pad = String(repeating: " ", count: min(max(0, continuation), width / 2))
        var lines: [String] = []
        var line = ""
        var hasWord = false
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            var word = word
            if hasWord && line.count + 1 + word.count <= width {
                line += " " + word
                continue
            }
            if hasWord {
                lines.append(line)
                line = pad
            }
            while line.count + word.count > width {
                var room = max(1, width - line.count)
                // Paths break after a slash when one is near the end of the room.
                if let slash = word.prefix(room).lastIndex(of: "/"),
                    word.distance(from: word.startIndex, to: slash) >= room / 4
                {
                    room = word.distance(from: word.startIndex, to: slash) + 1
                }
                lines.append(line + word.prefix(room))
                word = word.dropFirst(room)
                line = pad
            }
            line += word
            hasWord = true
        }
        if hasWord || lines.isEmpty { lines.append(line) }
        return lines
    }
}

/// Control characters in text shown on the host's terminal (config files are not ours).
enum TerminalSafe {
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// `bosun-host doctor`: is every agent on this host supervised? Checks the hook configuration
/// ``HookInstaller`` writes (Claude `settings.json`, Codex `config.toml` with trust hashes) in the
/// user's and the project's scope, that each hook command exists and answers a probe, that the
/// spool is writable, that a supervisor link is live and that inotify works.
public struct Doctor {
    public var spool: Spool
    /// Where `HOME`, `CODEX_HOME` and `PATH` come from; also the probe's environment.
    public var environment: [String: String]
    /// The project whose `.claude` / `.codex` is checked for the project scope.
    public var projectDirectory: String
    /// Run each hook command with `--probe` and write a file in the spool (off in `serve`, which
    /// must say hello quickly: there the checks only read).
    public var runProbe: Bool
    /// Check the supervisor link (off in `serve`: it is the link).
    public var checkLink: Bool
    public var probeTimeoutMs: Int32

    public init(
        spool: Spool, environment: [String: String] = ProcessInfo.processInfo.environment,
        projectDirectory: String = FileManager.default.currentDirectoryPath, runProbe: Bool = true,
        checkLink: Bool = true, probeTimeoutMs: Int32 = 10_000
    ) {
        self.spool = spool
        self.environment = environment
        self.projectDirectory = projectDirectory
        self.runProbe = runProbe
        self.checkLink = checkLink
        self.probeTimeoutMs = probeTimeoutMs
    }

    /// What `hook --probe` prints when the hook can run.
    public static let probeAnswer = "bosun-host hook probe: ok"

    public func run() -> DoctorReport {
        var checks: [DoctorCheck] = []
        var agents: [HookAgent] = []
        var commands: [(agent: HookAgent, command: String)] = []
        var seenPaths: Set<String> = []
        for agent in HookAgent.allCases {
            var installedSomewhere = false
            for scope in HookInstaller.Scope.allCases {
                let installer = HookInstaller(
                    agent: agent, scope: scope, command: "", workingDirectory: projectDirectory,
                    environment: environment)
                let path = installer.configPath
                // In the home directory the project scope is the user scope: check it once.
                guard seenPaths.insert(path).inserted else { continue }
                let found = Self.inspect(agent: agent, path: path)
                var check = DoctorCheck("\(agent.rawValue) hooks (\(scope.rawValue))", found.status, found.detail)
                if found.status != .absent, found.status != .fail {
                    installedSomewhere = true
                    for command in found.commands
                    where !commands.contains(where: { $0.agent == agent && $0.command == command }) {
                        commands.append((agent, command))
                    }
                }
                if found.status == .absent { check.detail = "not installed (\(path))" }
                checks.append(check)
            }
            if installedSomewhere { agents.append(agent) }
        }
        if agents.isEmpty && !checks.contains(where: { $0.status == .fail }) {
            checks.append(
                DoctorCheck(
                    "coverage", .fail,
                    "no agent's hooks call bosun-host: agents on this host run unsupervised "
                        + "(bosun-host install-hooks claude|codex)", concernsHooks: false))
        }
        for (agent, command) in commands {
            let check = commandCheck(agent: agent, command: command)
            checks.append(check)
            if check.status == .fail { agents.removeAll { $0 == agent } }
        }
        if let problem = Self.spoolProblem(spool, write: runProbe) {
            checks.append(DoctorCheck("spool", .fail, problem))
        } else {
            checks.append(DoctorCheck("spool", .ok, "\(spool.root) is writable"))
        }
        if checkLink { checks.append(linkCheck()) }
        if let problem = Self.inotifyProblem() {
            // Hooks and serve still work: DirectoryWatch falls back to re-checking (bounded poll).
            checks.append(
                DoctorCheck(
                    "inotify", .warn,
                    "inotify_init1: \(problem); hooks and serve re-check every \(DirectoryWatch.fallbackIntervalMs) ms instead (raise fs.inotify.max_user_instances)"
                ))
        } else {
            checks.append(DoctorCheck("inotify", .ok, "available"))
        }
        return DoctorReport(checks: checks, agents: agents)
    }

    // MARK: Hook configuration

    struct Found {
        var status: DoctorCheck.Status
        var detail: String
        var commands: [String] = []
    }

    static func inspect(agent: HookAgent, path: String) -> Found {
        guard FileManager.default.fileExists(atPath: path) else { return Found(status: .absent, detail: "") }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            return Found(status: .fail, detail: "\(path): cannot read")
        }
        switch agent {
        case .claude: return inspectClaude(text, path: path)
        case .codex: return inspectCodex(text, path: path)
        }
    }

    static func inspectClaude(_ text: String, path: String) -> Found {
        guard let root = try? JSONValue(parsing: Data(text.utf8)), root.objectValue != nil else {
            return Found(status: .fail, detail: "\(path): not valid JSON settings")
        }
        var commands: [String] = []
        var missing: [String] = []
        for (event, _) in HookInstaller.claudeEvents {
            let entries = (root["hooks"]?[event]?.arrayValue ?? []).flatMap { $0["hooks"]?.arrayValue ?? [] }
            let ours = entries.compactMap { $0["command"]?.stringValue }
                .filter { $0.contains(HookInstaller.commandMarker) }
            if ours.isEmpty { missing.append(event) }
            for command in ours where !commands.contains(command) { commands.append(command) }
        }
        if commands.isEmpty { return Found(status: .absent, detail: "") }
        if !missing.isEmpty {
            return Found(
                status: .fail,
                detail: "\(path): no Bosun hook for \(missing.joined(separator: ", ")) (re-run install-hooks claude)",
                commands: commands)
        }
        return Found(
            status: .ok, detail: "\(path): \(HookInstaller.claudeEvents.count) events", commands: commands)
    }

    static func inspectCodex(_ text: String, path: String) -> Found {
        guard let start = text.firstRange(of: HookInstaller.codexBlockStart) else {
            return Found(status: .absent, detail: "")
        }
        guard let end = text[start.upperBound...].firstRange(of: HookInstaller.codexBlockEnd) else {
            return Found(status: .fail, detail: "\(path): Bosun's block has no end marker (re-run install-hooks codex)")
        }
        let block = parseCodexBlock(String(text[start.lowerBound..<end.upperBound]))
        guard let command = block.commands.first else {
            return Found(status: .fail, detail: "\(path): Bosun's block holds no hook command")
        }
        let missing = HookInstaller.codexEvents.map(\.event).filter { !block.events.contains($0) }
        if !missing.isEmpty {
            return Found(
                status: .fail,
                detail: "\(path): no Bosun hook for \(missing.joined(separator: ", ")) (re-run install-hooks codex)",
                commands: block.commands)
        }
        // The trust entries Codex needs for exactly these hooks, computed as install-hooks does.
        let installer = HookInstaller(agent: .codex, scope: .user, command: command, timeout: block.timeout ?? 300)
        let expected = parseCodexBlock(
            installer.codexBlock(path: path, existingGroupsBefore: String(text[..<start.lowerBound]))
        ).trust
        for (event, label, _) in HookInstaller.codexEvents {
            guard let key = expected.keys.first(where: { $0.hasSuffix(":\(label):\(Self.groupIndex($0))") }),
                let want = expected[key]
            else { continue }
            guard let have = block.trust[key] else {
                return Found(
                    status: .fail,
                    detail:
                        "\(path): no trust entry for \(event) under \(key); Codex will not run it (re-run install-hooks codex)",
                    commands: block.commands)
            }
            if have != want {
                return Found(
                    status: .fail,
                    detail:
                        "\(path): trust hash for \(event) does not match its hook; Codex will not run it (re-run install-hooks codex)",
                    commands: block.commands)
            }
        }
        return Found(
            status: .ok, detail: "\(path): \(HookInstaller.codexEvents.count) events, trust hashes match",
            commands: block.commands)
    }

    /// The `N:0` tail of a trust key `path:label:N:0`, to match keys by label.
    private static func groupIndex(_ key: String) -> String {
        let parts = key.split(separator: ":")
        guard parts.count >= 2 else { return "" }
        return "\(parts[parts.count - 2]):\(parts[parts.count - 1])"
    }

    struct CodexBlock {
        var events: [String] = []
        var commands: [String] = []
        var timeout: Int?
        /// Trust key → `trusted_hash`.
        var trust: [String: String] = [:]
    }

    /// Reads the few line shapes ``HookInstaller`` writes in its managed block.
    static func parseCodexBlock(_ text: String) -> CodexBlock {
        var block = CodexBlock()
        var stateKey: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingSpaces()
            if line.hasPrefix("[[hooks.") && line.hasSuffix("]]") {
                let name = String(line.dropFirst(8).dropLast(2))
                if !name.contains(".") { block.events.append(name) }
                stateKey = nil
            } else if line.hasPrefix("[hooks.state.") && line.hasSuffix("]") {
                stateKey = tomlBasicString(String(line.dropFirst(13).dropLast()))
            } else if let value = assignment("command", line).flatMap(tomlBasicString) {
                if !block.commands.contains(value) { block.commands.append(value) }
            } else if let value = assignment("timeout", line).flatMap({ Int($0) }) {
                block.timeout = block.timeout ?? value
            } else if let value = assignment("trusted_hash", line).flatMap(tomlBasicString), let key = stateKey {
                block.trust[key] = value
            }
        }
        return block
    }

    private static func assignment(_ key: String, _ line: String) -> String? {
        guard line.hasPrefix(key) else { return nil }
        let rest = line.dropFirst(key.count).trimmingSpaces()
        guard rest.hasPrefix("=") else { return nil }
        return rest.dropFirst().trimmingSpaces()
    }

    /// The value of a TOML basic string literal (`"…"` with escapes), or nil.
    static func tomlBasicString(_ literal: String) -> String? {
        guard literal.count >= 2, literal.hasPrefix("\""), literal.hasSuffix("\"") else { return nil }
        var output = ""
        var scalars = literal.unicodeScalars.dropFirst().dropLast()[...]
        while let scalar = scalars.popFirst() {
            guard scalar == "\\" else {
                if scalar == "\"" { return nil }
                output.unicodeScalars.append(scalar)
                continue
            }
            guard let escape = scalars.popFirst() else { return nil }
            switch escape {
            case "\"": output += "\""
            case "\\": output += "\\"
            case "n": output += "\n"
            case "r": output += "\r"
            case "t": output += "\t"
            case "b": output += "\u{08}"
            case "f": output += "\u{0C}"
            case "u", "U":
                let count = escape == "u" ? 4 : 8
                let hex = String(String.UnicodeScalarView(scalars.prefix(count)))
                guard hex.count == count, let value = UInt32(hex, radix: 16), let decoded = Unicode.Scalar(value)
                else { return nil }
                scalars = scalars.dropFirst(count)
                output.unicodeScalars.append(decoded)
            default: return nil
            }
        }
        return output
    }

    // MARK: Hook command

    /// The command's program exists and is executable, names this agent, and (with `runProbe`)
    /// answers `--probe` through `/bin/sh` as the agent would run it.
    func commandCheck(agent: HookAgent, command: String) -> DoctorCheck {
        let name = "\(agent.rawValue) hook command"
        let words: [String]
        do {
            words = try ShellWords.split(command)
        } catch {
            return DoctorCheck(name, .fail, "\(command): \(error)")
        }
        guard words.count >= 3, words[1] == "hook", words[2] == agent.rawValue, let program = words.first else {
            return DoctorCheck(name, .fail, "\(command): expected `<bosun-host> hook \(agent.rawValue)`")
        }
        var notes: [String] = []
        let resolved: String
        if program.hasPrefix("/") {
            resolved = program
        } else if program.contains("/") {
            return DoctorCheck(
                name, .fail,
                "\(command): relative program path, resolved against each agent's cwd "
                    + "(re-run install-hooks \(agent.rawValue))")
        } else if let found = HookInstaller.lookUp(program, environment: environment, workingDirectory: "/") {
            resolved = found
            notes.append("found through PATH as \(found); the agent's PATH must find it too")
        } else {
            return DoctorCheck(name, .fail, "\(command): \(program) is not in PATH")
        }
        if let problem = HookInstaller.executableProblem(resolved) {
            return DoctorCheck(
                name, .fail,
                "\(resolved): \(problem); every \(agent.rawValue) hook fails "
                    + "(re-run install-hooks \(agent.rawValue))")
        }
        let status: DoctorCheck.Status = notes.isEmpty ? .ok : .warn
        if runProbe {
            var probeEnvironment = environment
            probeEnvironment["BOSUN_HOST_STATE"] = spool.root
            let result = Subprocess.run(
                ["/bin/sh", "-c", command + " --probe"], environment: probeEnvironment, timeoutMs: probeTimeoutMs)
            let firstLine = result.output.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            if result.timedOut {
                return DoctorCheck(name, .fail, "\(command) --probe: no answer within \(probeTimeoutMs / 1000) s")
            }
            guard result.status == 0, result.output.contains(Self.probeAnswer) else {
                let exit = result.status.map { "exit \($0)" } ?? "killed"
                return DoctorCheck(
                    name, .fail,
                    "\(command) --probe: \(exit)" + (firstLine.isEmpty ? "" : ": \(TerminalSafe.escape(firstLine))"))
            }
            notes.insert("runs (probe answered)", at: 0)
        } else {
            notes.insert("executable", at: 0)
        }
        return DoctorCheck(name, status, "\(command): " + notes.joined(separator: "; "))
    }

    // MARK: Spool, link, inotify

    /// Why hooks could not write to `spool`, or nil: creates its directories, checks each is
    /// writable and (with `write`) writes, fsyncs and removes one file under `tmp/`, which no
    /// watcher reports. `serve` skips the write to say hello sooner.
    public static func spoolProblem(_ spool: Spool, write: Bool = true) -> String? {
        do {
            try spool.prepare()
        } catch {
            return "\(error)"
        }
        let directories =
            [spool.root, spool.tmpDirectory, spool.threadsDirectory]
            + (Spool.approvalDirectories + Spool.controlDirectories).map { spool.root + "/" + $0 }
        for directory in directories where access(directory, W_OK | X_OK) != 0 {
            return "\(directory): not writable (\(String(cString: strerror(errno))))"
        }
        guard write else { return nil }
        let probe = spool.tmpDirectory + "/doctor-\(ShortID.make(bytes: 6)).probe"
        do {
            try spool.writeAtomically(Data("probe\n".utf8), to: probe)
        } catch {
            return "\(error)"
        }
        unlink(probe)
        return nil
    }

    func linkCheck() -> DoctorCheck {
        guard spool.isLinked() else {
            return DoctorCheck(
                "supervisor link", .fail,
                "no bosun-host serve holds \(spool.linkLockPath): asks are denied as \"supervisor unreachable\"",
                concernsHooks: false)
        }
        let marker = spool.read(LinkMarker.self, at: spool.linkPath)
        let since = marker.map { " (serve pid \($0.pid) since \(Timestamp.format($0.since)))" } ?? ""
        return DoctorCheck("supervisor link", .ok, "live" + since, concernsHooks: false)
    }

    /// Why an inotify instance cannot be created, or nil.
    public static func inotifyProblem() -> String? {
        let descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { return String(cString: strerror(errno)) }
        close(descriptor)
        return nil
    }
}
