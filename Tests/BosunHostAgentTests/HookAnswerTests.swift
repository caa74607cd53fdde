import BosunHostAgent
import Foundation
import Testing

/// One expected answer: stdout exactly (empty or one JSON line), stderr, exit code.
struct AnswerCase: CustomTestStringConvertible, Sendable {
    let agent: HookAgent
    let event: String
    let outcome: HookOutcome
    let context: String?
    let stdout: String

    init(_ agent: HookAgent, _ event: String, _ outcome: HookOutcome, context: String? = nil, _ stdout: String) {
        self.agent = agent
        self.event = event
        self.outcome = outcome
        self.context = context
        self.stdout = stdout
    }

    var testDescription: String { "\(agent) \(event) \(outcome)\(context.map { " +context \($0)" } ?? "")" }
}

let timeoutText = "Bosun: no decision within 300 s (supervisor unreachable)"

let answerCases: [AnswerCase] = [
    // Claude PreToolUse
    AnswerCase(
        .claude, "PreToolUse", .allow(reason: "policy: read-only"),
        #"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow","permissionDecisionReason":"policy: read-only"}}"#
    ),
    AnswerCase(
        .claude, "PreToolUse", .allow(reason: nil),
        #"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow"}}"#),
    AnswerCase(
        .claude, "PreToolUse", .deny(reason: "operator alice: not on main/prod"),
        #"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"operator alice: not on main/prod"}}"#
    ),
    AnswerCase(
        .claude, "PreToolUse", .deny(reason: "  "),
        #"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"Bosun: denied"}}"#
    ),
    AnswerCase(
        .claude, "PreToolUse", .ask(reason: "needs a person"),
        #"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"ask","permissionDecisionReason":"needs a person"}}"#
    ),
    AnswerCase(
        .claude, "PreToolUse", .ask(reason: nil),
        #"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"ask"}}"#),
    AnswerCase(
        .claude, "PreToolUse", .timeout(reason: timeoutText),
        #"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"Bosun: no decision within 300 s (supervisor unreachable)"}}"#
    ),
    AnswerCase(.claude, "PreToolUse", .proceed, ""),
    AnswerCase(
        .claude, "PreToolUse", .proceed, context: "use the staging db",
        #"{"hookSpecificOutput":{"additionalContext":"use the staging db","hookEventName":"PreToolUse"}}"#),
    AnswerCase(
        .claude, "PreToolUse", .allow(reason: "ok"), context: "then stop",
        #"{"hookSpecificOutput":{"additionalContext":"then stop","hookEventName":"PreToolUse","permissionDecision":"allow","permissionDecisionReason":"ok"}}"#
    ),
    // Codex PreToolUse: allow and ask print nothing.
    AnswerCase(.codex, "PreToolUse", .allow(reason: "policy: read-only"), ""),
    AnswerCase(.codex, "PreToolUse", .allow(reason: nil), ""),
    AnswerCase(.codex, "PreToolUse", .ask(reason: "needs a person"), ""),
    AnswerCase(.codex, "PreToolUse", .proceed, ""),
    AnswerCase(
        .codex, "PreToolUse", .deny(reason: "no force pushes"),
        #"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"no force pushes"}}"#
    ),
    AnswerCase(
        .codex, "PreToolUse", .deny(reason: ""),
        #"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"Bosun: denied"}}"#
    ),
    AnswerCase(
        .codex, "PreToolUse", .timeout(reason: timeoutText),
        #"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"Bosun: no decision within 300 s (supervisor unreachable)"}}"#
    ),
    AnswerCase(
        .codex, "PreToolUse", .allow(reason: "ok"), context: "prefer rg over grep",
        #"{"hookSpecificOutput":{"additionalContext":"prefer rg over grep","hookEventName":"PreToolUse"}}"#),
    AnswerCase(
        .codex, "PreToolUse", .deny(reason: "no"), context: "ask me first",
        #"{"hookSpecificOutput":{"additionalContext":"ask me first","hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"no"}}"#
    ),
    // PermissionRequest, both agents.
    AnswerCase(
        .claude, "PermissionRequest", .allow(reason: "policy"),
        #"{"hookSpecificOutput":{"decision":{"behavior":"allow"},"hookEventName":"PermissionRequest"}}"#),
    AnswerCase(
        .codex, "PermissionRequest", .allow(reason: nil),
        #"{"hookSpecificOutput":{"decision":{"behavior":"allow"},"hookEventName":"PermissionRequest"}}"#),
    AnswerCase(
        .claude, "PermissionRequest", .deny(reason: "not during the freeze"),
        #"{"hookSpecificOutput":{"decision":{"behavior":"deny","message":"not during the freeze"},"hookEventName":"PermissionRequest"}}"#
    ),
    AnswerCase(
        .codex, "PermissionRequest", .deny(reason: "not during the freeze"),
        #"{"hookSpecificOutput":{"decision":{"behavior":"deny","message":"not during the freeze"},"hookEventName":"PermissionRequest"}}"#
    ),
    AnswerCase(
        .codex, "PermissionRequest", .timeout(reason: timeoutText),
        #"{"hookSpecificOutput":{"decision":{"behavior":"deny","message":"Bosun: no decision within 300 s (supervisor unreachable)"},"hookEventName":"PermissionRequest"}}"#
    ),
    AnswerCase(.claude, "PermissionRequest", .ask(reason: "yours"), ""),
    AnswerCase(.codex, "PermissionRequest", .ask(reason: nil), ""),
    AnswerCase(.claude, "PermissionRequest", .proceed, ""),
    AnswerCase(.codex, "PermissionRequest", .proceed, context: "not deliverable here", ""),
    // PostToolUse and UserPromptSubmit: steering as additionalContext.
    AnswerCase(.claude, "PostToolUse", .proceed, ""),
    AnswerCase(.codex, "PostToolUse", .proceed, ""),
    AnswerCase(
        .claude, "PostToolUse", .proceed, context: "tests are flaky, rerun once",
        #"{"hookSpecificOutput":{"additionalContext":"tests are flaky, rerun once","hookEventName":"PostToolUse"}}"#
    ),
    AnswerCase(
        .codex, "PostToolUse", .proceed, context: "tests are flaky, rerun once",
        #"{"hookSpecificOutput":{"additionalContext":"tests are flaky, rerun once","hookEventName":"PostToolUse"}}"#
    ),
    AnswerCase(
        .claude, "UserPromptSubmit", .proceed, context: "the operator says: keep it small",
        #"{"hookSpecificOutput":{"additionalContext":"the operator says: keep it small","hookEventName":"UserPromptSubmit"}}"#
    ),
    AnswerCase(
        .codex, "UserPromptSubmit", .deny(reason: "paused by operator"),
        #"{"decision":"block","reason":"paused by operator"}"#),
    AnswerCase(.codex, "UserPromptSubmit", .proceed, ""),
    // Stop: steering blocks the stop with the operator's text.
    AnswerCase(.claude, "Stop", .proceed, ""),
    AnswerCase(
        .claude, "Stop", .proceed, context: "also update the changelog",
        #"{"decision":"block","reason":"also update the changelog"}"#),
    AnswerCase(
        .codex, "Stop", .proceed, context: "also update the changelog",
        #"{"decision":"block","reason":"also update the changelog"}"#),
    AnswerCase(.codex, "Stop", .deny(reason: "paused"), ""),
    // Lifecycle events: nothing.
    AnswerCase(.claude, "SessionStart", .proceed, ""),
    AnswerCase(.codex, "SessionStart", .proceed, context: "ignored", ""),
    AnswerCase(.claude, "SessionEnd", .proceed, ""),
]

@Suite struct HookAnswerTests {
    @Test(arguments: answerCases)
    func rendersExactly(_ expected: AnswerCase) throws {
        let answer = HookAnswer.render(
            agent: expected.agent, event: expected.event, outcome: expected.outcome,
            additionalContext: expected.context)
        #expect(answer.stdout == (expected.stdout.isEmpty ? "" : expected.stdout + "\n"))
        #expect(answer.stderr == "")
        #expect(answer.exitCode == 0)
        guard !expected.stdout.isEmpty else { return }
        // Valid for Foundation's parser, and structurally equal whatever the key order.
        #expect(try JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) is [String: Any])
        #expect(try JSONValue(parsing: Data(answer.stdout.utf8)) == JSONValue(parsing: Data(expected.stdout.utf8)))
        #expect(answer.stdout.filter { $0 == "\n" }.count == 1)
    }

    @Test func codexAllowIsAlwaysEmpty() {
        for outcome: HookOutcome in [.allow(reason: "x"), .allow(reason: nil), .ask(reason: "y"), .proceed] {
            #expect(HookAnswer.render(agent: .codex, event: "PreToolUse", outcome: outcome) == HookAnswer.empty)
        }
        #expect(HookAnswer.empty == HookAnswer(stdout: "", stderr: "", exitCode: 0))
    }

    @Test func denyReasonsAreNeverEmpty() throws {
        for agent in HookAgent.allCases {
            for event in ["PreToolUse", "PermissionRequest", "UserPromptSubmit", "PostToolUse"] {
                for outcome: HookOutcome in [.deny(reason: ""), .timeout(reason: "")] {
                    let answer = HookAnswer.render(agent: agent, event: event, outcome: outcome)
                    let object = try #require(
                        try JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [String: Any])
                    let specific = object["hookSpecificOutput"] as? [String: Any]
                    let decision = specific?["decision"] as? [String: Any]
                    let reason =
                        specific?["permissionDecisionReason"] as? String ?? decision?["message"] as? String
                        ?? object["reason"] as? String
                    #expect(!(reason ?? "").isEmpty, "\(agent) \(event) \(outcome)")
                }
            }
        }
    }

    @Test func timeoutsAlwaysSayTheyAreTimeouts() throws {
        let cases = [
            ("", "Bosun: no decision within the deadline"),
            ("Bosun: no decision within 90 s", "Bosun: no decision within 90 s"),
            ("supervisor unreachable", "Bosun: no decision within the deadline: supervisor unreachable"),
        ]
        for (given, expected) in cases {
            for agent in HookAgent.allCases {
                let pre = HookAnswer.render(agent: agent, event: "PreToolUse", outcome: .timeout(reason: given))
                let object = try #require(try JSONValue(parsing: Data(pre.stdout.utf8)).objectValue)
                #expect(object["hookSpecificOutput"]?["permissionDecisionReason"] == .string(expected))
                #expect(object["hookSpecificOutput"]?["permissionDecision"] == .string("deny"))
                let permission = HookAnswer.render(
                    agent: agent, event: "PermissionRequest", outcome: .timeout(reason: given))
                let decision = try JSONValue(parsing: Data(permission.stdout.utf8))["hookSpecificOutput"]?["decision"]
                #expect(decision == .object(["behavior": .string("deny"), "message": .string(expected)]))
            }
        }
    }

    @Test func outputIsUTF8WithoutEscapedSlashes() {
        let answer = HookAnswer.render(
            agent: .claude, event: "PreToolUse", outcome: .deny(reason: "rm -rf /srv/app — «non» \"quoted\"\nline 2"))
        #expect(answer.stdout.contains(#"rm -rf /srv/app — «non» \"quoted\"\nline 2"#))
        #expect(!answer.stdout.contains("\\/"))
        #expect(answer.stdout.hasSuffix("}\n"))
    }

    @Test func unknownBlockingEventsUseTheLastResortDeny() {
        let answer = HookAnswer.render(agent: .claude, event: "SomeFutureEvent", outcome: .deny(reason: "no"))
        #expect(answer == HookAnswer(stdout: "", stderr: "no\n", exitCode: 2))
        #expect(HookAnswer.render(agent: .codex, event: "SomeFutureEvent", outcome: .proceed) == .empty)
        #expect(HookAnswer.lastResortDeny(reason: "") == HookAnswer(stdout: "", stderr: "Bosun: denied\n", exitCode: 2))
    }

    @Test func contextDeliveryIsReported() {
        #expect(HookAnswer.carriesContext(event: "PreToolUse"))
        #expect(HookAnswer.carriesContext(event: "PostToolUse"))
        #expect(HookAnswer.carriesContext(event: "UserPromptSubmit"))
        #expect(HookAnswer.carriesContext(event: "Stop"))
        #expect(!HookAnswer.carriesContext(event: "PermissionRequest"))
        #expect(!HookAnswer.carriesContext(event: "SessionStart"))
    }
}
