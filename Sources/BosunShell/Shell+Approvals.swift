import ArgumentParser
import BosunConfig
import BosunCore
import BosunPolicy
import BosunStore
import BosunSupervisor
import BosunTerminal
import Foundation

/// `42` or `#42`.
struct RequestNumber: ExpressibleByArgument {
    var value: Int64

    init?(argument: String) {
        let digits = argument.hasPrefix("#") ? String(argument.dropFirst()) : argument
        guard let value = Int64(digits), value > 0 else { return nil }
        self.value = value
    }

    var defaultValueDescription: String { "#N" }
}

extension RequestStatus: ExpressibleByArgument {}

extension Shell {
    struct Queue: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            abstract: "Requests waiting for a person, oldest first.",
            discussion: "With --all, every request (allowed, denied, expired) too.")

        @Flag(help: "Include decided requests.") var all = false
        @Option(help: "Only these statuses (repeatable).") var status: [RequestStatus] = []
        @Option(help: "Only this host.") var host: String?
        @Flag(help: "One JSON object per line.") var json = false

        func execute(in context: ShellContext) async throws -> ShellResult {
            let statuses = all ? status : (status.isEmpty ? [.pending] : status)
            if json {
                let records = try await context.fleet.requests(status: statuses).filter {
                    host == nil || $0.host == host
                }
                return ShellResult(stdout: JSONLines.encode(records.map(RequestJSON.init)))
            }
            // The table needs a few fields of each request: read as summaries, filtered in SQL.
            let records = try await context.fleet.requestSummaries(status: statuses, host: host)
            if records.isEmpty { return ShellResult(stdout: all ? "no requests\n" : "queue empty\n") }
            var table = Table([
                .init(title: "ID"), .init(title: "HOST"), .init(title: "THREAD"), .init(title: "TIER"),
                .init(title: "STATUS"), .init(title: "AGE"), .init(title: "COMMAND", flexible: true),
                .init(title: "MISSING", flexible: true),
            ])
            for record in records {
                table.append([
                    "#\(record.number)", record.host, record.threadID, record.tier.rawValue, record.status.rawValue,
                    Duration.short(context.now.timeIntervalSince(record.createdAt)), record.action,
                    record.missingEvidence.isEmpty ? "-" : record.missingEvidence.joined(separator: ","),
                ])
            }
            return ShellResult(stdout: table.render(width: context.width))
        }
    }

    struct Show: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            abstract: "A request with all its evidence (42 or #42), or a thread with its steering messages (host/id).")

        @Argument(help: "The request (42 or #42) or thread (host/id or a unique id prefix).") var target: String
        @Flag(help: "One JSON object.") var json = false

        func execute(in context: ShellContext) async throws -> ShellResult {
            guard let request = RequestNumber(argument: target) else {
                return try await Self.showThread(target, json: json, context: context)
            }
            guard let (record, reviews) = try await context.fleet.request(number: request.value) else {
                // A bare number may also be the start of a thread id (ids are hex): try that before refusing.
                if !target.hasPrefix("#"), case .success = try await context.fleet.resolveThread(target) {
                    return try await Self.showThread(target, json: json, context: context)
                }
                return ShellResult(stderr: "bosun: no request #\(request.value)\n", exit: ExitStatus.failure)
            }
            if json { return ShellResult(stdout: JSONLines.encode([RequestJSON(record, reviews: reviews)])) }
            let e = record.request.evidence
            let settings = await context.fleet.policy.settings(for: record.policy.tier)
            func line(_ label: String, _ value: String?) -> String {
                "\(label.padding(toLength: 14, withPad: " ", startingAt: 0))\(TerminalText.escape(value ?? "-"))\n"
            }
            var out = "request #\(record.number) on \(record.host) (\(record.status.rawValue))\n"
            out += line("action", RequestJSON.action(e))
            if record.request.truncated {
                // The host cut the action to fit the link: the policy saw only this start.
                out += line(
                    "truncated",
                    "\(record.request.actionBytes.map(String.init) ?? "?") bytes, sha256 \(record.request.actionSHA256 ?? "?") (only the start is shown)"
                )
            }
            out += line("why", e.reason)
            out += line("tier", "\(record.policy.tier.rawValue) — policy says \(record.policy.verdict.rawValue)")
            out += line(
                "rule",
                (record.policy.rule ?? "(no rule matched)") + (record.policy.ruleSource.map { " at \($0)" } ?? "")
                    + ": " + record.policy.reason)
            out += line(
                "thread",
                "\(record.host)/\(record.request.threadID) (\(e.agent.rawValue), session \(e.sessionID ?? "-"))")
            out += line("where", "\(e.cwd)" + (e.repo.map { " in \($0)" } ?? ""))
            out += line(
                "branch", [e.branch, e.head.map { String($0.prefix(12)) }].compactMap { $0 }.joined(separator: " @ "))
            out += line(
                "changed files", e.changedFiles.isEmpty ? "none" : e.changedFiles.prefix(20).joined(separator: ", "))
            out += line(
                "tests run",
                e.testsRun.isEmpty
                    ? "none"
                    : e.testsRun.suffix(5).map { "\($0.command) → \($0.exitCode.map(String.init) ?? "?")" }.joined(
                        separator: "; "))
            out += line("side effects", e.sideEffects.isEmpty ? "none" : e.sideEffects.joined(separator: "; "))
            out += line("network", e.network.isEmpty ? "none" : e.network.joined(separator: "; "))
            out += line("credentials", e.credentials.isEmpty ? "none" : e.credentials.joined(separator: "; "))
            if !record.policy.missingEvidence.isEmpty {
                out += line("missing", record.policy.missingEvidence.joined(separator: ", "))
            }
            out += line("age", Duration.short(context.now.timeIntervalSince(record.request.createdAt)))
            if record.status == .pending {
                out += line("expires", "in " + Duration.short(record.expiresAt.timeIntervalSince(context.now)))
                out += line(
                    "approve",
                    "\(settings.approvers) approver(s) from \(settings.approveFrom.joined(separator: ", "))"
                        + (settings.noteRequired ? ", note required" : ""))
            }
            for review in reviews {
                out += line(
                    "vote",
                    "\(review.vote.rawValue) by \(review.operator) via \(review.channel)"
                        + (review.note.map { ": \($0)" } ?? ""))
            }
            if let decision = record.decision {
                out += line("decision", "\(decision.verdict.rawValue) by \(decision.decidedBy): \(decision.reason)")
            }
            return ShellResult(stdout: out)
        }
    }

    struct ThreadDetailJSON: Encodable {
        var thread: String
        var state: String
        var steer: [SteerJSON]

        struct SteerJSON: Encodable {
            var id: String
            var from: String
            var text: String
            var status: String
            var createdAt: Date
            var deliveredAt: Date?

            enum CodingKeys: String, CodingKey {
                case id, from, text, status
                case createdAt = "created_at"
                case deliveredAt = "delivered_at"
            }
        }
    }

    struct Approve: ShellCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a request (a note where the tier needs one).")

        @Argument(help: "The request: 42 or #42.") var request: RequestNumber
        @Argument(parsing: .remaining, help: "An optional note.") var note: [String] = []

        func execute(in context: ShellContext) async throws -> ShellResult {
            let text = note.joined(separator: " ")
            return try await Self.vote(request.value, approve: true, note: text.isEmpty ? nil : text, context: context)
        }

        static func vote(_ number: Int64, approve: Bool, note: String?, context: ShellContext) async throws
            -> ShellResult
        {
            switch try await context.fleet.vote(number: number, approve: approve, note: note, by: context.actor) {
            case .failure(let refusal):
                return ShellResult(stderr: "bosun: \(refusal)\n", exit: ExitStatus.failure)
            case .success(let record):
                if let decision = record.decision {
                    // Honest about a host that is away: its agent may answer itself before it is back.
                    let away =
                        await context.fleet.linkIsUp(record.host)
                        ? ""
                        : " (host \(record.host) is not connected: delivered when it reconnects, if its agent is still waiting; it answers 'supervisor unreachable' after its grace)"
                    return ShellResult(
                        stdout: "#\(number) \(record.status.rawValue): \(TerminalText.escape(decision.reason))\(away)\n"
                    )
                }
                let settings = await context.fleet.policy.settings(for: record.policy.tier)
                return ShellResult(
                    stdout: "#\(number): vote recorded; \(settings.approvers) distinct approvers needed\n")
            }
        }
    }

    struct Deny: ShellCommand {
        static let configuration = CommandConfiguration(abstract: "Deny a request; the reason reaches the agent.")
        static var requiredRole: Role { .operator }

        @Argument(help: "The request: 42 or #42.") var request: RequestNumber
        @Argument(parsing: .remaining, help: "Why (required).") var reason: [String] = []

        func validate() throws {
            guard !reason.joined().trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError("deny needs a reason: deny #N <reason>")
            }
        }

        func execute(in context: ShellContext) async throws -> ShellResult {
            try await Approve.vote(request.value, approve: false, note: reason.joined(separator: " "), context: context)
        }
    }

    struct Audit: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            abstract: "The audit log: every request, decision, vote, expiry and delivery.",
            subcommands: [Verify.self])

        @Option(help: "Only this host.") var host: String?
        @Option(help: "Only records at or after this time (RFC 3339, or 30m / 2h / 7d ago).") var since: String?
        @Option(help: "Only this actor (operator name, policy:RULE, host:NAME).") var actor: String?
        @Option(help: "At most this many (the most recent).") var limit: Int = 200
        @Flag(help: "One JSON object per line.") var json = false

        func execute(in context: ShellContext) async throws -> ShellResult {
            var sinceDate: Date?
            if let since {
                guard let date = Self.parseSince(since, now: context.now) else {
                    return ShellResult(
                        stderr: "bosun: --since expects RFC 3339 or an age like 30m, 2h, 7d; got '\(since)'\n",
                        exit: ExitStatus.usage)
                }
                sinceDate = date
            }
            let entries = try await context.fleet.auditEntries(
                AuditFilter(host: host, since: sinceDate, actor: actor, limit: limit))
            if json { return ShellResult(stdout: JSONLines.encode(entries.map(AuditJSON.init))) }
            var table = Table([
                .init(title: "SEQ"), .init(title: "AT"), .init(title: "HOST"), .init(title: "KIND"),
                .init(title: "ACTOR"), .init(title: "CHANNEL"), .init(title: "DETAILS", flexible: true),
            ])
            for entry in entries {
                table.append([
                    String(entry.seq), entry.at, entry.host, entry.kind, entry.actor,
                    entry.channel,
                    entry.details,
                ])
            }
            return ShellResult(stdout: entries.isEmpty ? "no audit records\n" : table.render(width: context.width))
        }

        static func parseSince(_ text: String, now: Date) -> Date? {
            if let date = Timestamp.parse(text) { return date }
            guard let unit = text.last, let amount = Double(text.dropLast()) else { return nil }
            let seconds: Double? = ["s": 1, "m": 60, "h": 3600, "d": 86400][unit]
            return seconds.map { now.addingTimeInterval(-amount * $0) }
        }

        struct Verify: ShellCommand {
            static var requiredRole: Role { .viewer }
            static let configuration = CommandConfiguration(
                abstract: "Check the audit hash chain, the requests against it, and its signed checkpoints.")

            @Option(help: "Check against this checkpoint file (admins; default: the configured one).")
            var checkpoint: String?

            func execute(in context: ShellContext) async throws -> ShellResult {
                if checkpoint != nil, context.actor.role < .admin {
                    return ShellResult(
                        stderr: "bosun: only admins may name a checkpoint file (the daemon reads it)\n",
                        exit: ExitStatus.forbidden)
                }
                let report = try await context.fleet.verifyAudit(checkpointFile: checkpoint)
                if let problem = report.problem {
                    return ShellResult(
                        stderr: "audit chain BROKEN: \(TerminalText.escape(problem))\n", exit: ExitStatus.failure)
                }
                let anchor =
                    report.checkpoint.map { "; matches the signed checkpoint of \($0.at) (row \($0.seq))" }
                    ?? "; no checkpoint yet"
                return ShellResult(
                    stdout:
                        "audit chain ok: \(report.rows) records, head \(report.lastHash.prefix(16))…; \(report.requestsChecked) requests match\(anchor)\n"
                )
            }
        }
    }

    struct PolicyCommand: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            commandName: "policy", abstract: "Inspect the policy.",
            subcommands: [Explain.self, Suggest.self, Replay.self])

        func execute(in context: ShellContext) async throws -> ShellResult {
            ShellResult(
                stdout: TerminalWidth.help({ PolicyCommand.helpMessage(columns: $0) }, width: context.width) + "\n")
        }

        struct Explain: ShellCommand {
            static var requiredRole: Role { .viewer }
            static let configuration = CommandConfiguration(
                abstract: "Which rule decides a command, and why.",
                discussion: "policy explain -- git push origin main   |   policy explain 'git status && git push'")

            @Option(help: "The agent's tool.") var tool = "Bash"
            @Option(help: "Evaluate with this host's labels.") var host: String?
            @Option(help: "A path the tool writes (repeatable; for Edit/Write).") var path: [String] = []
            @Argument(parsing: .remaining, help: "The command (one string, or argv after --).")
            var command: [String] = []

            func execute(in context: ShellContext) async throws -> ShellResult {
                var hostLabels: [String: String] = [:]
                if let host { hostLabels = await context.fleet.labels()[host] ?? [:] }
                let input = PolicyInput(
                    tool: tool,
                    command: ShellWords.commandLine(command.first == "--" ? Array(command.dropFirst()) : command),
                    paths: path, agent: .generic, labels: hostLabels)
                return ShellResult(stdout: await context.fleet.policy.explain(input))
            }
        }
    }
}

/// `queue --json` / `show --json` line.
struct RequestJSON: Encodable {
    var record: RequestRecord
    var reviews: [Review] = []

    init(_ record: RequestRecord) { self.record = record }
    init(_ record: RequestRecord, reviews: [Review]) {
        self.record = record
        self.reviews = reviews
    }

    static func action(_ evidence: Evidence) -> String {
        if let command = evidence.command { return command }
        return ([evidence.tool] + evidence.paths).joined(separator: " ")
    }

    enum CodingKeys: String, CodingKey {
        case id, number, host, thread, tier, status, rule, reason, evidence, decision, note, local, reviews
        case policyVerdict = "policy_verdict"
        case ruleSource = "rule_source"
        case missingEvidence = "missing_evidence"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case truncated
        case actionSHA256 = "action_sha256"
        case actionBytes = "action_bytes"
    }

    struct ReviewJSON: Encodable {
        var `operator`: String
        var channel: String
        var vote: String
        var note: String?
        var at: Date
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("#\(record.number)", forKey: .id)
        try c.encode(record.number, forKey: .number)
        try c.encode(record.host, forKey: .host)
        try c.encode(record.request.threadID, forKey: .thread)
        try c.encode(record.policy.tier, forKey: .tier)
        try c.encode(record.status.rawValue, forKey: .status)
        try c.encode(record.policy.verdict, forKey: .policyVerdict)
        if record.request.truncated {
            try c.encode(true, forKey: .truncated)
            try c.encodeIfPresent(record.request.actionSHA256, forKey: .actionSHA256)
            try c.encodeIfPresent(record.request.actionBytes, forKey: .actionBytes)
        }
        try c.encode(record.policy.rule, forKey: .rule)
        try c.encode(record.policy.ruleSource, forKey: .ruleSource)
        try c.encode(record.policy.reason, forKey: .reason)
        try c.encode(record.policy.missingEvidence, forKey: .missingEvidence)
        try c.encode(record.request.evidence, forKey: .evidence)
        try c.encode(record.decision, forKey: .decision)
        try c.encode(record.note, forKey: .note)
        try c.encode(record.local, forKey: .local)
        try c.encode(record.request.createdAt, forKey: .createdAt)
        try c.encode(record.expiresAt, forKey: .expiresAt)
        try c.encode(
            reviews.map {
                ReviewJSON(operator: $0.operator, channel: $0.channel, vote: $0.vote.rawValue, note: $0.note, at: $0.at)
            },
            forKey: .reviews)
    }
}

/// `audit --json` line.
struct AuditJSON: Encodable {
    var seq: Int64
    var at: String
    var actor: String
    var channel: String
    var host: String
    var kind: String
    var details: String
    var hash: String

    init(_ entry: AuditEntry) {
        seq = entry.seq
        at = entry.at
        actor = entry.actor
        channel = entry.channel
        host = entry.host
        kind = entry.kind
        details = entry.details
        hash = entry.hash
    }
}

extension Shell.Show {
    /// `show host/id`: the thread and its steering messages, pending and delivered.
    static func showThread(_ reference: String, json: Bool, context: ShellContext) async throws -> ShellResult {
        let record: ThreadRecord
        switch try await context.fleet.resolveThread(reference) {
        case .success(let found): record = found
        case .failure(let refusal): return ShellResult(stderr: "bosun: \(refusal)\n", exit: ExitStatus.failure)
        }
        let messages = try await context.fleet.steerMessages(host: record.host, thread: record.thread.id)
        if json {
            let detail = Shell.ThreadDetailJSON(
                thread: "\(record.host)/\(record.thread.id)", state: record.thread.state.rawValue,
                steer: messages.map {
                    .init(
                        id: $0.steer.messageID, from: $0.steer.from, text: $0.steer.text,
                        status: $0.deliveredAt == nil ? "pending" : "delivered", createdAt: $0.createdAt,
                        deliveredAt: $0.deliveredAt)
                })
            return ShellResult(stdout: JSONLines.encode([detail]))
        }
        let thread = record.thread
        var out = "thread \(record.host)/\(TerminalText.escape(thread.id)) (\(thread.agent.rawValue))"
        out += ": \(Shell.Threads.stateLabel(thread.state))\(record.stale ? " (stale)" : "")\n"
        if let title = thread.title { out += "  title     \(TerminalText.escape(title))\n" }
        out += "  argv      \(TerminalText.escape(thread.argv.joined(separator: " ")))\n"
        out += "  cwd       \(TerminalText.escape(thread.cwd))\n"
        if let repo = thread.repo {
            out += "  repo      \(TerminalText.escape(repo)) (\(TerminalText.escape(thread.branch ?? "-")))\n"
        }
        out +=
            "  started   \(Duration.ago(thread.startedAt, now: context.now)), active \(Duration.ago(thread.lastActivity, now: context.now))\n"
        for message in messages {
            let status = message.deliveredAt.map { "delivered \(Duration.ago($0, now: context.now))" } ?? "pending"
            out +=
                "  steer     \(message.steer.messageID) from \(message.steer.from): \(TerminalText.escape(message.steer.text)) [\(status)]\n"
        }
        if messages.isEmpty { out += "  steer     none\n" }
        return ShellResult(stdout: out)
    }
}
