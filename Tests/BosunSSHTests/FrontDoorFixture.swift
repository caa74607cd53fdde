import BosunSSH
import Foundation
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A scratch directory with an operator key, a stranger's key and a host key path.
struct FrontDoorFixture {
    let directory: URL
    let operatorKey: String
    let strangerKey: String
    let hostKeyPath: String
    let knownHosts: String

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("bosun-frontdoor-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        operatorKey = directory.appendingPathComponent("operator").path
        strangerKey = directory.appendingPathComponent("stranger").path
        hostKeyPath = directory.appendingPathComponent("state/front_door_host_key").path
        knownHosts = directory.appendingPathComponent("known_hosts").path
        for key in [operatorKey, strangerKey] {
            let result = try Command.run(
                "/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", key])
            try #require(result.status == 0, "ssh-keygen failed: \(result.stderr)")
        }
    }

    func publicKey(_ privateKeyPath: String) throws -> FrontDoorKey {
        let line = try String(contentsOfFile: privateKeyPath + ".pub", encoding: .utf8)
        return try #require(FrontDoorKey(authorizedKey: line))
    }

    func settings(port: Int = 0, idleTimeout: Double = 30, maxFailures: Int = 20) -> FrontDoorSettings {
        FrontDoorSettings(
            listenAddress: "127.0.0.1", port: port, hostKeyPath: hostKeyPath, idleTimeout: idleTimeout,
            maxAuthFailuresPerMinute: maxFailures, loginGraceTime: 10)
    }

    /// Runs the OpenSSH client against the front door.
    func ssh(
        port: Int, key: String? = nil, user: String = "alice", options: [String] = [],
        strictHostKeyChecking: String = "no", command: String? = nil, stdin: StandardInput = .empty,
        timeout: Double = 20
    ) throws -> Command.Result {
        var arguments = [
            "-F", "/dev/null", "-p", "\(port)", "-i", key ?? operatorKey,
            "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
            "-o", "UserKnownHostsFile=\(knownHosts)", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=\(strictHostKeyChecking)", "-o", "ConnectTimeout=5",
        ]
        arguments += options
        arguments.append("\(user)@127.0.0.1")
        if let command { arguments.append(command) }
        return try Command.run("/usr/bin/ssh", arguments, stdin: stdin, timeout: timeout)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// What a test process reads on stdin.
enum StandardInput {
    case empty
    case text(String)
    /// A pipe kept open (never reaching EOF) until the process exits.
    case held
}

/// Runs a program with a deadline; it is killed (by PID) when the deadline passes.
enum Command {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
        var seconds: Double
    }

    static func run(
        _ path: String, _ arguments: [String], stdin: StandardInput = .empty, timeout: Double = 20
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SSH_AUTH_SOCK"] = nil
        environment["TERM"] = "xterm-256color"
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        let started = Date()
        try process.run()

        let collected = Collected()
        let readers = DispatchGroup()
        for (pipe, isError) in [(output, false), (errors, true)] {
            readers.enter()
            Thread.detachNewThread {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                collected.set(data, isError: isError)
                readers.leave()
            }
        }
        switch stdin {
        case .empty:
            try? input.fileHandleForWriting.close()
        case .text(let text):
            try? input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
            try? input.fileHandleForWriting.close()
        case .held:
            break
        }
        var timedOut = false
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
        }
        try? input.fileHandleForWriting.close()
        _ = readers.wait(timeout: .now() + 5)
        let (stdout, stderr) = collected.get()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self), timedOut: timedOut,
            seconds: Date().timeIntervalSince(started))
    }

    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var stdout = Data()
        private var stderr = Data()

        func set(_ data: Data, isError: Bool) {
            lock.withLock {
                if isError { stderr = data } else { stdout = data }
            }
        }

        func get() -> (Data, Data) { lock.withLock { (stdout, stderr) } }
    }
}

/// A test shell: authorizes one key, answers in upper case, and records refusals.
final class EchoShell: FrontDoorDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private let authorizedFingerprint: String
    private var refusals: [(user: String, key: FrontDoorKey?, reason: String)] = []
    private var ptys: [FrontDoorPTY?] = []
    private var results: [String: Int32] = [:]

    init(authorized key: FrontDoorKey) {
        authorizedFingerprint = key.fingerprint
    }

    var refused: [(user: String, key: FrontDoorKey?, reason: String)] { lock.withLock { refusals } }
    var seenPTYs: [FrontDoorPTY?] { lock.withLock { ptys } }
    /// Exit statuses `run` returned, by command.
    var statuses: [String: Int32] { lock.withLock { results } }

    func authorize(_ peer: FrontDoorPeer) -> Bool {
        peer.key.fingerprint == authorizedFingerprint && peer.user == "alice"
    }

    func authenticationFailed(user: String, key: FrontDoorKey?, address: String, reason: String) {
        lock.withLock { refusals.append((user, key, reason)) }
    }

    func run(_ session: FrontDoorSession) -> Int32 {
        lock.withLock { ptys.append(session.pty) }
        if let command = session.command {
            let status = execute(command, session: session) ?? 0
            lock.withLock { results[command] = status }
            return status
        }
        if session.pty != nil { session.write("welcome \(session.peer.user)\n> ") }
        var pending: [UInt8] = []
        while true {
            switch session.read(timeoutMs: 200) {
            case .timeout:
                continue
            case .eof:
                if !pending.isEmpty, let status = execute(String(decoding: pending, as: UTF8.self), session: session) {
                    return status
                }
                return 0
            case .data(let bytes):
                for byte in bytes {
                    if byte == 0x0A || byte == 0x0D {
                        if session.pty != nil { session.write("\n") }
                        let line = String(decoding: pending, as: UTF8.self)
                        pending = []
                        if line.isEmpty { continue }
                        if let status = execute(line, session: session) { return status }
                        if session.pty != nil { session.write("> ") }
                    } else {
                        pending.append(byte)
                        if session.pty != nil { session.write(String(decoding: [byte], as: UTF8.self)) }
                    }
                }
            }
        }
    }

    /// Runs one line; returns an exit status when the session should end.
    private func execute(_ line: String, session: FrontDoorSession) -> Int32? {
        let words = line.split(separator: " ").map(String.init)
        switch words.first {
        case "exit":
            return Int32(words.dropFirst().first ?? "0") ?? 0
        case "whoami":
            session.write("\(session.peer.user) \(session.peer.key.fingerprint)\n")
        case "warn":
            session.writeError("warning: \(words.dropFirst().joined(separator: " "))\n")
        case "flood":
            // Writes until the client goes away (bounded, in case it never does).
            let chunk = String(repeating: "x", count: 16 * 1024)
            for _ in 0..<2000 where !session.isClosed {
                session.write(chunk)
                usleep(10_000)
            }
            return session.isClosed ? 9 : 0
        case "size":
            session.write("\(session.pty.map { "\($0.columns)x\($0.rows)" } ?? "no pty")\n")
        case "waitsize":
            // Lets libssh process packets (a window-change among them) until the width arrives.
            let wanted = Int(words.dropFirst().first ?? "") ?? 0
            let deadline = Date().addingTimeInterval(5)
            while session.pty?.columns != wanted && Date() < deadline && !session.isClosed {
                _ = session.read(timeoutMs: 50)
            }
            session.write("\(session.pty.map { "\($0.columns)x\($0.rows)" } ?? "no pty")\n")
        case "cat":
            while case .data(let bytes) = session.read(timeoutMs: 5000) {
                session.write(String(decoding: bytes, as: UTF8.self).uppercased())
            }
        default:
            session.write(line.uppercased() + "\n")
        }
        return session.command == nil ? nil : 0
    }
}

/// Collects log lines so tests can check what the server said, without bootstrapping logging.
final class LogRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    var messages: [String] { lock.withLock { lines } }

    func append(_ line: String) { lock.withLock { lines.append(line) } }

    var logger: Logger {
        Logger(label: "bosun.test.frontdoor", factory: { _ in Handler(recorder: self) })
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            recorder.append("\(event.level): \(event.message) \(fields.joined(separator: " "))")
        }
    }
}
