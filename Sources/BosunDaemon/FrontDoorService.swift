import BosunConfig
import BosunCore
import BosunSSH
import BosunShell
import BosunSupervisor
import BosunTerminal
import Foundation

/// The SSH front door's side of Bosun: identifies operators by key and runs the same shell as
/// every other surface, one-shot (`ssh sup threads`), piped (commands on stdin) or interactive
/// (with a PTY: prompt, line editing, history).
final class FrontDoorService: FrontDoorDelegate, @unchecked Sendable {
    private let fleet: Fleet
    private let shell = Shell()
    private let keys: [String: (OperatorConfig, OperatorKey)]

    init(fleet: Fleet, operators: [OperatorConfig]) {
        self.fleet = fleet
        var keys: [String: (OperatorConfig, OperatorKey)] = [:]
        for config in operators {
            for key in config.keys { keys[key.fingerprint] = (config, key) }
        }
        self.keys = keys
    }

    func authorize(_ peer: FrontDoorPeer) -> Bool {
        keys[peer.key.fingerprint] != nil
    }

    func authenticationFailed(user: String, key: FrontDoorKey?, address: String, reason: String) {
        let fleet = self.fleet
        Task {
            await fleet.auditAccess(
                kind: "auth_refused", actor: "ssh:\(user.isEmpty ? "-" : user)", channel: "ssh",
                details: [
                    "key": .optional(key?.fingerprint), "source": .string(address), "reason": .string(reason),
                ])
        }
    }

    func run(_ session: FrontDoorSession) -> Int32 {
        guard let (config, key) = keys[session.peer.key.fingerprint] else { return ExitStatus.forbidden }
        let actor = Operator(
            name: config.name, role: config.role, channel: key.channel, keyFingerprint: key.fingerprint,
            source: "ssh \(session.peer.address)")
        if let command = session.command {
            return runLine(command, session: session, actor: actor) ?? ExitStatus.ok
        }
        return session.pty == nil ? runPiped(session, actor: actor) : runInteractive(session, actor: actor)
    }

    // MARK: Sessions

    /// Longest command line a piped session may send; a longer one ends the session with an error.
    static let maxLineBytes = 64 * 1024

    private func runPiped(_ session: FrontDoorSession, actor: Operator) -> Int32 {
        var pending = [UInt8]()
        // Bytes of `pending` already searched for a newline: each byte is scanned once (no rescans).
        var scanned = 0
        var status = ExitStatus.ok
        while true {
            switch session.read(timeoutMs: -1) {
            case .data(let bytes):
                pending += bytes
                var lineStart = 0
                while let newline = pending[scanned...].firstIndex(of: 0x0A) {
                    guard newline - lineStart <= Self.maxLineBytes else { return lineTooLong(session) }
                    let line = String(decoding: pending[lineStart..<newline], as: UTF8.self)
                    lineStart = newline + 1
                    scanned = lineStart
                    // `#` comments and blank lines in a command file are skipped (the status stays).
                    guard CommandScript.isCommand(line) else { continue }
                    guard let result = runLine(line, session: session, actor: actor) else { return status }
                    status = result
                }
                pending.removeFirst(lineStart)
                scanned = pending.count
                guard pending.count <= Self.maxLineBytes else { return lineTooLong(session) }
            case .timeout:
                continue
            case .eof:
                let line = String(decoding: pending, as: UTF8.self)
                if CommandScript.isCommand(line) {
                    status = runLine(line, session: session, actor: actor) ?? status
                }
                return status
            }
        }
    }

    private func lineTooLong(_ session: FrontDoorSession) -> Int32 {
        session.writeError(
            "bosun: input line longer than \(Self.maxLineBytes) bytes without a newline; closing the session\n")
        return ExitStatus.usage
    }

    /// With a PTY: the shared prompt loop (line editing, history, completion, the waiting count).
    private func runInteractive(_ session: FrontDoorSession, actor: Operator) -> Int32 {
        session.write(
            "Bosun — \(actor.name) (\(actor.role.rawValue)) via \(actor.channel). Type 'help' for commands, 'exit' to leave.\n"
        )
        let fleet = self.fleet
        let loop = PromptLoop(
            terminal: SessionTerminal(session),
            completer: { query in
                Self.blocking { await Shell.completions(query, fleet: fleet) } ?? []
            })
        let notices = loop.notices
        let feed = Task {
            await Shell.promptFeed(fleet: fleet) { event in
                notices.post(event)
                return !Task.isCancelled
            }
        }
        defer { feed.cancel() }
        return loop.run { line in self.runLine(line, session: session, actor: actor) }
    }

    /// Runs async work from a front-door thread (never a pool thread), waiting for its result.
    static func blocking<T: Sendable>(_ operation: @escaping @Sendable () async -> T) -> T? {
        let result = ResultBox<T>()
        Task {
            result.set(await operation())
        }
        return result.wait()
    }

    /// Runs one command line, relaying its output as it comes; nil when it was `exit`.
    private func runLine(_ line: String, session: FrontDoorSession, actor: Operator) -> Int32? {
        let words: [String]
        do {
            words = try ShellWords.split(line)
        } catch {
            session.writeError("bosun: \(error)\n")
            return ExitStatus.usage
        }
        if words.isEmpty || !CommandScript.isCommand(line) { return ExitStatus.ok }
        if words == ["exit"] || words == ["quit"] || words == ["logout"] { return nil }
        let output = OutputChannel()
        guard let wake = output.wakeDescriptor else {
            session.writeError("bosun: bosund is out of file descriptors; try again\n")
            return ExitStatus.failure
        }
        let context = ShellContext(
            fleet: fleet, width: session.pty?.columns, actor: actor, output: output)
        let shell = self.shell
        Task { await shell.stream(words, in: context) }
        // Woken by a reply, or (with a terminal) by the client's input; never by a timer.
        while true {
            while let reply = output.nextReady() {
                if let text = reply.stdout { session.write(text) }
                if let text = reply.stderr { session.writeError(text) }
                if let exit = reply.exit { return exit }
            }
            if session.isClosed {
                output.close()
                return ExitStatus.failure
            }
            guard session.pty != nil else {
                output.waitForReply()
                continue
            }
            // With a terminal, Ctrl-C (or the client leaving) stops a streaming command.
            let input = session.read(timeoutMs: -1, wakingOn: wake)
            var interrupted = input == .eof
            if case .data(let bytes) = input, bytes.contains(0x03) { interrupted = true }
            if interrupted {
                output.close()
                session.write("^C\n")
                return 130
            }
        }
    }
}

/// The front door's channel as the prompt loop's terminal (used on the session's thread only;
/// `waker` is the part other threads call).
private final class SessionTerminal: PromptTerminal {
    let session: FrontDoorSession

    init(_ session: FrontDoorSession) {
        self.session = session
    }

    func read() -> TerminalInput {
        switch session.read(timeoutMs: -1) {
        case .data(let bytes): .data(bytes)
        case .timeout: .woken
        case .eof: .eof
        }
    }

    func write(_ text: String) { session.write(text) }
    var columns: Int? { session.pty?.columns }
    var waker: @Sendable () -> Void { session.waker }
}

/// One value handed from a task to a waiting thread.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var value: T?

    func set(_ value: T) {
        lock.withLock { self.value = value }
        done.signal()
    }

    func wait() -> T? {
        done.wait()
        return lock.withLock { value }
    }
}
