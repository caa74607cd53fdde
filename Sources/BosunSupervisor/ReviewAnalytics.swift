import BosunCore
import BosunStore
import Foundation

/// The review measures of README "Review analytics", computed from stored rows with no I/O: one
/// pure function of an `AnalyticsSnapshot`, so every figure is testable from a table of rows.
public struct ReviewReport: Sendable, Equatable, Encodable {
    /// p50, p90 and max of a set of durations (seconds), by nearest rank.
    public struct Summary: Sendable, Equatable, Encodable {
        public var count: Int
        public var p50: Double?
        public var p90: Double?
        public var max: Double?

        public init(_ values: [Double]) {
            let sorted = values.sorted()
            count = sorted.count
            p50 = Self.rank(sorted, 0.5)
            p90 = Self.rank(sorted, 0.9)
            max = sorted.last
        }

        /// The nearest-rank percentile: the smallest value with at least `q` of the values at or below it.
        static func rank(_ sorted: [Double], _ q: Double) -> Double? {
            guard !sorted.isEmpty else { return nil }
            let position = (q * Double(sorted.count)).rounded(.up)
            let index = Swift.max(0, Swift.min(sorted.count - 1, Int(position) - 1))
            return sorted[index]
        }
    }

    /// A summary for one value of a dimension (a tier, host, operator or channel).
    public struct Group: Sendable, Equatable, Encodable {
        public var key: String
        public var summary: Summary
    }

    public struct Response: Sendable, Equatable, Encodable {
        /// Queued requests a person answered: from reaching the queue to the first vote.
        public var overall: Summary
        public var byTier: [Group]
        public var byHost: [Group]
        public var byOperator: [Group]
        public var byChannel: [Group]
        /// Queued requests no person voted on (expired, answered by the host, still pending).
        public var unanswered: Int
        /// Seconds agents waited on queued requests: creation to decision (pending: to now), at
        /// most until the hook's deadline.
        public var agentWait: Double

        enum CodingKeys: String, CodingKey {
            case overall, unanswered
            case byTier = "by_tier"
            case byHost = "by_host"
            case byOperator = "by_operator"
            case byChannel = "by_channel"
            case agentWait = "agent_wait_seconds"
        }
    }

    public struct ThreadAsks: Sendable, Equatable, Encodable {
        public var thread: String
        public var asks: Int
        public var runtimeHours: Double?
        public var perHour: Double?

        enum CodingKeys: String, CodingKey {
            case thread, asks
            case runtimeHours = "runtime_hours"
            case perHour = "per_hour"
        }
    }

    public struct Volume: Sendable, Equatable, Encodable {
        public var asks: Int
        public var threads: Int
        public var perThread: Double?
        /// Runtime of the asking threads that are known (first report to last activity, at least a minute).
        public var runtimeHours: Double
        public var perHour: Double?
        /// The threads that asked most (at most 5), most asks first.
        public var top: [ThreadAsks]

        enum CodingKeys: String, CodingKey {
            case asks, threads, top
            case perThread = "per_thread"
            case runtimeHours = "runtime_hours"
            case perHour = "per_hour"
        }
    }

    /// Of `approved` requests, `outcomes` reported an exit code and `failed` of them were non-zero.
    public struct Rate: Sendable, Equatable, Encodable {
        public var key: String
        public var approved: Int
        public var outcomes: Int
        public var failed: Int
        public var rate: Double?

        init(key: String, _ requests: [AnalyticsRequest]) {
            self.key = key
            approved = requests.count
            let known = requests.compactMap(\.outcomeExit)
            outcomes = known.count
            failed = known.filter { $0 != 0 }.count
            rate = outcomes == 0 ? nil : Double(failed) / Double(outcomes)
        }
    }

    public struct Failures: Sendable, Equatable, Encodable {
        /// Approved by a person.
        public var overall: Rate
        public var byTier: [Rate]
        public var byChannel: [Rate]
        /// Allowed by a policy rule, for comparison.
        public var policyAllowed: Rate

        enum CodingKeys: String, CodingKey {
            case overall
            case byTier = "by_tier"
            case byChannel = "by_channel"
            case policyAllowed = "policy_allowed"
        }
    }

    public struct Rework: Sendable, Equatable, Encodable {
        public var windowHours: Double
        /// Requests a person approved from `mobile`.
        public var mobileApproved: Int
        /// Of those, the ones whose changed files are known.
        public var withFiles: Int
        /// Of those, the ones whose files the same thread changed again within the window.
        public var reworked: Int
        public var rate: Double?
        public var requests: [Int64]

        enum CodingKeys: String, CodingKey {
            case reworked, rate, requests
            case windowHours = "window_hours"
            case mobileApproved = "mobile_approved"
            case withFiles = "with_files"
        }
    }

    public struct Decisions: Sendable, Equatable, Encodable {
        public var decided: Int
        public var policy: Int
        public var person: Int
        public var timeout: Int
        public var host: Int
        public var limit: Int
        public var policyShare: Double?
        public var personShare: Double?
        public var denied: Int
        public var denialRate: Double?
        public var queuedDecided: Int
        public var expired: Int
        public var expiryRate: Double?
        public var deniedMissingEvidence: Int

        enum CodingKeys: String, CodingKey {
            case decided, policy, person, timeout, host, limit, denied, expired
            case policyShare = "policy_share"
            case personShare = "person_share"
            case denialRate = "denial_rate"
            case queuedDecided = "queued_decided"
            case expiryRate = "expiry_rate"
            case deniedMissingEvidence = "denied_missing_evidence"
        }
    }

    public struct Prompt: Sendable, Equatable, Encodable {
        public var action: String
        public var count: Int
        public var allowed: Int
        public var decided: Int
        public var approvalRate: Double?

        enum CodingKeys: String, CodingKey {
            case action, count, allowed, decided
            case approvalRate = "approval_rate"
        }
    }

    public struct Mark: Sendable, Equatable, Encodable {
        public var number: Int64
        public var kind: String
        public var text: String
        public var `operator`: String
        public var at: Date
        public var host: String?
        public var action: String?
    }

    public var since: Date?
    public var until: Date
    public var requests: Int
    public var queued: Int
    public var response: Response
    public var volume: Volume
    public var failures: Failures
    public var rework: Rework
    public var decisions: Decisions
    public var noisiest: [Prompt]
    public var marks: [Mark]
}

extension ReviewReport {
    /// Every measure from `snapshot`, as of `now`. `reworkWindow`: how long after an approval a
    /// change to the same files counts as rework.
    public static func compute(
        _ snapshot: AnalyticsSnapshot, since: Date?, now: Date, reworkWindow: TimeInterval = 24 * 3600
    ) -> ReviewReport {
        let all = snapshot.requests
        let queued = all.filter(\.queued)
        func decider(_ request: AnalyticsRequest) -> DecidedBy? { request.decidedBy.flatMap(DecidedBy.init(parsing:)) }
        func byPerson(_ request: AnalyticsRequest) -> Bool { decider(request)?.isOperator ?? false }

        // Idle time before a reviewer's response.
        let answered = queued.filter { $0.firstVoteAt != nil }
        func response(_ request: AnalyticsRequest) -> Double {
            Swift.max(0, (request.firstVoteAt ?? request.receivedAt).timeIntervalSince(request.receivedAt))
        }
        func groups(_ key: (AnalyticsRequest) -> String) -> [Group] {
            Dictionary(grouping: answered, by: key).map { Group(key: $0.key, summary: Summary($0.value.map(response))) }
                .sorted { $0.key < $1.key }
        }
        let agentWait = queued.reduce(0.0) { total, request in
            let end = Swift.min(request.decidedAt ?? now, request.deadlineAt)
            return total + Swift.max(0, end.timeIntervalSince(request.createdAt))
        }
        let responseFigures = Response(
            overall: Summary(answered.map(response)), byTier: groups { $0.tier.rawValue }, byHost: groups(\.host),
            byOperator: groups { $0.firstVoter ?? "-" }, byChannel: groups { $0.firstVoteChannel ?? "-" },
            unanswered: queued.count - answered.count, agentWait: agentWait)

        // Approval volume per thread.
        let runtimes = Dictionary(
            snapshot.threads.map { ("\($0.host)/\($0.id)", Swift.max(60, $0.lastActivity.timeIntervalSince($0.startedAt)) / 3600) },
            uniquingKeysWith: { first, _ in first })
        let perThread = Dictionary(grouping: queued, by: { "\($0.host)/\($0.threadID)" })
        let threadAsks = perThread.map { thread, asks in
            ThreadAsks(
                thread: thread, asks: asks.count, runtimeHours: runtimes[thread],
                perHour: runtimes[thread].map { Double(asks.count) / $0 })
        }.sorted { ($0.asks, $1.thread) > ($1.asks, $0.thread) }
        let knownHours = threadAsks.compactMap(\.runtimeHours).reduce(0, +)
        let asksWithRuntime = threadAsks.filter { $0.runtimeHours != nil }.reduce(0) { $0 + $1.asks }
        let volume = Volume(
            asks: queued.count, threads: perThread.count,
            perThread: perThread.isEmpty ? nil : Double(queued.count) / Double(perThread.count), runtimeHours: knownHours,
            perHour: knownHours > 0 ? Double(asksWithRuntime) / knownHours : nil, top: Array(threadAsks.prefix(5)))

        // Approved-command failure rate.
        let approved = all.filter { $0.status == "allowed" && byPerson($0) }
        func rates(_ key: (AnalyticsRequest) -> String) -> [Rate] {
            Dictionary(grouping: approved, by: key).map { Rate(key: $0.key, $0.value) }.sorted { $0.key < $1.key }
        }
        let policyAllowed = all.filter {
            if $0.status == "allowed", case .policy? = decider($0) { return true }
            return false
        }
        let failures = Failures(
            overall: Rate(key: "all", approved), byTier: rates { $0.tier.rawValue }, byChannel: rates { $0.channel ?? "-" },
            policyAllowed: Rate(key: "policy", policyAllowed))

        let rework = Self.rework(all, files: snapshot.files, window: reworkWindow, byPerson: byPerson)

        // Who decides, denials, expiries.
        let decided = all.filter { $0.status != "pending" }
        var counts = (policy: 0, person: 0, timeout: 0, host: 0, limit: 0)
        for request in decided {
            switch decider(request) {
            case .policy?: counts.policy += 1
            case .operators?: counts.person += 1
            case .timeout?: counts.timeout += 1
            case .limit?: counts.limit += 1
            case .host?, .hostClaim?, .hostSnapshot?: counts.host += 1
            case nil: break
            }
        }
        func share(_ part: Int, _ whole: Int) -> Double? { whole == 0 ? nil : Double(part) / Double(whole) }
        let denied = decided.filter { $0.status == "denied" }.count
        let queuedDecided = queued.filter { $0.status != "pending" }
        let expired = queuedDecided.filter { $0.status == "expired" }.count
        let decisions = Decisions(
            decided: decided.count, policy: counts.policy, person: counts.person, timeout: counts.timeout,
            host: counts.host, limit: counts.limit, policyShare: share(counts.policy, decided.count),
            personShare: share(counts.person, decided.count), denied: denied, denialRate: share(denied, decided.count),
            queuedDecided: queuedDecided.count, expired: expired, expiryRate: share(expired, queuedDecided.count),
            deniedMissingEvidence: all.filter(Self.deniedForMissingEvidence).count)

        // Noisiest prompts.
        let prompts = Dictionary(grouping: queued, by: { normalizedAction(tool: $0.tool, command: $0.command) }).map {
            action, asks in
            let decidedAsks = asks.filter { $0.status != "pending" }
            let allowed = decidedAsks.filter { $0.status == "allowed" }.count
            return Prompt(
                action: action, count: asks.count, allowed: allowed, decided: decidedAsks.count,
                approvalRate: share(allowed, decidedAsks.count))
        }.sorted { ($0.count, $1.action) > ($1.count, $0.action) }

        let byNumber = Dictionary(all.map { ($0.number, $0) }, uniquingKeysWith: { first, _ in first })
        let marks = snapshot.marks.map { mark in
            Mark(
                number: mark.number, kind: mark.kind.rawValue, text: mark.text, operator: mark.operator, at: mark.at,
                host: byNumber[mark.number]?.host,
                action: byNumber[mark.number].map { normalizedAction(tool: $0.tool, command: $0.command) })
        }

        return ReviewReport(
            since: since, until: now, requests: all.count, queued: queued.count, response: responseFigures,
            volume: volume, failures: failures, rework: rework, decisions: decisions, noisiest: Array(prompts.prefix(10)),
            marks: marks)
    }

    /// Denied on arrival by policy because the tier's required evidence was missing: the rule
    /// itself did not deny, no limit did, and evidence was missing.
    static func deniedForMissingEvidence(_ request: AnalyticsRequest) -> Bool {
        guard request.status == "denied", request.channel == "policy", request.missingEvidence,
            request.policyVerdict != .deny
        else { return false }
        if case .limit? = request.decidedBy.flatMap(DecidedBy.init(parsing:)) { return false }
        return true
    }

    /// Rework after `mobile` approvals (README "Review analytics"): the files an action changed are
    /// the paths its tool writes plus the files that became changed by the thread's next request;
    /// an approved action is reworked when a later allowed request of the same thread, created
    /// within `window` of the approval, changed one of the same files.
    static func rework(
        _ all: [AnalyticsRequest], files: [Int64: AnalyticsFiles], window: TimeInterval,
        byPerson: (AnalyticsRequest) -> Bool
    ) -> Rework {
        let threads = Dictionary(grouping: all.filter { files[$0.number] != nil }, by: { "\($0.host)/\($0.threadID)" })
            .mapValues { $0.sorted { $0.number < $1.number } }
        func relative(_ path: String, _ repo: String?) -> String {
            if let repo, !repo.isEmpty, path.hasPrefix(repo.hasSuffix("/") ? repo : repo + "/") {
                return String(path.dropFirst(repo.hasSuffix("/") ? repo.count : repo.count + 1))
            }
            return path
        }
        func changed(_ thread: [AnalyticsRequest], _ index: Int) -> Set<String> {
            guard let own = files[thread[index].number] else { return [] }
            var result = Set(own.paths.map { relative($0, own.repo) })
            if index + 1 < thread.count, let next = files[thread[index + 1].number] {
                result.formUnion(Set(next.changedFiles).subtracting(own.changedFiles))
            }
            return result
        }
        var mobileApproved = 0
        var withFiles = 0
        var reworked: [Int64] = []
        for request in all
        where request.status == "allowed" && request.channel == "mobile" && byPerson(request) {
            mobileApproved += 1
            guard let thread = threads["\(request.host)/\(request.threadID)"],
                let index = thread.firstIndex(where: { $0.number == request.number })
            else { continue }
            let mine = changed(thread, index)
            guard !mine.isEmpty else { continue }
            withFiles += 1
            let approvedAt = request.decidedAt ?? request.createdAt
            for later in thread.indices where later > index {
                let other = thread[later]
                guard other.createdAt.timeIntervalSince(approvedAt) <= window else { break }
                if other.status == "allowed", !changed(thread, later).isDisjoint(with: mine) {
                    reworked.append(request.number)
                    break
                }
            }
        }
        return Rework(
            windowHours: window / 3600, mobileApproved: mobileApproved, withFiles: withFiles, reworked: reworked.count,
            rate: withFiles == 0 ? nil : Double(reworked.count) / Double(withFiles), requests: reworked)
    }

    /// The action with its variable parts dropped, so repeats group: for a command, its program's
    /// name (leading `NAME=value` words skipped, the directory dropped) and the next word when it
    /// is a plain subcommand (`git push`, `npm install`); for another tool, the tool's name.
    public static func normalizedAction(tool: String, command: String?) -> String {
        guard let command else { return tool }
        var words: [Substring] = []
        for word in command.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            if [";", "&&", "||", "|", "&"].contains(word) { break }
            var word = word
            var last = false
            if let end = word.lastIndex(where: { !";&|".contains($0) }), word.index(after: end) != word.endIndex {
                word = word[...end]
                last = true
            }
            if words.isEmpty, word.contains("="), word.first?.isLetter == true || word.first == "_" { continue }
            words.append(word)
            if last || words.count == 2 { break }
        }
        guard let first = words.first else { return tool }
        var name = first.split(separator: "/").last.map(String.init) ?? String(first)
        if name.isEmpty { name = String(first) }
        if words.count > 1, let sub = words.last, let head = sub.unicodeScalars.first, ("a"..."z").contains(head),
            sub.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.:".unicodeScalars.contains($0) })
        {
            return name + " " + sub
        }
        return name
    }
}
