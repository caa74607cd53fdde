public import BosunCore
import BosunStore
public import Foundation

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
        public var host: HostName?
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
        // One pass over the rows into counters (100,000 requests: no copies; each distinct decider
        // parsed and each distinct action normalized once).
        var deciders = Deciders()
        var queuedCount = 0
        var overall: [Double] = []
        var waits = (
            tier: Grouped([Double]()), host: Grouped([Double]()), operator: Grouped([Double]()),
            channel: Grouped([Double]())
        )
        var agentWait = 0.0
        var perThread = Grouped(0)
        var approved = RateCounter()
        var approvedBy = (tier: Grouped(RateCounter()), channel: Grouped(RateCounter()))
        var policyAllowed = RateCounter()
        var counts = (decided: 0, policy: 0, person: 0, timeout: 0, host: 0, limit: 0, denied: 0)
        var queuedDecided = 0
        var expired = 0
        var missingEvidence = 0
        var prompts = Grouped((count: 0, allowed: 0, decided: 0))
        var actions = Actions()

        for request in snapshot.requests {
            let decider = deciders.parse(request.decidedBy)
            let byPerson = decider?.isOperator ?? false
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
            if deniedForMissingEvidence(request, decider: decider) { missingEvidence += 1 }
            if request.status == "allowed" {
                if byPerson {
                    approved.add(request.outcomeExit)
                    approvedBy.tier.add(request.tier.rawValue) { $0.add(request.outcomeExit) }
                    approvedBy.channel.add(request.channel ?? "-") { $0.add(request.outcomeExit) }
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
            perThread.add("\(request.host)/\(request.threadID)") { $0 += 1 }
            prompts.add(actions.normalized(tool: request.tool, command: request.command)) {
                $0.count += 1
                if decided { $0.decided += 1 }
                if request.status == "allowed" { $0.allowed += 1 }
            }
            if let first = request.firstVoteAt {
                let wait = Swift.max(0, first.timeIntervalSince(request.receivedAt))
                overall.append(wait)
                waits.tier.add(request.tier.rawValue) { $0.append(wait) }
                waits.host.add(request.host.rawValue) { $0.append(wait) }
                waits.operator.add(request.firstVoter ?? "-") { $0.append(wait) }
                waits.channel.add(request.firstVoteChannel ?? "-") { $0.append(wait) }
            }
        }

        func groups(_ waits: Grouped<[Double]>) -> [Group] { waits.figures { Group(key: $0, summary: Summary($1)) } }
        let responseFigures = Response(
            overall: Summary(overall), byTier: groups(waits.tier), byHost: groups(waits.host),
            byOperator: groups(waits.operator), byChannel: groups(waits.channel),
            unanswered: queuedCount - overall.count, agentWait: agentWait)

        // Approval volume per thread.
        var runtimes: [String: Double] = [:]
        for thread in snapshot.threads {
            runtimes["\(thread.host)/\(thread.id)"] =
                Swift.max(60, thread.lastActivity.timeIntervalSince(thread.startedAt)) / 3600
        }
        let threadAsks = perThread.figures { thread, asks in
            ThreadAsks(
                thread: thread, asks: asks, runtimeHours: runtimes[thread],
                perHour: runtimes[thread].map { Double(asks) / $0 })
        }.sorted { ($0.asks, $1.thread) > ($1.asks, $0.thread) }
        let knownHours = threadAsks.compactMap(\.runtimeHours).reduce(0, +)
        let asksWithRuntime = threadAsks.filter { $0.runtimeHours != nil }.reduce(0) { $0 + $1.asks }
        let volume = Volume(
            asks: queuedCount, threads: threadAsks.count,
            perThread: threadAsks.isEmpty ? nil : Double(queuedCount) / Double(threadAsks.count),
            runtimeHours: knownHours,
            perHour: knownHours > 0 ? Double(asksWithRuntime) / knownHours : nil, top: Array(threadAsks.prefix(5)))

        let failures = Failures(
            overall: approved.rate("all"), byTier: approvedBy.tier.figures { $1.rate($0) },
            byChannel: approvedBy.channel.figures { $1.rate($0) }, policyAllowed: policyAllowed.rate("policy"))

        let rework = Self.rework(
            snapshot.requests, deciders: &deciders, files: snapshot.files, window: reworkWindow)

        func share(_ part: Int, _ whole: Int) -> Double? { whole == 0 ? nil : Double(part) / Double(whole) }
        let decisions = Decisions(
            decided: counts.decided, policy: counts.policy, person: counts.person, timeout: counts.timeout,
            host: counts.host, limit: counts.limit, policyShare: share(counts.policy, counts.decided),
            personShare: share(counts.person, counts.decided), denied: counts.denied,
            denialRate: share(counts.denied, counts.decided), queuedDecided: queuedDecided, expired: expired,
            expiryRate: share(expired, queuedDecided), deniedMissingEvidence: missingEvidence)

        let noisiest = prompts.figures { action, prompt in
            Prompt(
                action: action, count: prompt.count, allowed: prompt.allowed, decided: prompt.decided,
                approvalRate: share(prompt.allowed, prompt.decided))
        }.sorted { ($0.count, $1.action) > ($1.count, $0.action) }

        let marked = Set(snapshot.marks.map(\.number))
        var markedRequests: [Int64: (host: HostName, action: String)] = [:]
        if !marked.isEmpty {
            for request in snapshot.requests where marked.contains(request.number) {
                markedRequests[request.number] = (
                    request.host, actions.normalized(tool: request.tool, command: request.command)
                )
            }
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

    /// Accumulators by the value of one dimension (a tier, host, operator, channel, thread or
    /// action), reported sorted by that value: the one grouping every "by …" figure uses.
    struct Grouped<Accumulator> {
        private let empty: Accumulator
        private var byKey: [String: Accumulator] = [:]

        init(_ empty: Accumulator) { self.empty = empty }

        mutating func add(_ key: String, _ update: (inout Accumulator) -> Void) {
            let empty = self.empty
            update(&byKey[key, default: empty])
        }

        /// One figure per key, sorted by key.
        func figures<Figure>(_ figure: (String, Accumulator) -> Figure) -> [Figure] {
            byKey.sorted { $0.key < $1.key }.map { figure($0.key, $0.value) }
        }
    }

    /// Each distinct `decided_by` parsed once (100,000 requests carry a few dozen).
    struct Deciders {
        private var known: [String: DecidedBy?] = [:]

        mutating func parse(_ text: String?) -> DecidedBy? {
            guard let text else { return nil }
            if let parsed = known[text] { return parsed }
            let parsed = DecidedBy(parsing: text)
            known[text] = .some(parsed)
            return parsed
        }
    }

    /// Each distinct action normalized once (commands repeat).
    struct Actions {
        private struct Key: Hashable {
            var tool: String
            var command: String?
        }
        private var known: [Key: String] = [:]

        mutating func normalized(tool: String, command: String?) -> String {
            let key = Key(tool: tool, command: command)
            if let action = known[key] { return action }
            let action = ReviewReport.normalizedAction(tool: tool, command: command)
            known[key] = action
            return action
        }
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
    /// itself did not deny, no limit did, and evidence was missing. `decider`: the request's
    /// `decidedBy`, parsed.
    static func deniedForMissingEvidence(_ request: AnalyticsRequest, decider: DecidedBy?) -> Bool {
        guard request.status == "denied", request.channel == "policy", request.missingEvidence,
            request.policyVerdict != .deny
        else { return false }
        if case .limit? = decider { return false }
        return true
    }

    /// The threads the rework measure follows: each thread where a person approved a request from
    /// `mobile`, as its requests (indices into `all`, by number) created from the first such
    /// approval on; and those approvals (in `all`'s order) as a thread and a position in it.
    struct ReworkThreads {
        var mobileApproved = 0
        var threads: [[Int]] = []
        var approvals: [(thread: Int, position: Int)] = []
    }

    static func reworkThreads(_ all: [AnalyticsRequest], deciders: inout Deciders) -> ReworkThreads {
        struct Key: Hashable {
            var host: HostName
            var thread: ThreadID
        }
        var approvals: [Int] = []
        var starts: [Key: Date] = [:]
        for index in all.indices where all[index].status == "allowed" && all[index].channel == "mobile" {
            let request = all[index]
            guard deciders.parse(request.decidedBy)?.isOperator ?? false else { continue }
            approvals.append(index)
            let key = Key(host: request.host, thread: request.threadID)
            if let start = starts[key], start <= request.createdAt { continue }
            starts[key] = request.createdAt
        }
        var result = ReworkThreads(mobileApproved: approvals.count)
        guard !approvals.isEmpty else { return result }
        var numbering: [Key: Int] = [:]
        for index in all.indices {
            let key = Key(host: all[index].host, thread: all[index].threadID)
            guard let start = starts[key], all[index].createdAt >= start else { continue }
            if let thread = numbering[key] {
                result.threads[thread].append(index)
            } else {
                numbering[key] = result.threads.count
                result.threads.append([index])
            }
        }
        var positions: [Int: (thread: Int, position: Int)] = [:]
        let approved = Set(approvals)
        for thread in result.threads.indices {
            result.threads[thread].sort { all[$0].number < all[$1].number }
            for (position, index) in result.threads[thread].enumerated() where approved.contains(index) {
                positions[index] = (thread, position)
            }
        }
        result.approvals = approvals.compactMap { positions[$0] }
        return result
    }

    /// The requests whose files the rework measure over `requests` reads (README "Review
    /// analytics"): each `mobile` approval, and the later requests of its thread up to the first
    /// one created after `window`, which still tells what the one before it changed.
    public static func reworkReads(_ requests: [AnalyticsRequest], window: TimeInterval) -> [Int64] {
        var deciders = Deciders()
        let followed = reworkThreads(requests, deciders: &deciders)
        var wanted = Set<Int>()
        for (thread, position) in followed.approvals {
            let thread = followed.threads[thread]
            let approval = requests[thread[position]]
            let approvedAt = approval.decidedAt ?? approval.createdAt
            wanted.insert(thread[position])
            for later in thread[(position + 1)...] {
                wanted.insert(later)
                guard requests[later].createdAt.timeIntervalSince(approvedAt) <= window else { break }
            }
        }
        return wanted.map { requests[$0].number }.sorted()
    }

    /// Rework after `mobile` approvals (README "Review analytics"): the files an action changed are
    /// the paths its tool writes plus the files that became changed by the thread's next request;
    /// an approved action is reworked when a later allowed request of the same thread, created
    /// within `window` of the approval, changed one of the same files. A request missing from
    /// `files` changed nothing known.
    static func rework(
        _ all: [AnalyticsRequest], deciders: inout Deciders, files: [Int64: AnalyticsFiles], window: TimeInterval
    ) -> Rework {
        let followed = reworkThreads(all, deciders: &deciders)
        // File names as small integers, each file set a sorted array of them.
        var names: [String: Int] = [:]
        func ids(_ paths: some Sequence<String>) -> [Int] {
            var result: [Int] = []
            for path in paths {
                if let id = names[path] {
                    result.append(id)
                } else {
                    names[path] = names.count
                    result.append(names.count - 1)
                }
            }
            return Array(Set(result)).sorted()
        }
        func relative(_ path: String, _ repo: String?) -> String {
            if let repo, !repo.isEmpty {
                let root = repo.hasSuffix("/") ? repo : repo + "/"
                if path.hasPrefix(root) { return String(path.dropFirst(root.count)) }
            }
            return path
        }
        // A request's own files: the paths it writes (relative) and its repository's changed files.
        var own: [Int: (paths: [Int], changed: [Int])] = [:]
        func named(_ index: Int) -> (paths: [Int], changed: [Int])? {
            if let known = own[index] { return known }
            guard let found = files[all[index].number] else { return nil }
            let result = (ids(found.paths.map { relative($0, found.repo) }), ids(found.changedFiles))
            own[index] = result
            return result
        }
        // The files the thread's request at `position` changed (memoized: windows overlap).
        var memo: [Int: [Int]] = [:]
        func changed(_ thread: [Int], _ position: Int) -> [Int] {
            let index = thread[position]
            if let known = memo[index] { return known }
            guard let mine = named(index) else { return [] }
            var result = mine.paths
            if position + 1 < thread.count, let next = named(thread[position + 1]) {
                result = Sorted.union(result, Sorted.subtracting(next.changed, mine.changed))
            }
            memo[index] = result
            return result
        }
        var withFiles = 0
        var reworked: [Int64] = []
        for (thread, position) in followed.approvals {
            let thread = followed.threads[thread]
            let request = all[thread[position]]
            let mine = changed(thread, position)
            guard !mine.isEmpty else { continue }
            withFiles += 1
            let approvedAt = request.decidedAt ?? request.createdAt
            for later in (position + 1)..<thread.count {
                let other = all[thread[later]]
                guard other.createdAt.timeIntervalSince(approvedAt) <= window else { break }
                if other.status == "allowed", Sorted.intersect(changed(thread, later), mine) {
                    reworked.append(request.number)
                    break
                }
            }
        }
        return Rework(
            windowHours: window / 3600, mobileApproved: followed.mobileApproved, withFiles: withFiles,
            reworked: reworked.count, rate: withFiles == 0 ? nil : Double(reworked.count) / Double(withFiles),
            requests: reworked)
    }

    /// Set operations on sorted arrays of distinct integers.
    enum Sorted {
        static func union(_ a: [Int], _ b: [Int]) -> [Int] {
            guard !a.isEmpty else { return b }
            guard !b.isEmpty else { return a }
            return merge(a, b) { inA, inB in inA || inB }
        }

        static func subtracting(_ a: [Int], _ b: [Int]) -> [Int] {
            guard !a.isEmpty, !b.isEmpty else { return a }
            return merge(a, b) { inA, inB in inA && !inB }
        }

        static func intersect(_ a: [Int], _ b: [Int]) -> Bool {
            var i = 0
            var j = 0
            while i < a.count, j < b.count {
                if a[i] == b[j] { return true }
                if a[i] < b[j] { i += 1 } else { j += 1 }
            }
            return false
        }

        /// The values of `a` and `b` for which `keep(in a, in b)` holds, sorted.
        private static func merge(_ a: [Int], _ b: [Int], keep: (Bool, Bool) -> Bool) -> [Int] {
            var result: [Int] = []
            var i = 0
            var j = 0
            while i < a.count || j < b.count {
                let value: Int
                let inA: Bool
                let inB: Bool
                if j == b.count || (i < a.count && a[i] < b[j]) {
                    (value, inA, inB) = (a[i], true, false)
                    i += 1
                } else if i == a.count || b[j] < a[i] {
                    (value, inA, inB) = (b[j], false, true)
                    j += 1
                } else {
                    (value, inA, inB) = (a[i], true, true)
                    i += 1
                    j += 1
                }
                if keep(inA, inB) { result.append(value) }
            }
            return result
        }
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
