import ArgumentParser
import BosunCore
import BosunSupervisor
import BosunTerminal
import Foundation

extension Shell {
    struct SteerCommand: ShellCommand {
        static let configuration = CommandConfiguration(
            commandName: "steer", abstract: "Send guidance to a thread; it arrives at the thread's next hook.",
            discussion:
                "steer web-1/3fa2 focus on the failing test first. steer web-1/3fa2 --wait [SECONDS] <text> waits for delivery (60 s by default). steer cancel ID takes back a message its host does not have yet."
        )
        static var requiredRole: Role { .operator }

        /// How long `--wait` without a number waits.
        static let defaultWait = 60.0

        @Option(name: .customLong("wait"), help: "Wait up to this many seconds for delivery.") var waitSeconds: Double?
        @Argument(help: "The thread: host/id or a unique id prefix (or 'cancel').") var thread: String
        @Argument(parsing: .remaining, help: "The text (or the message id after 'cancel').") var text: [String] = []

        /// The words of the text after a leading `--wait [SECONDS]`, and how long to wait.
        var parsed: (words: [String], wait: Double?) {
            var words = text
            var wait = waitSeconds
            if let first = words.first, first == "--wait" || first.hasPrefix("--wait=") {
                words.removeFirst()
                if let value = first.split(separator: "=", maxSplits: 1).dropFirst().first {
                    wait = Double(value)
                } else if let next = words.first, let seconds = Double(next), seconds.isFinite {
                    wait = seconds
                    words.removeFirst()
                } else {
                    wait = Self.defaultWait
                }
            }
            return (words, wait)
        }

        func validate() throws {
            let (words, wait) = parsed
            if thread == "cancel" {
                guard words.count == 1 else { throw ValidationError("expected: steer cancel <message id>") }
                return
            }
            if let wait, !(wait.isFinite && wait >= 0 && wait <= 3600) {
                throw ValidationError("--wait takes 0 to 3600 seconds")
            }
            guard !words.joined().trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError("steer needs text: steer <thread> <text>")
            }
            guard words.joined(separator: " ").utf8.count <= 4096 else {
                throw ValidationError("steer text is limited to 4096 bytes")
            }
        }

        func execute(in context: ShellContext) async throws -> ShellResult {
            let (words, wait) = parsed
            if thread == "cancel" {
                switch try await context.fleet.cancelSteer(words[0], by: context.actor) {
                case .failure(let refusal):
                    return ShellResult(
                        stderr: "bosun: \(TerminalText.escape("\(refusal)"))\n", exit: ExitStatus.failure)
                case .success(let host):
                    return ShellResult(
                        stdout: "steer \(TerminalText.escape(words[0])) cancelled (it never reached \(host))\n")
                }
            }
            // Subscribed before sending, so a delivery right after cannot be missed.
            let subscription = wait != nil ? await context.fleet.subscribe() : nil
            switch try await context.fleet.steer(thread, text: words.joined(separator: " "), by: context.actor) {
            case .failure(let refusal):
                if let subscription { await context.fleet.unsubscribe(subscription.0) }
                return ShellResult(stderr: "bosun: \(refusal)\n", exit: ExitStatus.failure)
            case .success(let (record, steer)):
                let name = "\(record.host)/\(TerminalText.escape(record.thread.id.rawValue))"
                guard let subscription, let wait else {
                    return ShellResult(
                        stdout: "steer \(steer.messageID) queued for \(name); delivered at its next hook\n")
                }
                let delivered = await context.fleet.awaitSteerDelivery(
                    steer.messageID, events: subscription.1, subscription: subscription.0, timeout: wait)
                await context.fleet.unsubscribe(subscription.0)
                if delivered { return ShellResult(stdout: "steer \(steer.messageID) delivered to \(name)\n") }
                return ShellResult(
                    stdout:
                        "steer \(steer.messageID) queued for \(name); not delivered within \(DurationText.short(wait)) (it reaches the thread at its next hook; 'steer cancel \(steer.messageID)' takes it back while its host is offline)\n",
                    exit: ExitStatus.partial)
            }
        }
    }

    /// `<thread> | host <name> | all`, then the rest of the words (a reason).
    static func controlTarget(_ words: [String]) throws -> (Fleet.ControlTarget, [String]) {
        guard let first = words.first else { throw ValidationError("expected a thread, 'host <name>' or 'all'") }
        if first == "all" { return (.all, Array(words.dropFirst())) }
        if first == "host" {
            guard words.count >= 2 else { throw ValidationError("expected: host <name>") }
            return (.host(HostName(words[1])), Array(words.dropFirst(2)))
        }
        return (.thread(first), Array(words.dropFirst()))
    }

    /// One line per host; a thread's pause or resume names the thread (`thread` is its host/id).
    static func render(_ outcomes: [ControlOutcome], verb: String, thread: String? = nil) -> ShellResult {
        var out = ""
        for outcome in outcomes {
            let name = thread ?? outcome.host.rawValue
            out +=
                outcome.done
                ? "\(name): \(verb)\n"
                : outcome.notRecorded
                    ? "\(name): signalled, not recorded (host \(outcome.host) cannot write its spool; it retries and acknowledges once written)\n"
                    : "\(name): queued (host \(outcome.host) not reachable now; applied when it reconnects)\n"
        }
        return ShellResult(stdout: out, exit: outcomes.allSatisfy(\.done) ? ExitStatus.ok : ExitStatus.partial)
    }

    /// `host/id` of a thread target (escaped), nil for hosts and `all`.
    static func threadName(_ target: Fleet.ControlTarget, _ context: ShellContext) async throws -> String? {
        guard case .thread(let reference) = target,
            case .success(let record) = try await context.fleet.resolveThread(reference)
        else { return nil }
        return "\(record.host)/\(TerminalText.escape(record.thread.id.rawValue))"
    }

    struct Pauses: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            abstract: "Active pauses: fleet-wide breakers, hosts and threads (who, when, soft/hard, what each holds).")

        @OptionGroup var output: OutputOptions

        func execute(in context: ShellContext) async throws -> ShellResult {
            let pauses = try await context.fleet.activePauses()
            switch output.format {
            case .json: return ShellResult(stdout: JSONLines.encode(pauses.map(PauseJSON.init)))
            case .name: return ShellResult(stdout: OutputOptions.names(pauses.map(\.target)))
            default: break
            }
            if pauses.isEmpty { return ShellResult(stdout: "no active pauses\n") }
            var table = Table([
                .init(title: "SCOPE"), .init(title: "TARGET", flexible: true, minimum: 14), .init(title: "MODE"),
                .init(title: "BY", priority: 2), .init(title: "SINCE", priority: 1),
                .init(title: "HOLDS", flexible: true, priority: 3), .init(title: "REASON", flexible: true, priority: 4),
            ])
            for pause in pauses {
                table.append([
                    pause.scope.rawValue, pause.target, pause.hard ? "hard" : "soft", pause.by,
                    pause.at.map { DurationText.ago($0, now: context.now) } ?? "?", pause.holds, pause.reason,
                ])
            }
            return ShellResult(stdout: output.render(table, context))
        }
    }

    /// `pauses --json` line.
    struct PauseJSON: Encodable {
        var scope: String
        var target: String
        var hard: Bool
        var by: String
        var at: Date?
        var reason: String
        var holds: String
        var breaker: String?

        init(_ pause: PauseSummary) {
            scope = pause.scope.rawValue
            target = pause.target
            hard = pause.hard
            by = pause.by
            at = pause.at
            reason = pause.reason
            holds = pause.holds
            breaker = pause.breaker
        }
    }

    struct PauseCommand: ShellCommand {
        static let configuration = CommandConfiguration(
            commandName: "pause", abstract: "Hold a thread, a host, or every host (a breaker).",
            discussion:
                "pause <thread> | host <name> | all [--hard] [reason]. Soft: the next hook is answered 'paused by operator'. --hard also stops threads launched by bosun-host run (SIGSTOP). Exit 3 when some hosts are queued."
        )
        static var requiredRole: Role { .operator }

        @Flag(help: "Also SIGSTOP the process groups of run-launched threads.") var hard = false
        @Argument(parsing: .remaining) var words: [String] = []

        func execute(in context: ShellContext) async throws -> ShellResult {
            let (target, rest) = try Shell.controlTarget(words.filter { $0 != "--hard" })
            let reason = rest.joined(separator: " ")
            let hard = hard || words.contains("--hard")
            let text = reason.isEmpty ? "paused by \(context.actor.name)" : reason
            switch try await context.fleet.pause(target, hard: hard, reason: text, by: context.actor) {
            case .failure(let refusal): return ShellResult(stderr: "bosun: \(refusal)\n", exit: ExitStatus.failure)
            case .success(let outcomes):
                return Shell.render(outcomes, verb: "paused", thread: try await Shell.threadName(target, context))
            }
        }
    }

    struct ResumeCommand: ShellCommand {
        static let configuration = CommandConfiguration(
            commandName: "resume", abstract: "Release a thread, a host, or what 'pause all' held.",
            discussion: "resume all releases exactly what the fleet-wide pause paused, not threads paused one by one.")
        static var requiredRole: Role { .operator }

        @Argument(parsing: .remaining) var words: [String] = []

        func execute(in context: ShellContext) async throws -> ShellResult {
            let (target, _) = try Shell.controlTarget(words)
            switch try await context.fleet.resume(target, by: context.actor) {
            case .failure(let refusal): return ShellResult(stderr: "bosun: \(refusal)\n", exit: ExitStatus.failure)
            case .success(let outcomes):
                return Shell.render(outcomes, verb: "resumed", thread: try await Shell.threadName(target, context))
            }
        }
    }
}

extension Shell {
    struct Watch: ShellCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream fleet events (requests, decisions, thread and host changes, steering) until Ctrl-C.")
        static var requiredRole: Role { .viewer }

        @Option(help: "Only this host.") var host: String?

        func execute(in context: ShellContext) async throws -> ShellResult {
            guard let output = context.output else {
                return ShellResult(stderr: "bosun: watch needs a streaming connection\n", exit: ExitStatus.failure)
            }
            let fleet = context.fleet
            let (id, events) = await fleet.subscribe()
            output.whenClosed { Task { await fleet.unsubscribe(id) } }
            output.write("watching\(host.map { " \($0)" } ?? " every host") (Ctrl-C to stop)\n")
            for await event in events where host == nil || event.host.rawValue == host || event.host == "*" {
                let time = Timestamp.format(event.at).dropFirst(11).prefix(8)
                let line = "\(time)  \(event.host)  \(event.kind)  \(TerminalText.escape(event.text))\n"
                if !output.write(line) { break }
            }
            await fleet.unsubscribe(id)
            return ShellResult()
        }
    }
}

extension Shell {
    struct Reload: ShellCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reload policies/ (admins). A file that fails its checks leaves the old policy in force.")
        static var requiredRole: Role { .admin }

        func execute(in context: ShellContext) async throws -> ShellResult {
            switch try await context.fleet.reloadPolicy(by: context.actor) {
            case .failure(let refusal): return ShellResult(stderr: "bosun: \(refusal)\n", exit: ExitStatus.failure)
            case .success(let rules): return ShellResult(stdout: "policy reloaded: \(rules) rules\n")
            }
        }
    }
}
