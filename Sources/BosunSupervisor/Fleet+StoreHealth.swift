public import BosunCore
import BosunStore
import Foundation
import Logging

extension LinkEvent {
    /// Whether handling the event writes to the store (so its success shows the store works).
    var writesStore: Bool {
        switch self {
        case .message(let envelope, _): if case .pong = envelope.message { false } else { true }
        case .state, .measured, .protocolError: false
        }
    }
}

extension Fleet {
    /// Whether `host`'s link is up (a decision sent now reaches its agent only then).
    public func linkIsUp(_ host: HostName) -> Bool {
        live[host].map { Self.isUp($0.state) } ?? false
    }

    /// A write failed (the state directory's disk is full, the database is read-only…): logged
    /// once when it starts and every hundredth time after, and shown in `hosts` until a write works.
    func storeFailed(_ error: any Error, host: HostName) {
        let message = Self.storeProblemText(error)
        if var problem = storeProblem {
            problem.failures += 1
            problem.message = message
            storeProblem = problem
            guard problem.failures % 100 == 0 else { return }
        } else {
            storeProblem = (message, Date(), 1)
        }
        logger.error(
            "store update failed",
            metadata: [
                "host.name": "\(host)", "error": "\(error)", "failures": "\(storeProblem?.failures ?? 1)",
            ])
    }

    func storeSucceeded() {
        guard let problem = storeProblem else { return }
        storeProblem = nil
        logger.notice(
            "store writable again",
            metadata: ["failures": "\(problem.failures)", "since": "\(Timestamp.format(problem.since))"])
    }

    /// A request could not be stored: unless the store already holds it (a resend of a request
    /// still being decided), its agent is told deny at once — never left waiting for its deadline.
    /// The answer is not stored (the store is what fails); the host's spool keeps the request and
    /// its answer, and bosund's log the refusal.
    func answerUnstored(_ request: ApprovalRequest, host: HostName, _ error: any Error) async {
        do {
            guard try await store.request(host: host, id: request.id) == nil else { return }
        } catch {
            return  // cannot even read: the hook's own deadline answers
        }
        let evaluation = evaluate(request, host: host).result
        let decision = Decision.refused(
            by: .store, request: request.id, tier: evaluation.tier, rule: evaluation.rule,
            reason:
                "Bosun: the supervisor cannot store requests (\(Self.storeProblemText(error))); denied at once. Retry later.",
            at: Date())
        if unstoredAnswers.count >= 10_000 { unstoredAnswers.removeAll() }
        unstoredAnswers["\(host)\u{0}\(request.id)"] = decision
        links[host]?.send(.decision(decision))
    }

    /// A short, operator-facing reason for a store failure.
    static func storeProblemText(_ error: any Error) -> String {
        if let error = error as? StoreError {
            if error.isDiskFull { return "disk full" }
            if error.isReadOnly { return "database is read-only" }
            if error.isIOError { return "I/O error" }
        }
        let text = "\(error)"
        if text.contains("SQLITE_FULL") || text.localizedCaseInsensitiveContains("disk is full") {
            return "disk full"
        }
        if text.contains("SQLITE_READONLY") { return "database is read-only" }
        if text.contains("SQLITE_IOERR") { return "I/O error" }
        return String(text.prefix(120))
    }
}
