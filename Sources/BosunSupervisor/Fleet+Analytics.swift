import BosunConfig
public import BosunCore
public import BosunPolicy
import BosunStore
public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `policy replay` found: the changes, and how many stored requests it looked at.
public struct ReplayReport: Sendable, Equatable {
    public var replayed: Int
    /// Requests the supervisor never decided (a host answered alone): not replayed.
    public var skipped: Int
    public var changes: [PolicyReplay.Change]
}

/// Review analytics over the store: `stats`, `policy suggest|replay`, `mark`, `export evalset`.
extension Fleet {
    /// The configured hosts whose labels include every `key=value` of `labels`.
    public func hosts(labelled labels: [String: String]) -> [HostName] {
        config.hosts.filter { host in labels.allSatisfy { host.labels[$0.key] == $0.value } }.map { HostName($0.name) }
            .sorted()
    }

    /// Every review measure over the requests `query` selects, as of `now`.
    public func reviewReport(_ query: AnalyticsQuery, now: Date = Date(), reworkWindow: TimeInterval = 24 * 3600)
        async throws(FleetError) -> ReviewReport
    {
        try await controlCall { () async throws(StoreError) in
            let snapshot = try await store.analytics(
                query, filesOf: { ReviewReport.reworkReads($0, window: reworkWindow) })
            return ReviewReport.compute(snapshot, since: query.since, now: now, reworkWindow: reworkWindow)
        }
    }

    /// Whole requests with votes, outcome and marks (for the evaluation set).
    public func analyticsRecords(_ query: AnalyticsQuery, queuedOrMarked: Bool = false) async throws(FleetError)
        -> [AnalyticsRecord]
    {
        try await controlCall { () async throws(StoreError) in
            try await store.analyticsRecords(query, queuedOrMarked: queuedOrMarked)
        }
    }

    /// Marks request `number` as an incident or near miss (audited `mark`); nil when there is no such request.
    public func mark(number: Int64, kind: RequestMark.Kind, text: String, by actor: Operator, now: Date = Date())
        async throws(FleetError) -> RequestMark?
    {
        try await controlCall { () async throws(StoreError) in
            try await store.mark(
                RequestMark(
                    number: number, kind: kind, text: text, operator: actor.name, channel: actor.channel, at: now),
                key: actor.keyFingerprint, source: actor.source)
        }
    }

    /// Allow rules proposed for asks asked at least `minCount` times since `since` and always approved.
    public func suggestPolicy(since: Date?, minCount: Int) async throws(FleetError) -> (
        suggestions: [PolicySuggestion], skipped: [SkippedSuggestion]
    ) {
        try await controlCall { () async throws(StoreError) in
            let records = try await store.analyticsRecords(AnalyticsQuery(since: since), queuedOrMarked: true)
            let labels = labels()
            let asked: [AskedRequest] = records.compactMap { item in
                let record = item.record
                guard item.queued else { return nil }
                let byPerson = record.decision?.decidedBy.isOperator ?? false
                let outcome: AskedRequest.Outcome =
                    switch record.status {
                    case .allowed: byPerson ? .approved : .refused
                    case .denied, .expired, .cancelled: .refused
                    case .pending: .pending
                    }
                let e = record.request.evidence
                return AskedRequest(
                    number: record.number, tool: e.tool, command: record.request.truncated ? nil : e.command,
                    agent: e.agent,
                    labels: labels[record.host] ?? [:], repo: e.repo, cwd: e.cwd, tier: record.policy.tier,
                    outcome: outcome
                )
            }
            let policy = policy
            return await offThePool { PolicySuggester.suggest(asked, policy: policy, minCount: max(1, minCount)) }
        }
    }

    /// The candidate policy decided over the stored requests since `since`, against what happened.
    public func replay(_ candidate: Policy, since: Date?) async throws(FleetError) -> ReplayReport {
        try await controlCall { () async throws(StoreError) in
            let records = try await store.analyticsRecords(AnalyticsQuery(since: since))
            let labels = labels()
            var items: [PolicyReplay.Item] = []
            var skipped = 0
            for item in records {
                let record = item.record
                let decider = record.decision?.decidedBy
                let route: PolicyReplay.Route
                if record.channel == "policy" {
                    if case .limit? = decider {
                        route = .ask
                    } else {
                        route = record.status == .allowed ? .allow : .deny
                    }
                } else if item.queued {
                    route = .ask
                } else {
                    skipped += 1
                    continue
                }
                let ending: PolicyReplay.Ending =
                    switch (record.status, decider?.isOperator ?? false, record.channel == "policy") {
                    case (.allowed, _, true): .policyAllowed
                    case (.denied, _, true): route == .ask ? .otherwise : .policyDenied
                    case (.allowed, true, _): .personApproved
                    case (.denied, true, _): .personDenied
                    case (.expired, _, _): .expired
                    default: .otherwise
                    }
                items.append(
                    PolicyReplay.Item(
                        number: record.number, host: record.host.rawValue, evidence: record.request.evidence,
                        labels: labels[record.host] ?? [:], truncated: record.request.truncated, route: route,
                        ending: ending))
            }
            let replayed = items
            let changes = await offThePool { PolicyReplay.changes(replayed, candidate: candidate) }
            return ReplayReport(replayed: items.count, skipped: skipped, changes: changes)
        }
    }

    /// Loads a candidate policy: a `.toml` file, or a directory of them (as `policies/`). The file
    /// is read by bosund: callers restrict who may name one.
    public func loadPolicy(at path: String) async -> Result<Policy, VoteRefusal> {
        let loaded: Result<Policy, ConfigError> = await offThePool {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                return .failure(ConfigError(file: path, key: nil, message: "no such file or directory"))
            }
            do throws(ConfigError) {
                if isDirectory.boolValue { return .success(try Policy.load(directory: path)) }
                return .success(try Policy.parse(try Self.readPolicyFile(path), file: path))
            } catch {
                return .failure(error)
            }
        }
        return loaded.mapError { VoteRefusal($0.description) }
    }

    static func readPolicyFile(_ path: String) throws(ConfigError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, key: nil, message: "cannot read the file")
        }
        guard data.count <= 4 << 20 else { throw ConfigError(file: path, key: nil, message: "larger than 4 MiB") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, key: nil, message: "not UTF-8 text")
        }
        return text
    }

    /// Writes `text` as the new policy file `path` after it passes the policy part of `bosun check`
    /// together with the policy files in force (every rule's examples, ids unique across files);
    /// never overwrites a file. Audited `policy_write` with the file's SHA-256. Returns the digest.
    public func writePolicyFile(_ path: String, text: String, by actor: Operator) async throws(FleetError)
        -> Result<String, VoteRefusal>
    {
        try await controlCall { () async throws(StoreError) in
            guard path.hasPrefix("/"), path.hasSuffix(".toml"), !path.utf8.contains(0) else {
                return .failure(VoteRefusal("--write needs an absolute path ending in .toml (bosund writes it)"))
            }
            let directory = (config.directory as NSString).appendingPathComponent("policies")
            let checked = await offThePool { () -> Result<Int, ConfigError> in
                do throws(ConfigError) {
                    var files: [(text: String, file: String)] = []
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                    for name in names.sorted() where name.hasSuffix(".toml") {
                        let file = (directory as NSString).appendingPathComponent(name)
                        if file == path { continue }
                        files.append((try Self.readPolicyFile(file), file))
                    }
                    _ = try Policy.parse(text, file: path)
                    let merged = try Policy.parse(files: files + [(text, path)])
                    return .success(merged.rules.count)
                } catch {
                    return .failure(error)
                }
            }
            if case .failure(let error) = checked {
                return .failure(VoteRefusal("not written: the file does not pass bosun check: \(error)"))
            }
            let data = Data(text.utf8)
            let written = await offThePool { () -> String? in
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
                guard fd >= 0 else { return String(cString: strerror(errno)) }
                defer { close(fd) }
                let ok = data.withUnsafeBytes { buffer -> Bool in
                    var offset = 0
                    while offset < buffer.count {
                        guard let base = buffer.baseAddress else { return false }
                        let n = write(fd, base + offset, buffer.count - offset)
                        if n < 0 {
                            if errno == EINTR { continue }
                            return false
                        }
                        offset += n
                    }
                    return fsync(fd) == 0
                }
                return ok ? nil : String(cString: strerror(errno))
            }
            if let written {
                return .failure(VoteRefusal("cannot write \(path): \(written) (an existing file is never overwritten)"))
            }
            let digest = SHA256.hex(data)
            try await store.audit(
                actor: "operator:\(actor.name)", channel: actor.channel, host: "-", kind: "policy_write",
                details: actor.detailsForAudit.merging([
                    "file": .string(path), "sha256": .string(digest), "bytes": .int(Int64(data.count)),
                ]) { $1 })
            return .success(digest)
        }
    }
}
