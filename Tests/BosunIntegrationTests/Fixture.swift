import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a finished command printed.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String

    /// stdout as JSON objects, one per line.
    var jsonLines: [[String: Any]] {
        stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
}

/// A real test fleet: N OpenSSH sshd hosts on 127.0.0.1 (via `scripts/fleet`), a real `bosund`
/// on its own SQLite file and socket, and the real `bosun` / `bosun-host` binaries. Everything it
/// starts is stopped by PID in `shutdown()`.
final class Fixture: @unchecked Sendable {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let binDirectory =
        ProcessInfo.processInfo.environment["BOSUN_BIN_DIR"] ?? packageRoot + "/.build/debug"

    let root: String
    let hostCount: Int
    private(set) var daemon: Process?
    private var launched: [Process] = []

    var config: String { root + "/config" }
    var socket: String { root + "/state/bosund.sock" }

    /// `links` adds keys to bosund.toml's `[links]` table (e.g. limits); `keepalive` sets its
    /// ping interval and timeout (seconds).
    init(hosts: Int, links extraLinks: String = "", keepalive: (interval: Double, timeout: Double) = (1, 4)) throws {
        var template = Array("/tmp/bosun-it-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw FixtureError(description: "mkdtemp failed") }
        root = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        hostCount = hosts
        let up = Self.run(
            Self.packageRoot + "/scripts/fleet",
            ["up", root, String(hosts), "--bosun-host", Self.binDirectory + "/bosun-host"])
        guard up.status == 0 else {
            shutdown()
            throw FixtureError(description: "fleet up failed: \(up.stderr)")
        }
        // Fast link timing so the tests see state changes quickly.
        let links = """

            [links]
            connect_timeout = 5
            keepalive_interval = \(keepalive.interval)
            keepalive_timeout = \(keepalive.timeout)
            backoff_initial = 0.1
            backoff_max = 1
            \(extraLinks)

            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: config + "/bosund.toml"))
        handle.seekToEndOfFile()
        handle.write(Data(links.utf8))
        try handle.close()
        // The repository's default policy, as an operator would install it.
        try FileManager.default.createDirectory(atPath: config + "/policies", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.packageRoot + "/policies")
        where name.hasSuffix(".toml") {
            try FileManager.default.copyItem(
                atPath: Self.packageRoot + "/policies/" + name, toPath: config + "/policies/" + name)
        }
    }

    /// Adds a policy file (loaded after the defaults, so its `[tier.*]` settings override).
    func addPolicy(_ name: String, _ text: String) throws {
        try text.write(toFile: config + "/policies/" + name, atomically: true, encoding: .utf8)
    }

    /// Generates an ed25519 key at `root/NAME_key`; with a role, also writes `operators/NAME.toml`
    /// giving that key the role on `channel`. Returns the private key's path.
    @discardableResult
    func addOperator(_ name: String, role: String?, channel: String = "desk") throws -> String {
        let key = root + "/\(name)_key"
        guard Self.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status == 0 else {
            throw FixtureError(description: "ssh-keygen failed for \(name)")
        }
        guard let role else { return key }
        try FileManager.default.createDirectory(atPath: config + "/operators", withIntermediateDirectories: true)
        let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try "role = \"\(role)\"\n[[key]]\npublic_key = \"\(publicKey)\"\nchannel = \"\(channel)\"\n".write(
            toFile: config + "/operators/\(name).toml", atomically: true, encoding: .utf8)
        return key
    }

    /// A commit-tier rule for `frobnicate-release` (the default policy denies most commit-tier
    /// actions outright, so tests that need a commit-tier ask add their own).
    func addReleaseRule(decision: String, reason: String) throws {
        try addPolicy(
            "zz-test.toml",
            """
            [[rule]]
            id = "test-release-\(decision)"
            tier = "commit"
            decision = "\(decision)"
            reason = "\(reason)"
            match.argv = ["frobnicate-release"]
            examples.match = ["frobnicate-release v1"]
            examples.not_match = ["ls"]
            """)
    }

    /// Starts `bosun-host hook AGENT` on host `host` with `payload` on stdin; finish with `HookCall.wait()`.
    func hook(
        on host: Int, _ agent: String, _ payload: [String: Any], deadline: Double = 60, grace: Double = 1,
        pauseHold: Double = 0, environment extra: [String: String] = [:]
    ) throws -> HookCall {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binDirectory + "/bosun-host")
        process.arguments = ["--state", spool(host), "hook", agent]
        var environment = ProcessInfo.processInfo.environment
        environment["BOSUN_HOOK_DEADLINE"] = String(deadline)
        environment["BOSUN_HOOK_UNREACHABLE_GRACE"] = String(grace)
        environment["BOSUN_HOOK_PAUSE_HOLD"] = String(pauseHold)
        environment.removeValue(forKey: "BOSUN_THREAD_ID")
        environment.merge(extra) { $1 }
        process.environment = environment
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        launched.append(process)
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: payload))
        try input.fileHandleForWriting.close()
        return HookCall(
            process: process, stdout: ErrorCollector(output.fileHandleForReading),
            stderr: ErrorCollector(errors.fileHandleForReading))
    }

    func spool(_ host: Int) -> String { "\(root)/hosts/h\(host)/spool" }

    // MARK: Daemon

    /// Starts bosund and waits until its control socket answers.
    func startDaemon() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binDirectory + "/bosund")
        process.arguments = ["--config", config, "--log-level", "debug"]
        _ = FileManager.default.createFile(atPath: root + "/bosund.log", contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: root + "/bosund.log"))
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        daemon = process
        try await eventually("bosund answers on its socket") {
            guard process.isRunning else { throw FixtureError(description: "bosund exited: \(self.daemonLog())") }
            return bosun("version").status == 0
        }
    }

    /// Stops bosund with `signal` and waits for it to exit.
    func stopDaemon(signal: Int32 = SIGTERM) {
        guard let daemon else { return }
        Self.terminate(daemon, signal: signal)
        self.daemon = nil
    }

    func daemonLog() -> String {
        (try? String(contentsOfFile: root + "/bosund.log", encoding: .utf8)) ?? ""
    }

    // MARK: Commands

    @discardableResult
    func bosun(_ arguments: String...) -> CommandResult {
        Self.run(Self.binDirectory + "/bosun", ["--socket", socket] + arguments)
    }

    @discardableResult
    func fleet(_ arguments: String...) -> CommandResult {
        Self.run(Self.packageRoot + "/scripts/fleet", arguments)
    }

    /// Starts `bosun-host run -- argv` on host `host` (its spool), in `cwd`; stopped in `shutdown()`.
    @discardableResult
    func runThread(on host: Int, cwd: String = "/tmp", _ argv: String...) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binDirectory + "/bosun-host")
        process.arguments = ["--state", spool(host), "run", "--"] + argv
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        launched.append(process)
        return process
    }

    /// `bosun threads --json` parsed.
    func threads() -> [[String: Any]] { bosun("threads", "--json").jsonLines }

    func hosts() -> [String: [String: Any]] {
        var result: [String: [String: Any]] = [:]
        for line in bosun("hosts", "--json").jsonLines {
            if let name = line["name"] as? String { result[name] = line }
        }
        return result
    }

    func hostState(_ name: String) -> String? { hosts()[name]?["state"] as? String }

    // MARK: Teardown

    /// Stops everything this fixture started, by PID, and removes its files.
    func shutdown() {
        stopDaemon()
        for process in launched { Self.terminate(process) }
        _ = Self.run(Self.packageRoot + "/scripts/fleet", ["down", root])
        try? FileManager.default.removeItem(atPath: root)
    }

    // MARK: Helpers

    /// Sends `signal`, and SIGKILL if the process is still there after 10 s; waits for it.
    static func terminate(_ process: Process, signal: Int32 = SIGTERM) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    static func run(_ executable: String, _ arguments: [String], cwd: String? = nil) -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // Output is piped: a COLUMNS exported by the developer's shell would narrow it (tests that
        // want it pass it through /usr/bin/env).
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "COLUMNS")
        process.environment = environment
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return CommandResult(status: -1, stdout: "", stderr: "cannot run \(executable): \(error)")
        }
        let errData = ErrorCollector(err.fileHandleForReading)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: errData.wait(), as: UTF8.self))
    }

    /// Reads a pipe on another thread so neither pipe can fill and stall the child.
    final class ErrorCollector: @unchecked Sendable {
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)

        init(_ handle: FileHandle) {
            Thread {
                self.data = handle.readDataToEndOfFile()
                self.done.signal()
            }.start()
        }

        func wait() -> Data {
            done.wait()
            return data
        }
    }
}

/// A running hook call.
struct HookCall {
    let process: Process
    let stdout: Fixture.ErrorCollector
    let stderr: Fixture.ErrorCollector

    var isRunning: Bool { process.isRunning }

    /// Waits for the hook to answer: (exit status, stdout, stderr).
    func wait() -> CommandResult {
        let out = stdout.wait()
        let err = stderr.wait()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self))
    }
}

/// Re-checks `condition` until it holds or `timeout` passes. State here changes in other
/// processes (sshd, bosund), so the test polls what an operator would see. The timeout only
/// guards against a hang: the suite's tests share this process's 2-thread concurrency pool, and
/// those waiting on child processes block it, so a check may not run for many seconds under load
/// (20 s was not always enough in CI).
func eventually(
    _ what: String, timeout: Double = 60, sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    if try condition() { return }
    Issue.record("timed out after \(timeout) s waiting for: \(what)", sourceLocation: sourceLocation)
    throw FixtureError(description: "timed out waiting for: \(what)")
}
