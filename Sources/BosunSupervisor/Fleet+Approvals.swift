import BosunConfig
import BosunCore
import BosunPolicy
import BosunStore
import Foundation
import Logging

extension Fleet {
    /// The policy as JSON text for hosts' local decisions.
    var policySnapshot: String? {
        (try? JSONEncoder().encode(policy)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Evaluates a request against the policy and the tier's required evidence.
    func evaluate(_ request: ApprovalRequest, host: String) -> (result: PolicyResult, settings: TierSettings) {
        let evaluation = policy.evaluate(PolicyInput(evidence: request.evidence, labels: labels()[host] ?? [:]))
        let settings = policy.settings(for: evaluation.tier)
        return (policyResult(evaluation, missing: request.evidence.missing(settings.require)), settings)
    }

    func policyResult(_ evaluation: Evaluation, missing: [String]) -> PolicyResult {
        PolicyResult(
            tier: evaluation.tier, verdict: evaluation.verdict, rule: evaluation.ruleID, ruleSource: evaluation.source,
            reason: evaluation.reason, missingEvidence: missing)
    }

    /// A request arrived from a host: decide by ``DecisionRule`` (the same rule a host's snapshot
    /// uses), store, and deliver the decision now or queue the request for a person.
    func receive(_ request: ApprovalRequest, from host: String) async throws(StoreError) {
        let now = Date()
        let evaluation = policy.evaluate(PolicyInput(evidence: request.evidence, labels: labels()[host] ?? [:]))
        let waiting =
            DecisionRule.needsPendingCount(verdict: evaluation.verdict, truncated: request.truncated)
            ? try await store.pendingCount(host: host) : 0
        let ruling = DecisionRule.decide(
            evaluation: evaluation, policy: policy, evidence: request.evidence,
            context: .supervisor(request, pending: waiting, maxPending: config.links.maxPendingRequests))
        let result = policyResult(evaluation, missing: ruling.missingEvidence)
        let settings = ruling.settings
        // A copy of a request whose agent was already told deny while the store failed keeps that answer.
        let unstored = unstoredAnswers[host + "\u{0}" + request.id]
        let immediate: Decision? =
            unstored
            ?? ruling.decision(request: request.id, at: now)
        let window = max(0, min(settings.ttl, request.deadlineAt.timeIntervalSince(request.createdAt)))
        let change = try await store.receiveRequest(
            host: host, request, policy: result, expiresAt: now.addingTimeInterval(window), immediate: immediate,
            now: now)
        if unstored != nil { unstoredAnswers[host + "\u{0}" + request.id] = nil }
        deliver(change)
        if change.isNew && change.record.status == .pending {
            publish(
                host, "request",
                "#\(change.record.number) \(result.tier.rawValue) waits for a person: \(request.evidence.command ?? request.evidence.tool)"
            )
            logger.notice(
                "request queued",
                metadata: [
                    "host.name": "\(host)", "request.number": "\(change.record.number)", "tier": "\(result.tier)",
                ])
            scheduleTimeouts()
            notifier?.ask(change.record)
        }
    }

    func deliver(_ change: RequestChange) {
        guard let delivery = change.delivery else { return }
        let record = change.record
        publish(
            record.host, "decision",
            "#\(record.number) \(record.status.rawValue) by \(delivery.decision.decidedBy): \(record.request.evidence.command ?? record.request.evidence.tool)"
        )
        links[change.record.host]?.send(.decision(delivery.decision), seq: UInt64(clamping: delivery.id))
    }

    // MARK: Timeouts

    /// Sleeps until the earliest pending request's timeout, times out what is due, and repeats.
    func scheduleTimeouts() {
        timeoutTask?.cancel()
        timeoutTask = Task { [weak self] in
            guard let self else { return }
            var failures = 0
            while !Task.isCancelled {
                guard let next = try? await self.store.nextTimeout() else { return }
                let wait = next.timeIntervalSinceNow
                if wait > 0 {
                    do {
                        try await Task.sleep(for: .milliseconds(Int64(min(wait, 3600) * 1000) + 1))
                    } catch {
                        return
                    }
                }
                // A store that refuses writes (disk full) is retried after a pause, never in a spin.
                if await !self.timeOutDue() {
                    failures += 1
                    do {
                        try await Task.sleep(for: .milliseconds(min(30_000, 250 << min(failures, 7))))
                    } catch {
                        return
                    }
                } else {
                    failures = 0
                }
            }
        }
    }

    /// Times out what is due (verdict `expired`); false when the store failed.
    @discardableResult
    func timeOutDue() async -> Bool {
        do {
            for change in try await store.timeOutDue() {
                logger.notice(
                    "request expired",
                    metadata: ["host.name": "\(change.record.host)", "request.number": "\(change.record.number)"])
                deliver(change)
            }
            return true
        } catch {
            logger.error("timing out requests failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    // MARK: Control API

    public func requests(status: [RequestStatus] = []) async throws(FleetError) -> [RequestRecord] {
        try await controlCall { () async throws(StoreError) in
            try await store.requests(status: status)
        }
    }

    public func request(number: Int64) async throws(FleetError) -> (RequestRecord, [Review])? {
        try await controlCall { () async throws(StoreError) in
            guard let record = try await store.request(number: number) else { return nil }
            return (record, try await store.reviews(number: number))
        }
    }

    /// An operator's vote. Approvals need a channel the tier allows, a note where required, and a
    /// quorum of distinct approvers; one deny decides.
    public func vote(
        number: Int64, approve: Bool, note: String?, by actor: Operator
    ) async throws(FleetError) -> Result<RequestRecord, VoteRefusal> {
        try await controlCall { () async throws(StoreError) in
            guard let record = try await store.request(number: number) else {
                return .failure(VoteRefusal("no request #\(number)"))
            }
            let settings = policy.settings(for: record.policy.tier)
            if approve {
                // What this operator looked at must still be what they approve.
                if let seen = try await store.viewDigest(number: number, operator: actor.name),
                    seen != Self.evidenceDigest(record.request)
                {
                    return .failure(
                        VoteRefusal(
                            "the evidence of #\(number) changed since \(actor.name) last looked at it (action, cwd, HEAD or changed files); look again with 'show \(number)' before approving"
                        ))
                }
                guard settings.approveFrom.contains(actor.channel) else {
                    return .failure(
                        VoteRefusal(
                            "a \(record.policy.tier.rawValue)-tier request may be approved from \(settings.approveFrom.joined(separator: ", ")), not from channel '\(actor.channel)'"
                        ))
                }
                if settings.noteRequired && (note ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                    return .failure(
                        VoteRefusal(
                            "a \(record.policy.tier.rawValue)-tier approval needs a note: approve #\(number) <note>"))
                }
            }
            let review = Review(
                operator: actor.name, channel: actor.channel, vote: approve ? .approve : .deny, note: note, at: Date(),
                keyFingerprint: actor.keyFingerprint, source: actor.source)
            let quorum = max(1, settings.approvers)
            let result = try await store.vote(number: number, review: review) { record, reviews in
                if let denial = reviews.last(where: { $0.vote == .deny }) {
                    return .byOperators(
                        [denial.operator], .deny, request: record.request.id, tier: record.policy.tier,
                        rule: record.policy.rule,
                        reason: "Denied by \(denial.operator): \(denial.note ?? "no reason given")", at: denial.at)
                }
                let approvers = Set(reviews.filter { $0.vote == .approve }.map(\.operator))
                guard approvers.count >= quorum else { return nil }
                let names = approvers.sorted()
                return .byOperators(
                    names, .allow, request: record.request.id, tier: record.policy.tier, rule: record.policy.rule,
                    reason: "Approved by \(names.joined(separator: ", "))" + (note.map { ": \($0)" } ?? ""),
                    at: Date())
            }
            switch result {
            case .success(let change):
                deliver(change)
                return .success(change.record)
            case .failure(let refusal):
                return .failure(refusal)
            }
        }
    }

    /// `approve`'s view check: the digest of what a reviewer sees of a request's action and
    /// state (command or tool and paths, cwd, HEAD, changed files).
    public static func evidenceDigest(_ request: ApprovalRequest) -> String {
        let e = request.evidence
        let parts: [String] = [
            e.tool, e.command ?? "", e.paths.joined(separator: "\u{0}"), e.cwd, e.head ?? "",
            e.changedFiles.joined(separator: "\u{0}"), request.actionSHA256 ?? "",
        ]
        return SHA256.hex(parts.joined(separator: "\u{1}"))
    }

    /// `show N` by an operator: remember what they saw (viewers cannot vote, so nothing is kept).
    public func recordView(_ record: RequestRecord, by actor: Operator) async throws(FleetError) {
        try await controlCall { () async throws(StoreError) in
            guard actor.role >= .operator, record.status == .pending else { return }
            try await store.recordView(
                number: record.number, operator: actor.name, digest: Self.evidenceDigest(record.request))
        }
    }

    /// An operator takes back their own vote on a request that still waits.
    public func withdrawVote(number: Int64, by actor: Operator) async throws(FleetError) -> Result<
        RequestRecord, VoteRefusal
    > {
        try await controlCall { () async throws(StoreError) in
            let result = try await store.withdrawVote(
                number: number, operator: actor.name, channel: actor.channel, key: actor.keyFingerprint,
                source: actor.source)
            if case .success(let record) = result {
                publish(record.host, "vote", "#\(number): \(actor.name) withdrew their vote")
            }
            return result
        }
    }
}
