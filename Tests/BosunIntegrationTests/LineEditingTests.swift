import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A terminal for a test: a tmux server of its own (its own socket under the fixture's root, so
/// tests run in parallel), one pane running `command`, keys sent as a person types them, and the
/// screen read back as text.
final class TmuxTerminal {
    let socket: String
    let columns: Int
    private let outputFile: String

    init(root: String, command: String, columns: Int = 100, rows: Int = 40) throws {
        let name = "tmux-\(UUID().uuidString.prefix(6))"
        socket = root + "/\(name).sock"
        outputFile = root + "/\(name).out"
        self.columns = columns
        // When the command ends the pane stays, showing its exit status and the terminal's mode.
        let script = "\(command); echo \"exit status $?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; exec cat"
        let started = run(["new-session", "-d", "-s", "t", "-x", String(columns), "-y", String(rows), script])
        guard started == 0 else {
            throw FixtureError(description: "tmux new-session failed with status \(started)")
        }
        run(["display-message", "-p", "-t", "t", "#{pid}"])
        serverPID = Int32(output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// The tmux server's pid, to end it by pid if `kill-server` could not reach it.
    private var serverPID: Int32 = 0

    /// Runs tmux with its output in `outputFile`. Spawned and reaped here rather than with
    /// Foundation's Process, whose wait never returned for the tmux client that forks the server.
    @discardableResult
    private func run(_ arguments: [String]) -> Int32 {
        let argv = ["/usr/bin/tmux", "-S", socket, "-f", "/dev/null"] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        let environment: [String] = ["TERM=xterm-256color", "PATH=/usr/bin:/bin", "HOME=/root"]
        let cEnvironment = environment.map { strdup($0) } + [nil]
        defer { cEnvironment.forEach { free($0) } }
        // The test's threads block signals; the tmux server inherits the mask and would never see
        // SIGCHLD or SIGTERM (it then outlives kill-server). Start it with none blocked.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, &attributes, cArguments, cEnvironment) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xFF
    }

    private var output: String {
        (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
    }

    /// Types `text` literally.
    func type(_ text: String) {
        run(["send-keys", "-t", "t", "-l", text])
    }

    /// Presses keys by tmux name: `C-a`, `M-b`, `Left`, `Home`, `DC` (Delete), `Enter`, `Tab`, `Up`…
    func press(_ keys: String...) {
        for key in keys { run(["send-keys", "-t", "t", key]) }
    }

    /// The screen's rows, trailing blanks removed.
    var rows: [String] {
        run(["capture-pane", "-p", "-t", "t"])
        return output.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0.reversed().drop(while: { $0 == " " }).reversed()) }
    }

    var screen: String { rows.joined(separator: "\n") }

    /// Number of rows that contain `text`.
    func count(_ text: String) -> Int { rows.filter { $0.contains(text) }.count }

    /// Ends the tmux server this terminal started (by its own socket).
    func stop() {
        run(["kill-server"])
        // Only while that pid is still this terminal's server (its command line names our socket).
        let commandLine = (try? String(contentsOfFile: "/proc/\(serverPID)/cmdline", encoding: .utf8)) ?? ""
        if serverPID > 0, commandLine.contains(socket) { kill(serverPID, SIGTERM) }
    }
}

/// Issue 11, "Line editing": the same keystrokes against the SSH front door (the real `ssh -tt`
/// client) and the local `bosun shell`, in a real terminal (tmux), checking what ran and what the
/// screen shows.
@Suite(.serialized, .timeLimit(.minutes(10))) struct LineEditingTests {
    /// Types through every editing key, each step starting from a cleared screen (Ctrl-L).
    static func drive(_ terminal: TmuxTerminal, whoami: String) async throws {
        try await eventually("first prompt") { terminal.rows.contains { $0.hasPrefix("bosun>") } }

        // Home (Ctrl-A) then typing inserts at the start of the line.
        terminal.type("hoami")
        terminal.press("C-a")
        terminal.type("w")
        terminal.press("Enter")
        try await eventually("whoami ran") { terminal.count(whoami) == 1 }
        // No blank line after an answer: the prompt follows the output directly.
        try await eventually("prompt under the answer") {
            let rows = terminal.rows
            guard let index = rows.firstIndex(where: { $0.contains(whoami) }), index + 1 < rows.count else {
                return false
            }
            // (A long answer wraps: the first row after it that is blank or a prompt must be the prompt.)
            return rows[(index + 1)...].first { $0.isEmpty || $0.hasPrefix("bosun>") } == "bosun>"
        }

        // Ctrl-L clears the screen: the prompt is the first row.
        terminal.press("C-l")
        try await eventually("screen cleared") { terminal.rows.first == "bosun>" && terminal.count(whoami) == 0 }

        // Left moves the cursor; typing inserts there.
        terminal.type("qeue")
        terminal.press("Left", "Left", "Left")
        terminal.type("u")
        terminal.press("Enter")
        try await eventually("queue ran") { terminal.count("queue empty") == 1 }
        #expect(terminal.count("bosun> queue") == 1, "\(terminal.screen)")

        // Ctrl-W kills the last word, Ctrl-A goes home, Ctrl-Y yanks it back there: `help queue`.
        try await clear(terminal)
        terminal.type("queue help ")
        terminal.press("C-w", "C-a", "C-y", "Enter")
        try await eventually("help queue ran") { terminal.screen.contains("USAGE: bosun queue") }

        // Alt-B back over words, Left, Ctrl-K kills to the end: `hosts --bogus` runs as `hosts`.
        try await clear(terminal)
        terminal.type("hosts --bogus")
        terminal.press("M-b", "Left", "Left", "C-k", "Enter")
        try await eventually("hosts ran") { terminal.count("HOST") == 1 }
        #expect(!terminal.screen.contains("bogus'"), "\(terminal.screen)")

        // Delete (and Alt-F, End, Ctrl-B, Ctrl-F) edit in the middle: `xwhoami` becomes `whoami`.
        try await clear(terminal)
        terminal.type("xwhoam")
        terminal.press("Home", "DC", "M-f", "C-b", "C-f", "End")
        terminal.type("i")
        terminal.press("Enter")
        try await eventually("whoami ran again") { terminal.count(whoami) == 1 }

        // Ctrl-C abandons the line: nothing runs, a fresh prompt follows.
        try await clear(terminal)
        terminal.type("deny 1 nothing")
        terminal.press("C-c")
        try await eventually("line abandoned") {
            terminal.rows.contains("bosun> deny 1 nothing^C") && terminal.rows.filter { $0 == "bosun>" }.count == 1
        }
        #expect(!terminal.screen.contains("request"), "deny did not run: \(terminal.screen)")

        // Up/Down browse history: Up, Up, Down is the newest line again (`whoami`).
        try await clear(terminal)
        terminal.press("Up", "Up", "Down", "Enter")
        try await eventually("history ran whoami") { terminal.count(whoami) == 1 }

        // Ctrl-R searches back: `qu` finds `help queue`, Ctrl-R again the older `queue`.
        try await clear(terminal)
        terminal.press("C-r")
        terminal.type("qu")
        try await eventually("search shows a match") { terminal.screen.contains("(reverse-i-search)`qu': help queue") }
        terminal.press("C-r")
        try await eventually("older match") { terminal.screen.contains("(reverse-i-search)`qu': queue") }
        terminal.press("Enter")
        try await eventually("queue ran from the search") { terminal.count("queue empty") == 1 }

        // Tab completes a command name, and a host name after --host (from the supervisor).
        try await clear(terminal)
        terminal.type("wh")
        terminal.press("Tab")
        try await eventually("command completed") { terminal.rows.contains("bosun> whoami") }
        terminal.press("Enter")
        try await eventually("completed whoami ran") { terminal.count(whoami) == 1 }
        try await clear(terminal)
        terminal.type("hosts --host h")
        terminal.press("Tab")
        try await eventually("host completed") { terminal.rows.contains("bosun> hosts --host h1") }
        terminal.press("Enter")
        try await eventually("hosts --host h1 ran") { terminal.count("HOST") == 1 }

        // `clear` clears like Ctrl-L.
        terminal.type("clear")
        terminal.press("Enter")
        try await eventually("clear cleared") { terminal.rows.first == "bosun>" && terminal.count("HOST") == 0 }
    }

    /// Ctrl-L, then waits until the screen is only the prompt (so a step never reads the last one's output).
    static func clear(_ terminal: TmuxTerminal) async throws {
        terminal.press("C-l")
        try await eventually("screen cleared") {
            let rows = terminal.rows
            if rows.first == "bosun>" && rows.dropFirst().allSatisfy(\.isEmpty) { return true }
            // A live notice (an ask queued or expiring) can land just after a Ctrl-L: clear again.
            terminal.press("C-l")
            return false
        }
    }

    /// With a line half typed, a new ask prints one line above the prompt, whose count follows the queue.
    static func askWhileIdle(_ terminal: TmuxTerminal, fixture: Fixture) async throws {
        terminal.type("threa")
        let call = try fixture.hook(
            on: 1, "claude",
            Payload.claude("PreToolUse", "frobnicate-release v2\u{1B}]0;owned\u{7}", description: "ship it"))
        try await eventually("prompt counts the ask") { terminal.rows.contains("bosun [1 waiting]> threa") }
        // The host's text is shown escaped: the title-setting sequence in the command is not run.
        #expect(
            terminal.count("new ask: h1 #1 commit waits for a person: frobnicate-release v2\\e]0;owned\\x07") == 1,
            "\(terminal.screen)"
        )
        #expect(fixture.bosun("deny", "1", "not", "now").status == 0)
        try await eventually("count back to none") { terminal.rows.contains("bosun> threa") }
        #expect(!terminal.screen.contains("waiting]>"), "\(terminal.screen)")
        _ = call.wait()
        // The half-typed line is still there to finish.
        terminal.type("ds")
        terminal.press("Enter")
        do {
            try await eventually("threads ran") {
                terminal.count("bosun> threads") == 1 && terminal.count("5f1c-claude") >= 1
            }
        } catch {
            Issue.record("screen:\n\(terminal.screen)")
            throw error
        }
    }

    static func askRule(_ fixture: Fixture) async throws {
        try fixture.addReleaseRule(decision: "ask", reason: "a release needs a person")
        fixture.stopDaemon()
        try await fixture.startDaemon()
        try await eventually("welcomed") { FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json") }
    }

    @Test func editingKeysThroughTheRealSSHClient() async throws {
        let door = try await FrontDoorFixture()
        defer { door.fixture.shutdown() }
        try await Self.askRule(door.fixture)
        let arguments = door.sshArguments("alice", tty: true).map { "'\($0)'" }.joined(separator: " ")
        let terminal = try TmuxTerminal(root: door.fixture.root, command: "/usr/bin/ssh \(arguments)")
        defer { terminal.stop() }
        try await Self.drive(terminal, whoami: "alice (operator) via channel desk")
        try await Self.askWhileIdle(terminal, fixture: door.fixture)
        // Ctrl-D on an empty line ends the session.
        terminal.press("C-d")
        try await eventually("session ended") { terminal.screen.contains("exit status 0") }
    }

    @Test func editingKeysInTheLocalShell() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        try await Self.askRule(fixture)
        let terminal = try TmuxTerminal(
            root: fixture.root, command: "\(Fixture.binDirectory)/bosun --socket \(fixture.socket) shell")
        defer { terminal.stop() }
        try await Self.drive(terminal, whoami: "root (admin) via channel cli")
        try await Self.askWhileIdle(terminal, fixture: fixture)
        terminal.press("C-d")
        try await eventually("shell ended") { terminal.screen.contains("exit status 0") }
        // The terminal is back in canonical mode.
        try await eventually("terminal restored") { terminal.rows.contains("icanon") }
    }

    @Test func theLocalShellRestoresTheTerminalWhenKilled() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        let pidFile = fixture.root + "/shell.pid"
        let terminal = try TmuxTerminal(
            root: fixture.root,
            command: "sh -c 'echo $$ > \(pidFile); exec \(Fixture.binDirectory)/bosun --socket \(fixture.socket) shell'"
        )
        defer { terminal.stop() }
        try await eventually("prompt") { terminal.rows.contains("bosun>") }
        terminal.type("whoa")
        let pid = try #require(
            Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, SIGTERM) == 0)
        try await eventually("shell killed") { terminal.screen.contains("exit status 143") }
        try await eventually("terminal restored") { terminal.rows.contains("icanon") }
        #expect(!terminal.rows.contains("-icanon"))
    }

    @Test func narrowTerminalsScrollTheLineInsteadOfWrapping() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        let terminal = try TmuxTerminal(
            root: fixture.root, command: "\(Fixture.binDirectory)/bosun --socket \(fixture.socket) shell", columns: 20)
        defer { terminal.stop() }
        try await eventually("prompt") { terminal.rows.contains("bosun>") }
        terminal.type("policy explain -- git status")
        try await eventually("line scrolled") {
            terminal.rows.contains { $0.hasSuffix(" status") && !$0.contains("policy") }
        }
        #expect(terminal.rows.allSatisfy { $0.count < 20 }, "\(terminal.rows)")
        terminal.press("Home")
        try await eventually("scrolled back to the start") {
            terminal.rows.contains { $0.hasPrefix("bosun> policy expla") }
        }
        terminal.press("Enter")
        try await eventually("explained") { terminal.screen.contains("allow") }
        terminal.press("C-d")
        try await eventually("shell ended") { terminal.screen.contains("exit status") }
    }
}

/// Issue 11, "Small things": `#` comments and blank lines in piped command files.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CommandFileTests {
    static let file = """
        # morning review
        whoami

          # indented comment
        queue
        """

    @Test func commentsAndBlankLinesAreSkippedAtTheFrontDoor() async throws {
        let door = try await FrontDoorFixture()
        defer { door.fixture.shutdown() }
        let piped = try door.ssh("alice", input: Self.file + "\n", tty: false)
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout.contains("alice (operator)") && piped.stdout.contains("queue empty"))
        #expect(piped.stderr.isEmpty, "\(piped.stderr)")
    }

    @Test func commentsAndBlankLinesAreSkippedByBosunShell() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        let file = fixture.root + "/commands"
        try Self.file.write(toFile: file, atomically: true, encoding: .utf8)
        let piped = Fixture.run(
            "/bin/sh", ["-c", "\(Fixture.binDirectory)/bosun --socket \(fixture.socket) shell < \(file)"])
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout.contains("root (admin)") && piped.stdout.contains("queue empty"))
        #expect(piped.stderr.isEmpty, "\(piped.stderr)")
    }
}

/// Issue 11, "Small things": versions, completion scripts and usage exit codes of the three binaries.
@Suite struct BinaryConventionTests {
    @Test(arguments: ["bosun", "bosund", "bosun-host"])
    func versionAndUsageErrors(binary: String) {
        let version = Fixture.run(Fixture.binDirectory + "/" + binary, ["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == "0.1.0\n", "\(version.stdout)")
        let usage = Fixture.run(
            Fixture.binDirectory + "/" + binary, binary == "bosun" ? ["check", "--bogus"] : ["--bogus"])
        #expect(usage.status == 2, "usage errors exit 2: \(usage.stderr)")
        #expect(usage.stderr.contains("Unknown option '--bogus'"), "\(usage.stderr)")
    }

    /// `bosun` names bosund's commands for `--help` and the completion scripts by hand: every command
    /// bosund's `help` lists must be there. And a piped `bosun` takes its width from `COLUMNS`.
    @Test func theClientNamesEveryCommandBosundHasAndPipesTakeCOLUMNS() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        let help = fixture.bosun("help")
        #expect(help.status == 0, "\(help.stderr)")
        var names: [String] = []
        var listing = false
        for line in help.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("SUBCOMMANDS") {
                listing = true
            } else if listing, line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first
            {
                names.append(String(name))
            } else if listing, !line.hasPrefix(" ") {
                listing = false
            }
        }
        #expect(names.count > 15 && names.contains("stats"), "\(help.stdout)")
        for local in ["check --config", "shell", "completion", "operators authorized-keys"] {
            #expect(help.stdout.contains(local), "help names the local command \(local)")
        }
        let zsh = Fixture.run(Fixture.binDirectory + "/bosun", ["completion", "zsh"]).stdout
        for name in names where name != "help" {
            #expect(zsh.contains("'\(name):"), "bosun's completion scripts lack bosund's '\(name)'")
        }

        let bosun = Fixture.binDirectory + "/bosun"
        let piped = Fixture.run("/usr/bin/env", ["COLUMNS=40", bosun, "--socket", fixture.socket, "help"])
        #expect(piped.status == 0 && !piped.stdout.isEmpty, "\(piped.stderr)")
        #expect(piped.stdout.split(separator: "\n").allSatisfy { $0.count <= 40 }, "\(piped.stdout)")
        #expect(help.stdout.split(separator: "\n").contains { $0.count > 40 }, "without COLUMNS, a pipe is not narrow")
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScripts(shell: String) {
        let script = Fixture.run(Fixture.binDirectory + "/bosun", ["completion", shell])
        #expect(script.status == 0)
        for command in ["threads", "queue", "approve", "steer", "shell", "check", "completion"] {
            #expect(script.stdout.contains(command), "\(shell) script names \(command)")
        }
        #expect(script.stdout.contains("---completion"), "dynamic values (hosts, threads, requests) come from bosund")
    }
}
