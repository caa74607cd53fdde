public import ArgumentParser
import BosunCore
import BosunPolicy
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
            discussion:
                "With --all, every request (allowed, denied, expired) too. Below 70 columns (or -o narrow) each request is a two-line card."
        )

        @Flag(help: "Include decided requests.") var all = false
        @Option(help: "Only these statuses (repeatable).") var status: [RequestStatus] = []
        @Option(help: "Only this host.") var host: String?
        @OptionGroup var output: OutputOptions

        func execute(in context: ShellContext) async throws -> ShellResult {
            let statuses = all ? status : (status.isEmpty ? [.pending] : status)
            let host = host.map { HostName($0) }
            if let refusal = await Shell.unknownHost(host.map { [$0] } ?? [], context) { return refusal }
            if output.format == .json {
                let records = try await context.fleet.requests(status: statuses).filter {
                    host == nil || $0.host == host
                }
                return ShellResult(stdout: JSONLines.encode(records.map(RequestJSON.init)))
            }
            // The table needs a few fields of each request: read as summaries, filtered in SQL.
            let records = try await context.fleet.requestSummaries(status: statuses, host: host)
            if output.format == .name {
                return ShellResult(stdout: OutputOptions.names(records.map { "#\($0.number)" }))
            }
            if records.isEmpty { return ShellResult(stdout: all ? "no requests\n" : "queue empty\n") }
            var quorum: [Tier: Int] = [:]
            for tier in Set(records.map(\.tier)) {
                quorum[tier] = max(1, await context.fleet.policy.settings(for: tier).approvers)
            }
            func votes(_ record: RequestSummary) -> String {
                record.status == .pending ? "\(record.approvals)/\(quorum[record.tier] ?? 1)" : "-"
            }
            if output.isNarrow(context) {
                return ShellResult(
                    stdout: Self.cards(records, votes: votes, width: output.width(context), now: context.now))
            }
            // Wide terminals: the command keeps what room there is; the thread and status drop first.
            var table = Table([
                .init(title: "ID"), .init(title: "HOST"), .init(title: "THREAD", flexible: true, priority: 3),
                .init(title: "TIER"), .init(title: "STATUS", priority: all ? 1 : 4), .init(title: "AGE"),
                .init(title: "VOTES"), .init(title: "COMMAND", flexible: true, minimum: 60),
                .init(title: "MISSING", flexible: true, priority: 2),
            ])
            for record in records {
                table.append([
                    "#\(record.number)", record.host.rawValue, record.threadID.rawValue, record.tier.rawValue,
                    record.status.rawValue,
                    DurationText.short(context.now.timeIntervalSince(record.createdAt)), votes(record), record.action,
                    record.missingEvidence.isEmpty ? "-" : record.missingEvidence.joined(separator: ","),
                ])
            }
            return ShellResult(stdout: output.render(table, context))
        }

        /// Two lines per request: `#12  web-1  expand  3m  1/2` (status instead of the votes once
        /// decided, then what evidence is missing), and the command indented under it, cut to the
        /// width but never before 30 characters.
        static func cards(
            _ records: [RequestSummary], votes: (RequestSummary) -> String, width: Int?, now: Date
        ) -> String {
            var out = ""
            for record in records {
                var head = [
                    "#\(record.number)", TerminalText.escape(record.host.rawValue), record.tier.rawValue,
                    DurationText.short(now.timeIntervalSince(record.createdAt)),
                    record.status == .pending ? votes(record) : record.status.rawValue,
                ].joined(separator: "  ")
                if !record.missingEvidence.isEmpty {
                    head += "  missing " + TerminalText.escape(record.missingEvidence.joined(separator: ","))
                }
                let command = TerminalText.escape(record.action)
                if let width {
                    head = Table.fit(head, max(width, 12))
                    out += head + "\n  " + Table.fit(command, max(width - 2, 30)) + "\n"
                } else {
                    out += head + "\n  " + command + "\n"
                }
            }
            return out
        }
    }

    struct Show: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            abstract: "A request with all its evidence (42 or #42), or a thread with its steering messages (host/id).")

        @Argument(help: "The request (42 or #42) or thread (host/id or a unique id prefix).") var target: String
        @Flag(help: "One JSON object.") var json = false
        @Option(name: .long, help: "Render for this many columns (default: the terminal's).") var width: Int?

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
            // What this operator saw is what they may approve (see Fleet.vote).
            try await context.fleet.recordView(record, by: context.actor)
            if json { return ShellResult(stdout: JSONLines.encode([RequestJSON(record, reviews: reviews)])) }
            let settings = await context.fleet.policy.settings(for: record.policy.tier)
            let card = Self.card(record, reviews: reviews, settings: settings, now: context.now)
            return ShellResult(stdout: card.render(width: width.map { TerminalWidth.normalized($0) } ?? context.width))
        }

        /// The evidence a reviewer needs before deciding, in this order: the exact action; its purpose;
        /// host, repo, branch; changed files; tests already run; side effects; network, credential,
        /// external-tool and write use; what the agent will do next; which evidence is missing. Then
        /// the policy's view, the votes and the decision.
        static func card(_ record: RequestRecord, reviews: [Review], settings: TierSettings, now: Date) -> Card {
            let e = record.request.evidence
            let approvals = Set(reviews.filter { $0.vote == .approve }.map(\.operator)).count
            var title = "#\(record.number) \(record.status.rawValue) · \(record.policy.tier.rawValue) · \(record.host)"
            title += " · \(DurationText.short(now.timeIntervalSince(record.request.createdAt))) old"
            if record.status == .pending {
                title += " · votes \(approvals)/\(max(1, settings.approvers))"
                title += " · expires in \(DurationText.short(record.expiresAt.timeIntervalSince(now)))"
            }
            var card = Card(title: title)
            card.labelWidth = 14
            card.add("action", RequestJSON.action(e))
            if record.request.truncated {
                // The host cut the action to fit the link: the policy saw only this start.
                card.add(
                    "truncated",
                    "\(record.request.actionBytes.map(String.init) ?? "?") bytes, sha256 \(record.request.actionSHA256 ?? "?") (only the start is shown)"
                )
            }
            card.addLines("purpose", (e.purpose ?? "(not given)").split(separator: "\n").map(String.init))
            card.add("host", "\(record.host), thread \(record.request.threadID) (\(e.agent.rawValue))")
            card.add(
                "repo", (e.repo ?? "(not in a repository)") + (e.repo == nil || e.cwd == e.repo ? "" : ", in \(e.cwd)"))
            card.add(
                "branch",
                [e.branch ?? "(no branch)", e.head.map { String($0.prefix(12)) }].compactMap { $0 }.joined(
                    separator: " @ "))
            card.add(
                "changed files",
                e.changedFiles.isEmpty
                    ? "none"
                    : e.changedFiles.prefix(20).joined(separator: ", ")
                        + (e.changedFiles.count > 20 ? " (and \(e.changedFiles.count - 20) more)" : ""))
            card.add(
                "tests run",
                e.testsRun.isEmpty
                    ? "none"
                    : e.testsRun.suffix(5).map { run in
                        "\(run.command) → " + (run.exitCode.map { $0 == 0 ? "passed" : "failed (exit \($0))" } ?? "?")
                    }.joined(separator: "; "))
            card.add("side effects", e.sideEffects.isEmpty ? "none" : e.sideEffects.joined(separator: "; "))
            card.add("network", e.network.isEmpty ? "none" : e.network.joined(separator: "; "))
            card.add("credentials", e.credentials.isEmpty ? "none" : e.credentials.joined(separator: "; "))
            card.add("tool", e.tool + (e.tool.hasPrefix("mcp__") ? " (external tool)" : ""))
            if Self.writingTools.contains(e.tool) || !e.paths.isEmpty {
                card.add("writes", e.paths.isEmpty ? "(no paths given)" : e.paths.prefix(20).joined(separator: ", "))
            }
            card.add("next step", e.nextStep ?? "(unknown: no transcript)")
            card.add("missing", Self.missing(record))
            card.add(
                "rule",
                (record.policy.rule ?? "(no rule matched)") + (record.policy.ruleSource.map { " at \($0)" } ?? "")
                    + ": " + record.policy.reason + " (policy says \(record.policy.verdict.rawValue))")
            if record.status == .pending {
                card.add(
                    "approve",
                    "\(settings.approvers) approver(s) from \(settings.approveFrom.joined(separator: ", "))"
                        + (settings.noteRequired ? ", note required" : ""))
            }
            for review in reviews {
                card.add(
                    "vote",
                    "\(review.vote.rawValue) by \(review.operator) via \(review.channel)"
                        + (review.note.map { ": \($0)" } ?? ""))
            }
            if let decision = record.decision {
                card.add("decision", "\(decision.verdict.rawValue) by \(decision.decidedBy): \(decision.reason)")
            }
            return card
        }

        /// Tools whose paths are written.
        static let writingTools: Set<String> = ["Edit", "Write", "MultiEdit", "NotebookEdit", "apply_patch"]

        /// What the tier requires and the host did not send, then what else is absent.
        static func missing(_ record: RequestRecord) -> String {
            let e = record.request.evidence
            var parts: [String] = []
            if !record.policy.missingEvidence.isEmpty {
                parts.append(record.policy.missingEvidence.joined(separator: ", ") + " (the tier requires it)")
            }
            let absent = [
                e.purpose?.isEmpty ?? true ? "reason" : nil, e.repo == nil ? "repo" : nil,
                e.branch == nil ? "branch" : nil, e.head == nil ? "head" : nil,
                e.testsRun.isEmpty ? "tests_run" : nil, e.nextStep == nil ? "next_step" : nil,
            ].compactMap { $0 }.filter { !record.policy.missingEvidence.contains($0) }
            if !absent.isEmpty { parts.append("not sent: " + absent.joined(separator: ", ")) }
            return parts.isEmpty ? "nothing" : parts.joined(separator: "; ")
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
            abstract: "Approve requests (a note where the tier needs one).",
            discussion:
                "approve 12 13 14 [note]: each request is checked on its own against its tier's rules, one result line each (quote a note that starts with a number). Approving again after a deny of yours changes your vote; 'withdraw N' removes it. A request whose evidence changed since you last ran 'show N' is refused until you look again."
        )

        @Argument(parsing: .remaining, help: "The requests (42 or #42, several allowed), then an optional note.")
        var words: [String] = []

        func validate() throws {
            guard let first = words.first, RequestNumber(argument: first) != nil else {
                throw ValidationError("approve needs a request: approve #N [#N …] [note]")
            }
        }

        func execute(in context: ShellContext) async throws -> ShellResult {
            let (numbers, rest) = Self.split(words)
            let text = rest.joined(separator: " ")
            return try await Self.votes(numbers, approve: true, note: text.isEmpty ? nil : text, context: context)
        }

        /// The leading request numbers, then the rest (the note or reason).
        static func split(_ words: [String]) -> ([Int64], [String]) {
            let numbers = words.prefix { RequestNumber(argument: $0) != nil }.compactMap {
                RequestNumber(argument: $0)?.value
            }
            return (numbers, Array(words.dropFirst(numbers.count)))
        }

        /// One vote per request (each on its own), one result line each; exit 1 when any failed.
        static func votes(_ numbers: [Int64], approve: Bool, note: String?, context: ShellContext) async throws
            -> ShellResult
        {
            var result = ShellResult()
            var seen = Set<Int64>()
            for number in numbers where seen.insert(number).inserted {
                let one = try await vote(number, approve: approve, note: note, context: context)
                result.stdout += one.stdout
                result.stderr += one.stderr
                if one.exit != ExitStatus.ok { result.exit = one.exit }
            }
            return result
        }

        static func vote(_ number: Int64, approve: Bool, note: String?, context: ShellContext) async throws
            -> ShellResult
        {
            switch try await context.fleet.vote(number: number, approve: approve, note: note, by: context.actor) {
            case .failure(let refusal):
                return ShellResult(stderr: "bosun: #\(number): \(refusal)\n", exit: ExitStatus.failure)
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
                let reviews = try await context.fleet.request(number: number)?.1 ?? []
                let approvals = Set(reviews.filter { $0.vote == .approve }.map(\.operator)).count
                return ShellResult(
                    stdout:
                        "#\(number): vote recorded (\(approvals)/\(max(1, settings.approvers))); \(settings.approvers) distinct approvers needed\n"
                )
            }
        }
    }

    struct Deny: ShellCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deny requests; the reason reaches the agent.",
            discussion: "deny 12 [13 …] <reason>. One deny decides; denying after your approval changes your vote.")
        static var requiredRole: Role { .operator }

        @Argument(parsing: .remaining, help: "The requests (42 or #42, several allowed), then why (required).")
        var words: [String] = []

        func validate() throws {
            let (numbers, reason) = Approve.split(words)
            guard !numbers.isEmpty else { throw ValidationError("deny needs a request: deny #N [#N …] <reason>") }
            guard !reason.joined().trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError("deny needs a reason: deny #N <reason>")
            }
        }

        func execute(in context: ShellContext) async throws -> ShellResult {
            let (numbers, reason) = Approve.split(words)
            return try await Approve.votes(
                numbers, approve: false, note: reason.joined(separator: " "), context: context)
        }
    }

    struct Withdraw: ShellCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take back your own vote on requests that still wait.")
        static var requiredRole: Role { .operator }

        @Argument(help: "The requests: 42 or #42.") var requests: [RequestNumber]

        func execute(in context: ShellContext) async throws -> ShellResult {
            var result = ShellResult()
            for request in requests {
                switch try await context.fleet.withdrawVote(number: request.value, by: context.actor) {
                case .failure(let refusal):
                    result.stderr += "bosun: #\(request.value): \(refusal)\n"
                    result.exit = ExitStatus.failure
                case .success:
                    result.stdout += "#\(request.value): your vote is withdrawn\n"
                }
            }
            return result
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
        @Option(help: "Only records of this kind (request, policy, decision, vote, steer, pause, …).") var kind: String?
        @Option(help: "Only records about this request (42 or #42).") var request: RequestNumber?
        @Option(help: "Only records about this thread (host/id or id).") var thread: String?
        @Option(help: "At most this many (the most recent).") var limit: Int = 200
        @Flag(help: "Also list delivery records (folded into what they delivered otherwise).") var all = false
        @OptionGroup var output: OutputOptions

        func execute(in context: ShellContext) async throws -> ShellResult {
            var sinceDate: Date?
            if let since {
                guard let date = Since.parse(since, now: context.now) else { return Since.usage(since) }
                sinceDate = date
            }
            // `--thread host/id` is the id on that host.
            var host = host
            var threadID = thread
            if let thread, let slash = thread.firstIndex(of: "/") {
                host = host ?? String(thread[..<slash])
                threadID = String(thread[thread.index(after: slash)...])
            }
            let entries = try await context.fleet.auditEntries(
                AuditFilter(
                    host: host.map { HostName($0) }, since: sinceDate, actor: actor, limit: limit, kind: kind,
                    request: request?.value, thread: threadID.map { ThreadID($0) }))
            // A host no longer configured still has its history; a name with neither is a typo.
            if entries.isEmpty, let refusal = await Shell.unknownHost(host.map { [HostName($0)] } ?? [], context) {
                return refusal
            }
            let actions = try await AuditSummary.actions(for: entries, fleet: context.fleet)
            switch output.format {
            case .json:
                // Every record (deliveries too), its details as a JSON object, and its summary.
                return ShellResult(
                    stdout: entries.map { AuditSummary.jsonLine($0, summary: AuditSummary.line($0, actions: actions)) }
                        .joined())
            case .name: return ShellResult(stdout: OutputOptions.names(entries.map { String($0.seq) }))
            default: break
            }
            let (shown, folded) = all ? (entries, 0) : AuditSummary.fold(entries)
            let delivered = all ? [:] : AuditSummary.deliveries(entries)
            // On a phone: the sequence and the one-line summary; time, kind, and (-o wide) the raw record.
            var table = Table([
                .init(title: "SEQ"), .init(title: "AT", priority: 2), .init(title: "KIND", priority: 1),
                .init(title: "SUMMARY", flexible: true, minimum: 48), .init(title: "HOST", wide: true),
                .init(title: "ACTOR", wide: true), .init(title: "CHANNEL", wide: true),
                .init(title: "DETAILS", flexible: true, wide: true),
            ])
            for entry in shown {
                var summary = AuditSummary.line(entry, actions: actions)
                if let note = delivered[entry.seq] { summary += " (\(note))" }
                table.append([
                    String(entry.seq), entry.at, entry.kind, summary, entry.host.rawValue, entry.actor, entry.channel,
                    entry.details,
                ])
            }
            if shown.isEmpty { return ShellResult(stdout: "no audit records\n") }
            var out = output.render(table, context)
            if folded > 0 && !output.noHeaders {
                out += "(\(folded) delivery record\(folded == 1 ? "" : "s") folded; --all lists them)\n"
            }
            return ShellResult(stdout: out)
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
                discussion:
                    "policy explain -- git push origin main   |   policy explain 'git status && git push'. Exit status: 0 allow, 1 deny, 2 ask."
            )

            @Option(help: "The agent's tool.") var tool = "Bash"
            @Option(help: "Evaluate with this host's labels.") var host: String?
            @Option(help: "A path the tool writes (repeatable; for Edit/Write).") var path: [String] = []
            @Argument(parsing: .remaining, help: "The command (one string, or argv after --).")
            var command: [String] = []

            func execute(in context: ShellContext) async throws -> ShellResult {
                var hostLabels: [String: String] = [:]
                if let host { hostLabels = await context.fleet.labels()[HostName(host)] ?? [:] }
                let input = PolicyInput(
                    tool: tool,
                    command: ShellWords.commandLine(command.first == "--" ? Array(command.dropFirst()) : command),
                    paths: path, agent: .generic, labels: hostLabels)
                let policy = await context.fleet.policy
                var text = policy.explain(input)
                if !text.hasSuffix("\n") { text += "\n" }
                // Scripts can branch on the verdict: 0 allow, 1 deny, 2 ask.
                let exit: Int32 =
                    switch policy.evaluate(input).verdict {
                    case .allow: 0
                    case .deny: 1
                    case .ask: 2
                    }
                return ShellResult(stdout: text, exit: exit)
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
    var host: HostName
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
        let messages = try await context.fleet.steerMessages(
            host: record.host, thread: record.thread.id)
        if json {
            let detail = Shell.ThreadDetailJSON(
                thread: "\(record.host)/\(record.thread.id)", state: record.thread.state.rawValue,
                steer: messages.map {
                    .init(
                        id: $0.steer.messageID, from: $0.steer.from, text: $0.steer.text,
                        status: $0.deliveredAt != nil ? "delivered" : ($0.cancelledAt != nil ? "cancelled" : "pending"),
                        createdAt: $0.createdAt,
                        deliveredAt: $0.deliveredAt)
                })
            return ShellResult(stdout: JSONLines.encode([detail]))
        }
        let thread = record.thread
        var out = "thread \(record.host)/\(TerminalText.escape(thread.id.rawValue)) (\(thread.agent.rawValue))"
        out += ": \(Shell.Threads.stateLabel(thread.state))\(record.stale ? " (stale)" : "")\n"
        if let title = thread.title { out += "  title     \(TerminalText.escape(title))\n" }
        out += "  argv      \(TerminalText.escape(thread.argv.joined(separator: " ")))\n"
        out += "  cwd       \(TerminalText.escape(thread.cwd))\n"
        if let repo = thread.repo {
            out += "  repo      \(TerminalText.escape(repo)) (\(TerminalText.escape(thread.branch ?? "-")))\n"
        }
        out +=
            "  started   \(DurationText.ago(thread.startedAt, now: context.now)), active \(DurationText.ago(thread.lastActivity, now: context.now))\n"
        for message in messages {
            let status =
                message.deliveredAt.map { "delivered \(DurationText.ago($0, now: context.now))" }
                ?? (message.cancelledAt != nil ? "cancelled" : "pending")
            out +=
                "  steer     \(message.steer.messageID) from \(message.steer.from): \(TerminalText.escape(message.steer.text)) [\(status)]\n"
        }
        if messages.isEmpty { out += "  steer     none\n" }
        return ShellResult(stdout: out)
    }
}
