public import ArgumentParser
import BosunCore
import BosunPolicy
import BosunSupervisor
import BosunTerminal
import Foundation

extension Tier: ExpressibleByArgument {}
extension RequestMark.Kind: ExpressibleByArgument {}

/// `14d`, `2h`, `30m`, `45s` or an RFC 3339 time: the start of a window.
enum Since {
    static func parse(_ text: String, now: Date) -> Date? {
        if let date = Timestamp.parse(text) { return date }
        guard let unit = text.last, let amount = Double(text.dropLast()), amount.isFinite, amount >= 0,
            amount <= 1e6, let seconds = ["s": 1.0, "m": 60, "h": 3600, "d": 86400, "w": 604800][unit]
        else { return nil }
        return now.addingTimeInterval(-amount * seconds)
    }

    static func usage(_ text: String) -> ShellResult {
        ShellResult(
            stderr: "bosun: --since expects RFC 3339 or an age like 30m, 2h, 14d; got '\(TerminalText.escape(text))'\n",
            exit: ExitStatus.usage)
    }
}

/// Rendering helpers for the analytics views (all text through `Table`, escaped there).
enum Figures {
    static func percent(_ rate: Double?) -> String {
        guard let rate, rate.isFinite else { return "-" }
        return "\(Int((min(max(rate, 0), 1) * 100).rounded()))%"
    }

    /// A bar of `width` cells for a share in 0...1.
    static func bar(_ rate: Double?, width: Int = 10) -> String {
        guard let rate, rate.isFinite else { return "" }
        let filled = Int((min(max(rate, 0), 1) * Double(width)).rounded())
        return String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
    }

    static func seconds(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        if value < 60 { return "\(Int(min(max(value, 0), 59).rounded(.down)))s" }
        return DurationText.short(value)
    }

    /// `parts` joined with ", ", a new line where the next part would pass `width`.
    static func wrap(_ parts: [String], width: Int?) -> String {
        var lines: [String] = []
        var line = ""
        for part in parts.map(TerminalText.escape) {
            if line.isEmpty {
                line = part
            } else if let width, line.count + 2 + part.count > width {
                lines.append(line + ",")
                line = part
            } else {
                line += ", " + part
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines.map { $0 + "\n" }.joined()
    }

    static func decimal(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        return String(format: "%.1f", min(max(value, -1e12), 1e12))
    }
}

extension Shell {
    struct Stats: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            abstract: "Review analytics: response times, asks, failures, rework, noisy prompts, marks.",
            discussion: "Each figure is defined in the README, section \"Review analytics\".")

        @Option(help: "Only requests created in this window (14d, 2h, or RFC 3339).") var since = "14d"
        @Option(help: "Only this host (repeatable).") var host: [String] = []
        @Option(help: "Only hosts with this label, key=value (repeatable).") var label: [String] = []
        @Option(help: "Only this tier.") var tier: Tier?
        @Option(name: .customLong("operator"), help: "Only requests this operator voted on.") var operatorName: String?
        @Option(help: "Hours after a mobile approval within which a change to the same files is rework.")
        var reworkHours: Double = 24
        @Flag(help: "One JSON object.") var json = false

        func execute(in context: ShellContext) async throws -> ShellResult {
            guard let start = Since.parse(since, now: context.now) else { return Since.usage(since) }
            guard reworkHours.isFinite, reworkHours >= 0, reworkHours <= 24 * 365 else {
                return ShellResult(stderr: "bosun: --rework-hours expects 0…8760\n", exit: ExitStatus.usage)
            }
            var labels: [String: String] = [:]
            for pair in label {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    return ShellResult(stderr: "bosun: --label expects key=value\n", exit: ExitStatus.usage)
                }
                labels[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            var hosts: [HostName]? = host.isEmpty ? nil : host.map { HostName($0) }
            if !labels.isEmpty {
                let labelled = await context.fleet.hosts(labelled: labels)
                hosts = hosts.map { $0.filter(labelled.contains) } ?? labelled
            }
            let report = try await context.fleet.reviewReport(
                AnalyticsQuery(since: start, hosts: hosts, tier: tier, operator: operatorName), now: context.now,
                reworkWindow: reworkHours * 3600)
            if json { return ShellResult(stdout: JSONLines.encode([report])) }
            return ShellResult(stdout: Self.render(report, since: since, width: context.width))
        }

        static func render(_ r: ReviewReport, since: String, width: Int?) -> String {
            var out = Figures.wrap(
                ["since \(since): \(r.requests) requests", "\(r.queued) asked a person"], width: width)
            guard r.requests > 0 else { return out }

            out += "\nidle before a reviewer's response\n"
            var response = Table([
                .init(title: "BY", flexible: true), .init(title: "N"), .init(title: "P50"), .init(title: "P90"),
                .init(title: "MAX"),
            ])
            func add(_ key: String, _ s: ReviewReport.Summary) {
                response.append([
                    key, "\(s.count)", Figures.seconds(s.p50), Figures.seconds(s.p90), Figures.seconds(s.max),
                ])
            }
            add("all", r.response.overall)
            for (prefix, groups) in [
                ("tier", r.response.byTier), ("host", r.response.byHost), ("op", r.response.byOperator),
                ("via", r.response.byChannel),
            ] {
                for group in groups { add("\(prefix) \(group.key)", group.summary) }
            }
            out += response.render(width: width)
            out += Figures.wrap(
                ["unanswered \(r.response.unanswered)", "agents waited \(Figures.seconds(r.response.agentWait))"],
                width: width)

            out += "\nasks per thread\n"
            out += Figures.wrap(
                [
                    "\(r.volume.asks) asks", "\(r.volume.threads) threads",
                    "\(Figures.decimal(r.volume.perThread))/thread",
                    "\(Figures.decimal(r.volume.perHour))/h of runtime",
                ], width: width)
            if !r.volume.top.isEmpty {
                var top = Table([.init(title: "THREAD", flexible: true), .init(title: "ASKS"), .init(title: "/H")])
                for thread in r.volume.top {
                    top.append([thread.thread, "\(thread.asks)", Figures.decimal(thread.perHour)])
                }
                out += top.render(width: width)
            }

            out += "\napproved, then failed (PostToolUse)\n"
            var failures = Table([
                .init(title: "BY", flexible: true), .init(title: "OK'D"), .init(title: "RAN"), .init(title: "FAIL"),
                .init(title: "RATE"),
            ])
            func rate(_ key: String, _ rate: ReviewReport.Rate) {
                failures.append([
                    key, "\(rate.approved)", "\(rate.outcomes)", "\(rate.failed)", Figures.percent(rate.rate),
                ])
            }
            rate("person", r.failures.overall)
            for group in r.failures.byTier { rate("tier \(group.key)", group) }
            for group in r.failures.byChannel { rate("via \(group.key)", group) }
            rate("policy", r.failures.policyAllowed)
            out += failures.render(width: width)

            out += "\nrework after mobile approvals\n"
            var rework = [
                "\(r.rework.reworked) of \(r.rework.withFiles) with files", "\(r.rework.mobileApproved) approved",
                "\(Figures.percent(r.rework.rate)) in \(Figures.decimal(r.rework.windowHours))h",
            ]
            rework += r.rework.requests.prefix(8).map { "#\($0)" }
            out += Figures.wrap(rework, width: width)

            let d = r.decisions
            out += "\nwho decided (\(d.decided) decided)\n"
            var who = Table([
                .init(title: "BY"), .init(title: "N"), .init(title: "SHARE"), .init(title: "", flexible: true),
            ])
            func share(_ part: Int) -> Double? { d.decided == 0 ? nil : Double(part) / Double(d.decided) }
            for (name, count) in [
                ("policy", d.policy), ("person", d.person), ("timeout", d.timeout), ("host", d.host),
                ("limit", d.limit),
            ] where count > 0 || name == "policy" || name == "person" {
                who.append([name, "\(count)", Figures.percent(share(count)), Figures.bar(share(count))])
            }
            out += who.render(width: width)
            out += Figures.wrap(
                [
                    "denied \(d.denied) (\(Figures.percent(d.denialRate)))",
                    "expired \(d.expired) of \(d.queuedDecided) asked (\(Figures.percent(d.expiryRate)))",
                    "missing evidence \(d.deniedMissingEvidence)",
                ], width: width)

            if !r.noisiest.isEmpty {
                out += "\nnoisiest prompts\n"
                var noisy = Table([.init(title: "ACTION", flexible: true), .init(title: "N"), .init(title: "OK%")])
                for prompt in r.noisiest {
                    noisy.append([prompt.action, "\(prompt.count)", Figures.percent(prompt.approvalRate)])
                }
                out += noisy.render(width: width)
            }
            if !r.marks.isEmpty {
                out += "\nincidents and near misses\n"
                var marks = Table([.init(title: "ID"), .init(title: "KIND"), .init(title: "NOTE", flexible: true)])
                for mark in r.marks {
                    marks.append(["#\(mark.number)", mark.kind, "\(mark.text) (\(mark.operator))"])
                }
                out += marks.render(width: width)
            }
            return out
        }
    }

    struct Mark: ShellCommand {
        static var requiredRole: Role { .operator }
        static let configuration = CommandConfiguration(
            abstract: "Mark a request as an incident or a near miss (audited; shown in stats and the evalset).")

        @Argument(help: "The request: 42 or #42.") var request: RequestNumber
        @Argument(help: "incident or near-miss.") var kind: RequestMark.Kind
        @Argument(parsing: .remaining, help: "What happened (required).") var text: [String] = []

        func validate() throws {
            guard !text.joined().trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError("mark needs a note: mark #N incident|near-miss <what happened>")
            }
        }

        func execute(in context: ShellContext) async throws -> ShellResult {
            let note = String(text.joined(separator: " ").prefix(4096))
            guard
                try await context.fleet.mark(
                    number: request.value, kind: kind, text: note, by: context.actor, now: context.now)
                    != nil
            else {
                return ShellResult(stderr: "bosun: no request #\(request.value)\n", exit: ExitStatus.failure)
            }
            return ShellResult(stdout: "#\(request.value) marked \(kind.rawValue)\n")
        }
    }

    struct Export: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            abstract: "Export stored history.", subcommands: [EvalSet.self])

        func execute(in context: ShellContext) async throws -> ShellResult {
            ShellResult(stdout: TerminalWidth.help({ Export.helpMessage(columns: $0) }, width: context.width) + "\n")
        }

        struct EvalSet: ShellCommand {
            static var requiredRole: Role { .viewer }
            static let configuration = CommandConfiguration(
                commandName: "evalset",
                abstract: "JSON lines for an agent evaluation set: every ask a person saw, and every marked request.")

            @Option(help: "Only requests created in this window (14d, 2h, or RFC 3339).") var since = "14d"
            @Flag(help: "Every request, also those policy decided alone.") var all = false

            func execute(in context: ShellContext) async throws -> ShellResult {
                guard let start = Since.parse(since, now: context.now) else { return Since.usage(since) }
                let records = try await context.fleet.analyticsRecords(
                    AnalyticsQuery(since: start), queuedOrMarked: !all)
                let lines = records.filter { all || $0.queued || !$0.marks.isEmpty }.map(EvalLine.init)
                return ShellResult(stdout: JSONLines.encode(lines))
            }
        }
    }
}

extension Shell.PolicyCommand {
    struct Suggest: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            abstract: "Propose allow rules for asks that were always approved.",
            discussion:
                "Never for the commit tier, a command an existing rule matches, or a destructive, network or credential command. --write FILE (operators) writes a new policy file after it passes bosun check; then review it and reload."
        )

        @Option(help: "Only asks asked at least this many times.") var minCount = 3
        @Option(help: "Only requests created in this window (14d, 2h, or RFC 3339).") var since = "14d"
        @Option(help: "Write the rules to this new file (an absolute path ending in .toml; operators).")
        var write: String?
        @Flag(help: "One JSON object per suggestion.") var json = false

        func execute(in context: ShellContext) async throws -> ShellResult {
            guard let start = Since.parse(since, now: context.now) else { return Since.usage(since) }
            guard (1...1_000_000).contains(minCount) else {
                return ShellResult(stderr: "bosun: --min-count expects 1…1000000\n", exit: ExitStatus.usage)
            }
            if write != nil, context.actor.role < .operator {
                return ShellResult(
                    stderr:
                        "bosun: policy suggest --write needs the operator role; \(context.actor.name) is a \(context.actor.role.rawValue)\n",
                    exit: ExitStatus.forbidden)
            }
            let (suggestions, skipped) = try await context.fleet.suggestPolicy(since: start, minCount: minCount)
            var out = ""
            if let write {
                guard !suggestions.isEmpty else {
                    return ShellResult(stderr: "bosun: nothing to suggest, nothing written\n", exit: ExitStatus.failure)
                }
                let text =
                    "# Suggested by `bosun policy suggest --min-count \(minCount) --since \(TOMLComment.clean(since))`: review before `reload`.\n\n"
                    + suggestions.map(\.toml).joined(separator: "\n")
                switch try await context.fleet.writePolicyFile(write, text: text, by: context.actor) {
                case .failure(let refusal):
                    return ShellResult(stderr: "bosun: \(refusal)\n", exit: ExitStatus.failure)
                case .success(let digest):
                    out += "wrote \(TerminalText.escape(write)) (\(suggestions.count) rule(s), sha256 \(digest))\n"
                }
            }
            if json { return ShellResult(stdout: out + JSONLines.encode(suggestions)) }
            if suggestions.isEmpty { out += "no suggestions (min count \(minCount))\n" }
            for suggestion in suggestions {
                out +=
                    suggestion.toml.split(separator: "\n", omittingEmptySubsequences: false).map {
                        TerminalText.escape(String($0))
                    }.joined(separator: "\n") + "\n"
            }
            if !skipped.isEmpty {
                var table = Table([.init(title: "SKIPPED"), .init(title: "N"), .init(title: "WHY", flexible: true)])
                for skip in skipped { table.append([skip.action, "\(skip.count)", skip.reason]) }
                out += table.render(width: context.width)
            }
            return ShellResult(stdout: out)
        }
    }

    struct Replay: ShellCommand {
        /// bosund reads the file named: operators only (as `audit verify --checkpoint` is for admins).
        static var requiredRole: Role { .operator }
        static let configuration = CommandConfiguration(
            abstract: "What a candidate policy (a file or a policies directory) would have changed in stored history.")

        @Argument(help: "A policy .toml file or a directory of them (read by bosund).") var path: String
        @Option(help: "Only requests created in this window (30d, 2h, or RFC 3339).") var since = "30d"
        @Flag(help: "One JSON object per change.") var json = false

        func execute(in context: ShellContext) async throws -> ShellResult {
            guard let start = Since.parse(since, now: context.now) else { return Since.usage(since) }
            guard path.hasPrefix("/") else {
                return ShellResult(
                    stderr: "bosun: policy replay needs an absolute path (bosund reads it, from its own directory)\n",
                    exit: ExitStatus.usage)
            }
            let candidate: Policy
            switch await context.fleet.loadPolicy(at: path) {
            case .success(let policy): candidate = policy
            case .failure(let error):
                return ShellResult(
                    stderr: "bosun: cannot load the candidate: \(TerminalText.escape(error.description))\n",
                    exit: ExitStatus.failure)
            }
            let report = try await context.fleet.replay(candidate, since: start)
            if json { return ShellResult(stdout: JSONLines.encode(report.changes)) }
            var out =
                "replayed \(report.replayed) requests (\(report.skipped) answered by hosts alone, not replayed): \(report.changes.count) change(s)\n"
            guard !report.changes.isEmpty else { return ShellResult(stdout: out) }
            var kinds: [String: Int] = [:]
            for change in report.changes { kinds[change.kind, default: 0] += 1 }
            var summary = Table([.init(title: "CHANGE", flexible: true), .init(title: "N")])
            for (kind, count) in kinds.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
                summary.append([kind, "\(count)"])
            }
            out += summary.render(width: context.width)
            var table = Table([
                .init(title: "ID"), .init(title: "WAS"), .init(title: "NOW"), .init(title: "ACTION", flexible: true),
            ])
            for change in report.changes {
                table.append(["#\(change.number)", change.was.rawValue, change.would.rawValue, change.action])
            }
            out += "\n" + table.render(width: context.width)
            return ShellResult(stdout: out)
        }
    }
}

enum TOMLComment {
    static func clean(_ text: String) -> String {
        String(
            text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F && $0.value < 0x80 }.map(Character.init))
    }
}

/// One `export evalset` line.
struct EvalLine: Encodable {
    var item: AnalyticsRecord

    init(_ item: AnalyticsRecord) { self.item = item }

    enum CodingKeys: String, CodingKey {
        case request, host, thread, action, evidence, policy, decision, person, outcome, marks, queued
        case createdAt = "created_at"
        case deadlineAt = "deadline_at"
        case decidedAt = "decided_at"
        case queuedAt = "queued_at"
        case firstVoteAt = "first_vote_at"
    }

    struct PolicyJSON: Encodable {
        var tier: String
        var verdict: String
        var rule: String?
        var reason: String
        var missingEvidence: [String]

        enum CodingKeys: String, CodingKey {
            case tier, verdict, rule, reason
            case missingEvidence = "missing_evidence"
        }
    }

    struct DecisionJSON: Encodable {
        var status: String
        var decidedBy: String?
        var channel: String?
        var reason: String?
        var votes: [Vote]

        struct Vote: Encodable {
            var `operator`: String
            var channel: String
            var vote: String
            var note: String?
            var at: Date
        }

        enum CodingKeys: String, CodingKey {
            case status, channel, reason, votes
            case decidedBy = "decided_by"
        }
    }

    struct OutcomeJSON: Encodable {
        var exitCode: Int64
        var failed: Bool

        enum CodingKeys: String, CodingKey {
            case failed
            case exitCode = "exit_code"
        }
    }

    func encode(to encoder: any Encoder) throws {
        let record = item.record
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(record.number, forKey: .request)
        try c.encode(record.host, forKey: .host)
        try c.encode(record.request.threadID, forKey: .thread)
        try c.encode(RequestJSON.action(record.request.evidence), forKey: .action)
        try c.encode(record.request.evidence, forKey: .evidence)
        try c.encode(
            PolicyJSON(
                tier: record.policy.tier.rawValue, verdict: record.policy.verdict.rawValue, rule: record.policy.rule,
                reason: record.policy.reason, missingEvidence: record.policy.missingEvidence), forKey: .policy)
        try c.encode(
            DecisionJSON(
                status: record.status.rawValue, decidedBy: record.decision?.decidedBy.encoded, channel: record.channel,
                reason: record.decision?.reason,
                votes: item.reviews.map {
                    .init(operator: $0.operator, channel: $0.channel, vote: $0.vote.rawValue, note: $0.note, at: $0.at)
                }), forKey: .decision)
        let person: String
        if record.decision?.decidedBy.isOperator ?? false {
            person = record.status == .allowed ? "approved" : "denied"
        } else {
            person = "none"
        }
        try c.encode(person, forKey: .person)
        try c.encode(item.outcomeExit.map { OutcomeJSON(exitCode: $0, failed: $0 != 0) }, forKey: .outcome)
        try c.encode(item.marks, forKey: .marks)
        try c.encode(item.queued, forKey: .queued)
        try c.encode(record.request.createdAt, forKey: .createdAt)
        try c.encode(record.request.deadlineAt, forKey: .deadlineAt)
        try c.encode(item.decidedAt, forKey: .decidedAt)
        try c.encode(record.receivedAt, forKey: .queuedAt)
        try c.encode(item.reviews.map(\.at).min(), forKey: .firstVoteAt)
    }
}
