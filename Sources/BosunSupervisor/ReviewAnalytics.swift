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
        // One pass over the rows into counters (100,000 requests: no copies, each decider parsed once).
        var queuedCount = 0
        var overall: [Double] = []
        var byTier: [String: [Double]] = [:]
        var byHost: [String: [Double]] = [:]
        var byOperator: [String: [Double]] = [:]
        var byChannel: [String: [Double]] = [:]
        var agentWait = 0.0
        var perThread: [String: Int] = [:]
        var approved = RateCounter()
        var approvedByTier: [String: RateCounter] = [:]
        var approvedByChannel: [String: RateCounter] = [:]
        var policyAllowed = RateCounter()
        var counts = (decided: 0, policy: 0, person: 0, timeout: 0, host: 0, limit: 0, denied: 0)
        var queuedDecided = 0
        var expired = 0
        var missingEvidence = 0
        var prompts: [String: (count: Int, allowed: Int, decided: Int)] = [:]
        var actions: [String: String] = [:]
        var person: [Bool] = []
        person.reserveCapacity(snapshot.requests.count)

        for request in snapshot.requests {
            let decider = request.decidedBy.flatMap(DecidedBy.init(parsing:))
            let byPerson = decider?.isOperator ?? false
            person.append(byPerson)
            let decided = request.status != "pending"
            if decided {
                counts.decided += 1
                switch decider {
                case .policy?: counts.policy += 1
                case .operators?: counts.person += 1
                case .timeout?: counts.timeout += 1
                case .limit?: counts.limit += 1
                case .host?, .hostClaim?, .hostSnapshot?: counts.host += 1
                case nil, .unrecognized?: break
                }
                if request.status == "denied" { counts.denied += 1 }
            }
            if deniedForMissingEvidence(request) { missingEvidence += 1 }
            if request.status == "allowed" {
                if byPerson {
                    approved.add(request.outcomeExit)
                    approvedByTier[request.tier.rawValue, default: RateCounter()].add(request.outcomeExit)
                    approvedByChannel[request.channel ?? "-", default: RateCounter()].add(request.outcomeExit)
                } else if case .policy? = decider {
                    policyAllowed.add(request.outcomeExit)
                }
            }
            guard request.queued else { continue }
            queuedCount += 1
            if decided {
                queuedDecided += 1
                if request.status == "expired" { expired += 1 }
            }
            let end = Swift.min(request.decidedAt ?? now, request.deadlineAt)
            agentWait += Swift.max(0, end.timeIntervalSince(request.createdAt))
            perThread[request.host + "/" + request.threadID, default: 0] += 1
            // Commands repeat: each distinct one is normalized once.
            let action: String
            if let command = request.command, let known = actions[command] {
                action = known
            } else {
                action = normalizedAction(tool: request.tool, command: request.command)
                if let command = request.command { actions[command] = action }
            }
            var prompt = prompts[action] ?? (0, 0, 0)
            prompt.count += 1
            if decided { prompt.decided += 1 }
            if request.status == "allowed" { prompt.allowed += 1 }
            prompts[action] = prompt
            if let first = request.firstVoteAt {
                let wait = Swift.max(0, first.timeIntervalSince(request.receivedAt))
                overall.append(wait)
                byTier[request.tier.rawValue, default: []].append(wait)
                byHost[request.host, default: []].append(wait)
                byOperator[request.firstVoter ?? "-", default: []].append(wait)
                byChannel[request.firstVoteChannel ?? "-", default: []].append(wait)
            }
        }

        func groups(_ values: [String: [Double]]) -> [Group] {
            values.map { Group(key: $0.key, summary: Summary($0.value)) }.sorted { $0.key < $1.key }
        }
        let responseFigures = Response(
            overall: Summary(overall), byTier: groups(byTier), byHost: groups(byHost), byOperator: groups(byOperator),
            byChannel: groups(byChannel), unanswered: queuedCount - overall.count, agentWait: agentWait)

        // Approval volume per thread.
        var runtimes: [String: Double] = [:]
        for thread in snapshot.threads {
            runtimes[thread.host + "/" + thread.id] =
                Swift.max(60, thread.lastActivity.timeIntervalSince(thread.startedAt)) / 3600
        }
        let threadAsks = perThread.map { thread, asks in
            ThreadAsks(
                thread: thread, asks: asks, runtimeHours: runtimes[thread],
                perHour: runtimes[thread].map { Double(asks) / $0 })
        }.sorted { ($0.asks, $1.thread) > ($1.asks, $0.thread) }
        let knownHours = threadAsks.compactMap(\.runtimeHours).reduce(0, +)
        let asksWithRuntime = threadAsks.filter { $0.runtimeHours != nil }.reduce(0) { $0 + $1.asks }
        let volume = Volume(
            asks: queuedCount, threads: perThread.count,
            perThread: perThread.isEmpty ? nil : Double(queuedCount) / Double(perThread.count),
            runtimeHours: knownHours,
            perHour: knownHours > 0 ? Double(asksWithRuntime) / knownHours : nil, top: Array(threadAsks.prefix(5)))

        func rates(_ counters: [String: RateCounter]) -> [Rate] {
            counters.map { $0.value.rate($0.key) }.sorted { $0.key < $1.key }
        }
        let failures = Failures(
            overall: approved.rate("all"), byTier: rates(approvedByTier), byChannel: rates(approvedByChannel),
            policyAllowed: policyAllowed.rate("policy"))

        let rework = Self.rework(snapshot.requests, person: person, files: snapshot.files, window: reworkWindow)

        func share(_ part: Int, _ whole: Int) -> Double? { whole == 0 ? nil : Double(part) / Double(whole) }
        let decisions = Decisions(
            decided: counts.decided, policy: counts.policy, person: counts.person, timeout: counts.timeout,
            host: counts.host, limit: counts.limit, policyShare: share(counts.policy, counts.decided),
            personShare: share(counts.person, counts.decided), denied: counts.denied,
            denialRate: share(counts.denied, counts.decided), queuedDecided: queuedDecided, expired: expired,
            expiryRate: share(expired, queuedDecided), deniedMissingEvidence: missingEvidence)

        let noisiest = prompts.map { action, prompt in
            Prompt(
                action: action, count: prompt.count, allowed: prompt.allowed, decided: prompt.decided,
                approvalRate: share(prompt.allowed, prompt.decided))
        }.sorted { ($0.count, $1.action) > ($1.count, $0.action) }

        let marked = Set(snapshot.marks.map(\.number))
        var markedRequests: [Int64: (host: String, action: String)] = [:]
        for request in snapshot.requests where marked.contains(request.number) {
            markedRequests[request.number] = (
                request.host, normalizedAction(tool: request.tool, command: request.command)
            )
        }
        let marks = snapshot.marks.map { mark in
            Mark(
                number: mark.number, kind: mark.kind.rawValue, text: mark.text, operator: mark.operator, at: mark.at,
                host: markedRequests[mark.number]?.host, action: markedRequests[mark.number]?.action)
        }

        return ReviewReport(
            since: since, until: now, requests: snapshot.requests.count, queued: queuedCount, response: responseFigures,
            volume: volume, failures: failures, rework: rework, decisions: decisions,
            noisiest: Array(noisiest.prefix(10)),
            marks: marks)
    }

    /// Approved requests, those with an outcome that reported an exit code, and the failed ones.
    struct RateCounter {
        var approved = 0
        var outcomes = 0
        var failed = 0

        mutating func add(_ exit: Int64?) {
            approved += 1
            guard let exit else { return }
            outcomes += 1
            if exit != 0 { failed += 1 }
        }

        func rate(_ key: String) -> Rate {
            Rate(
                key: key, approved: approved, outcomes: outcomes, failed: failed,
                rate: outcomes == 0 ? nil : Double(failed) / Double(outcomes))
        }
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
        _ all: [AnalyticsRequest], person: [Bool], files: [Int64: AnalyticsFiles], window: TimeInterval
    ) -> Rework {
        // Each thread's requests whose files are known, in order, as indices into `all`.
        var threads: [String: [Int]] = [:]
        for index in all.indices where files[all[index].number] != nil {
            threads[all[index].host + "/" + all[index].threadID, default: []].append(index)
        }
        for key in threads.keys { threads[key]?.sort { all[$0].number < all[$1].number } }
        func relative(_ path: String, _ repo: String?) -> String {
            if let repo, !repo.isEmpty {
                let root = repo.hasSuffix("/") ? repo : repo + "/"
                if path.hasPrefix(root) { return String(path.dropFirst(root.count)) }
            }
            return path
        }
        // The files the thread's request at `position` changed (memoized: windows overlap).
        var memo: [Int: Set<String>] = [:]
        func changed(_ thread: [Int], _ position: Int) -> Set<String> {
            let index = thread[position]
            if let known = memo[index] { return known }
            guard let own = files[all[index].number] else { return [] }
            var result = Set(own.paths.map { relative($0, own.repo) })
            if position + 1 < thread.count, let next = files[all[thread[position + 1]].number] {
                result.formUnion(Set(next.changedFiles).subtracting(own.changedFiles))
            }
            memo[index] = result
            return result
        }
        var positions: [Int: Int] = [:]
        for thread in threads.values {
            for (position, index) in thread.enumerated() { positions[index] = position }
        }
        var mobileApproved = 0
        var withFiles = 0
        var reworked: [Int64] = []
        for index in all.indices where person[index] && all[index].status == "allowed" && all[index].channel == "mobile"
        {
            mobileApproved += 1
            let request = all[index]
            guard let thread = threads[request.host + "/" + request.threadID], let position = positions[index] else {
                continue
            }
            let mine = changed(thread, position)
            guard !mine.isEmpty else { continue }
            withFiles += 1
            let approvedAt = request.decidedAt ?? request.createdAt
            for later in (position + 1)..<thread.count {
                let other = all[thread[later]]
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
            sub.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.:".unicodeScalars.contains($0)
            })
        {
            return name + " " + sub
        }
        return name
    }
}
