import BosunCore
import BosunTestSupport
import Foundation
import Testing

/// `Decision.decidedBy` is typed (issue 9); the string on the wire, in SQLite and in the audit chain
/// must stay what it was, for what Bosun writes and for anything a peer or an edited row holds.
@Suite struct DecidedByTests {
    static let at = Date(timeIntervalSince1970: 1_700_000_000)

    /// Each named constructor: the verdict, tier, rule and `decided_by` string the call sites spelled
    /// by hand before.
    @Test func eachDeciderWritesTheStringItAlwaysWrote() {
        let cases: [(Decision, DecisionVerdict, Tier, String?, String)] = [
            (
                .byOperators(["alice"], .deny, request: "r", tier: .commit, rule: "push", reason: "x", at: Self.at),
                .deny, .commit, "push", "operator:alice"
            ),
            (
                .byOperators(
                    ["alice", "bob"], .allow, request: "r", tier: .commit, rule: nil, reason: "x", at: Self.at),
                .allow, .commit, nil, "operator:alice, bob"
            ),
            (
                .timedOut(request: "r", tier: .expand, rule: "npm", reason: "x", at: Self.at), .expired, .expand, "npm",
                "timeout"
            ),
            (.refused(by: .storage, request: "r", reason: "x", at: Self.at), .deny, .expand, nil, "limit:storage"),
            (
                .refused(by: .store, request: "r", tier: .continue, rule: "ls", reason: "x", at: Self.at), .deny,
                .continue, "ls", "limit:store"
            ),
            (.hostClaim(.deadline, request: "r", reason: "x", at: Self.at), .expired, .expand, nil, "host:deadline"),
            (
                .hostClaim(.agentGone, request: "r", reason: "x", at: Self.at), .expired, .expand, nil,
                "host:agent-gone"
            ),
            (
                .hostClaim(.unreachable, request: "r", reason: "x", at: Self.at), .deny, .expand, nil,
                "host:unreachable"
            ),
            (.hostClaim(.failure, request: "r", reason: "x", at: Self.at), .deny, .expand, nil, "host:failure"),
            (
                .hostClaim(.undeliverable, request: "r", reason: "x", at: Self.at), .deny, .expand, nil,
                "host:undeliverable"
            ),
            (
                .hostClaim(.truncated, request: "r", tier: .commit, rule: "push", reason: "x", at: Self.at), .deny,
                .commit, "push", "host:truncated"
            ),
            (
                .fromHost(
                    "h1", basis: "snapshot:ls", .allow, request: "r", tier: .continue, rule: "ls", reason: "x",
                    at: Self.at), .allow, .continue, "ls", "host:h1/snapshot:ls"
            ),
            (
                .decided(
                    .allow, by: .hostSnapshot(rule: "ls"), request: "r", tier: .continue, rule: "ls", reason: "x",
                    at: Self.at), .allow, .continue, "ls", "host-snapshot:ls"
            ),
        ]
        for (decision, verdict, tier, rule, by) in cases {
            #expect(decision.verdict == verdict, "\(by)")
            #expect(decision.tier == tier && decision.rule == rule, "\(by)")
            #expect(decision.decidedBy.encoded == by && decision.requestID == "r" && decision.decidedAt == Self.at)
        }
    }

    /// Any string decodes without trapping and encodes back byte for byte, on its own and inside a
    /// decision's JSON (what `audit verify` compares and a host may send).
    @Test func anyDecidedByStringSurvivesDecodingAndEncoding() throws {
        var texts = [
            "", "timeout", "timeout ", "policy:", "policy:a:b", "operator:", "operator:a, , b", "operator:a,b",
            "limit:nonsense", "limit:store", "host:", "host:/", "host:a/b/c", "host-snapshot:", "someone",
            "operator:alice\u{0}bob", "\u{202E}policy:x", "policy:\u{FFFF}",
            String(repeating: "operator:a, ", count: 500),
        ]
        var generator = SeededGenerator(state: 0xDEC1DE)
        let alphabet = Array("policy:operator:host-snapshot:limit:timeout/, \u{0}é")
        for _ in 0..<500 {
            texts.append(
                String(
                    (0..<Int.random(in: 0...24, using: &generator)).map { _ in
                        alphabet.randomElement(using: &generator) ?? "x"
                    }))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for text in texts {
            let decider = DecidedBy(encoded: text)
            #expect(decider.encoded == text)
            #expect(decider == DecidedBy(encoded: text))
            let json = try encoder.encode(
                [
                    "decided_by": text, "decided_at": "2023-11-14T22:13:20Z", "reason": "r", "request_id": "r1",
                    "tier": "expand", "verdict": "deny",
                ])
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let decision = try decoder.decode(Decision.self, from: json)
            #expect(decision.decidedBy.encoded == text)
            let reencoder = JSONEncoder()
            reencoder.outputFormatting = [.sortedKeys]
            reencoder.dateEncodingStrategy = .iso8601
            #expect(try reencoder.encode(decision) == json)
        }
        #expect(DecidedBy(encoded: "limit:nonsense") == .unrecognized("limit:nonsense"))
        #expect(DecidedBy(encoded: "policy:x") == .policy(rule: "x"))
        #expect(!DecidedBy(encoded: "someone").isOperator)
    }
}
