import ArgumentParser
import BosunCore
import BosunSupervisor
import BosunTerminal
import Foundation

extension Shell {
    struct SteerCommand: ShellCommand {
        static let configuration = CommandConfiguration(
            commandName: "steer", abstract: "Send guidance to a thread; it arrives at the thread's next hook.",
            discussion: "steer web-1/3fa2 focus on the failing test first")
        static var requiredRole: Role { .operator }

        @Argument(help: "The thread: host/id or a unique id prefix.") var thread: String
        @Argument(parsing: .remaining, help: "The text.") var text: [String] = []

        func validate() throws {
            guard !text.joined().trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError("steer needs text: steer <thread> <text>")
            }
            guard text.joined(separator: " ").utf8.count <= 4096 else {
                throw ValidationError("steer text is limited to 4096 bytes")
            }
        }

        func execute(in context: ShellContext) async throws -> ShellResult {
            switch try await context.fleet.steer(thread, text: text.joined(separator: " "), by: context.actor) {
            case .failure(let refusal):
                return ShellResult(stderr: "bosun: \(refusal)\n", exit: ExitStatus.failure)
            case .success(let (record, steer)):
                return ShellResult(
                    stdout:
                        "steer \(steer.messageID) queued for \(record.host)/\(TerminalText.escape(record.thread.id)); delivered at its next hook\n"
                )
            }
        }
    }

    /// `<thread> | host <name> | all`, then the rest of the words (a reason).
    static func controlTarget(_ words: [String]) throws -> (Fleet.ControlTarget, [String]) {
        guard let first = words.first else { throw ValidationError("expected a thread, 'host <name>' or 'all'") }
        if first == "all" { return (.all, Array(words.dropFirst())) }
        if first == "host" {
            guard words.count >= 2 else { throw ValidationError("expected: host <name>") }
            return (.host(words[1]), Array(words.dropFirst(2)))
        }
        return (.thread(first), Array(words.dropFirst()))
    }

    static func render(_ outcomes: [ControlOutcome], verb: String) -> ShellResult {
        var out = ""
        for outcome in outcomes {
            out +=
                outcome.done
                ? "\(outcome.host): \(verb)\n"
                : "\(outcome.host): queued (host not reachable now; applied when it reconnects)\n"
        }
        return ShellResult(stdout: out, exit: outcomes.allSatisfy(\.done) ? ExitStatus.ok : ExitStatus.partial)
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
            case .success(let outcomes): return Shell.render(outcomes, verb: "paused")
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
            case .success(let outcomes): return Shell.render(outcomes, verb: "resumed")
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
            for await event in events where host == nil || event.host == host || event.host == "*" {
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
