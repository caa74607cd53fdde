import BosunConfig
public import BosunCore
import BosunPolicy
package import BosunStore
import Foundation
import Logging

extension Fleet {
    /// The policy as JSON text for hosts' local decisions.
    var policySnapshot: String? {
        (try? JSONEncoder().encode(policy)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Evaluates a request against the policy and the tier's required evidence.
    func evaluate(_ request: ApprovalRequest, host: HostName) -> (result: PolicyResult, settings: TierSettings) {
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
    package func receive(_ request: ApprovalRequest, from host: HostName) async throws(StoreError) {
        try await store([LinkRequest(host: host, seq: 0, request: request)], admitting: false)
    }

    /// Requests the links reported (a batch: see `LinkEventQueue`), stored in one transaction,
    /// then each decision delivered and each request acknowledged — never before the commit, so a
    /// crash loses no request the host was told is stored and delivers no decision that is not.
    /// When the batch cannot be stored, each request is tried on its own, and one that still
    /// fails is answered at once (deny) and left for its host to send again.
    func receive(_ batch: [LinkRequest]) async {
        let known = batch.filter { live[$0.host] != nil }
        guard !known.isEmpty else { return }
        do {
            try await store(known, admitting: true)
            storeSucceeded()
        } catch {
            guard known.count == 1 else {
                for item in known { await receive([item]) }
                return
            }
            // The store refuses writes (disk full…): answered at once, never left to the deadline.
            await answerUnstored(known[0].request, host: known[0].host, error)
            storeFailed(error, host: known[0].host)
        }
    }

    /// Decides and stores `batch` (within each host's storage bounds when `admitting`), then
    /// delivers, publishes and acknowledges what was stored, in order.
    private func store(_ batch: [LinkRequest], admitting: Bool) async throws(StoreError) {
        let now = Date()
        let policy = self.policy
        let maxPending = config.links.maxPendingRequests
        var items: [IncomingRequest] = []
        items.reserveCapacity(batch.count)
        for item in batch {
            live[item.host]?.record.lastSeen = now
            let request = item.request
            let evaluation = policy.evaluate(
                PolicyInput(evidence: request.evidence, labels: hostLabels[item.host] ?? [:]))
            // A copy of a request whose agent was already told deny while the store failed keeps that answer.
            let unstored = unstoredAnswers.isEmpty ? nil : unstoredAnswers["\(item.host)\u{0}\(request.id)"]
            items.append(
                IncomingRequest(
                    host: item.host, request: request,
                    admission: admitting ? .request(id: request.id, bytes: Self.size(request)) : nil,
                    needsPendingCount: DecisionRule.needsPendingCount(
                        verdict: evaluation.verdict, truncated: request.truncated)
                ) { pending in
                    let ruling = DecisionRule.decide(
                        evaluation: evaluation, policy: policy, evidence: request.evidence,
                        context: .supervisor(request, pending: pending, maxPending: maxPending))
                    let immediate: Decision? = unstored ?? ruling.decision(request: request.id, at: now)
                    let window = max(
                        0, min(ruling.settings.ttl, request.deadlineAt.timeIntervalSince(request.createdAt)))
                    return RequestRuling(
                        policy: PolicyResult(
                            tier: evaluation.tier, verdict: evaluation.verdict, rule: evaluation.ruleID,
                            ruleSource: evaluation.source, reason: evaluation.reason,
                            missingEvidence: ruling.missingEvidence),
                        expiresAt: now.addingTimeInterval(window), immediate: immediate)
                })
        }
        let receipts = try await store.receiveRequests(items, limits: admitting ? limits : nil, now: now)
        largestRequestBatch = max(largestRequestBatch, items.count)
        var queued = false
        for (item, receipt) in zip(batch, receipts) {
            let host = item.host
            switch receipt {
            case .refused(let reason):
                // Not stored, but answered: the agent is told deny at once instead of waiting.
                if var live = live[host] {
                    recordDrop(&live, name: host, reason: reason, what: "request")
                    self.live[host] = live
                }
                links[host]?.send(
                    .decision(
                        .refused(
                            by: .storage, request: item.request.id,
                            reason: "Bosun: this host has too much stored at the supervisor (\(reason)); denied.",
                            at: Date())))
            case .stored(let change):
                if !unstoredAnswers.isEmpty { unstoredAnswers["\(host)\u{0}\(item.request.id)"] = nil }
                deliver(change)
                if change.isNew && change.record.status == .pending {
                    let record = change.record
                    publish(
                        host, "request",
                        "#\(record.number) \(record.policy.tier.rawValue) waits for a person: \(record.request.evidence.command ?? record.request.evidence.tool)"
                    )
                    logger.notice(
                        "request queued",
                        metadata: [
                            "host.name": "\(host)", "request.number": "\(record.number)",
                            "tier": "\(record.policy.tier)",
                        ])
                    queued = true
                    notifier?.ask(record)
                }
            }
            if item.seq > 0 { links[host]?.send(.ack(item.seq)) }
        }
        if queued { scheduleTimeouts() }
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
            let result = try await store.withdrawVote(number: number, by: actor)
            if case .success(let record) = result {
                publish(record.host, "vote", "#\(number): \(actor.name) withdrew their vote")
            }
            return result
        }
    }
}
