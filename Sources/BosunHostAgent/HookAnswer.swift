import BosunCore
import FoundationEssentials

/// What Bosun wants to tell the agent at one hook, before it is shaped for that agent and event.
public enum HookOutcome: Sendable, Equatable {
    /// Let the tool call run.
    case allow(reason: String?)
    /// Refuse it; the reason goes to the model.
    case deny(reason: String)
    /// Leave it to the agent's own approval prompt.
    case ask(reason: String?)
    /// No decision in time: a deny whose reason says it was a timeout, never a person's denial.
    case timeout(reason: String)
    /// No opinion: events that are not approvals.
    case proceed
}

/// A hook's reply to the agent: what to print and how to exit (AGENTS.md "Hook answers that work").
public struct HookAnswer: Sendable, Equatable {
    public var stdout: String
    public var stderr: String
    public var exitCode: Int32

    public init(stdout: String = "", stderr: String = "", exitCode: Int32 = 0) {
        self.stdout = stdout
        self.stderr = stderr
        self.exitCode = exitCode
    }

    /// Print nothing, exit 0: "no opinion" to both agents.
    public static let empty = HookAnswer()

    /// Used for a deny whose caller gave no reason (agents reject an empty one).
    public static let fallbackDenyReason = "Bosun: denied"
    /// Every timeout reason starts with this, so the model and the log never read it as a person's denial.
    public static let timeoutPrefix = "Bosun: no decision within"

    /// The events whose answer can carry `additionalContext`; steering for any other event must wait for
    /// one of these (or `Stop`, which carries it as a block reason).
    public static let contextEvents: Set<String> = ["PreToolUse", "PostToolUse", "UserPromptSubmit"]

    /// Whether ``render(agent:event:outcome:additionalContext:)`` delivers `additionalContext` at `event`,
    /// so the caller knows when steering text has been handed over.
    public static func carriesContext(event: String) -> Bool {
        contextEvents.contains(event) || event == "Stop"
    }

    /// The last-resort deny both agents honour whatever the event: reason on stderr, nothing on stdout,
    /// exit 2. For when a shaped answer cannot be produced.
    public static func lastResortDeny(reason: String) -> HookAnswer {
        HookAnswer(stdout: "", stderr: nonEmpty(reason) + "\n", exitCode: 2)
    }

    /// Shapes `outcome` (and optional steering text) exactly as `agent` expects at `event`.
    public static func render(
        agent: HookAgent, event: String, outcome: HookOutcome, additionalContext: String? = nil
    ) -> HookAnswer {
        let context = additionalContext.flatMap { $0.isEmpty ? nil : $0 }
        switch event {
        case "PreToolUse":
            return preToolUse(agent: agent, outcome: outcome, context: context)
        case "PermissionRequest":
            return permissionRequest(outcome: outcome)
        case "PostToolUse", "UserPromptSubmit":
            return afterOrPrompt(event: event, outcome: outcome, context: context)
        case "Stop":
            // Only steering blocks a stop; a deny or timeout here has nothing to refuse.
            guard let context else { return .empty }
            return json(["decision": .string("block"), "reason": .string(context)])
        case "SessionStart", "SessionEnd", "Notification", "PreCompact", "PostCompact", "SubagentStop":
            return .empty
        default:
            switch outcome {
            case .deny(let reason): return lastResortDeny(reason: reason)
            case .timeout(let reason): return lastResortDeny(reason: timeoutReason(reason))
            case .allow, .ask, .proceed: return .empty
            }
        }
    }

    // MARK: - Per event

    private static func preToolUse(agent: HookAgent, outcome: HookOutcome, context: String?) -> HookAnswer {
        var output: [String: JSONValue] = ["hookEventName": .string("PreToolUse")]
        if let context { output["additionalContext"] = .string(context) }
        switch (agent, outcome) {
        case (_, .deny(let reason)):
            output["permissionDecision"] = .string("deny")
            output["permissionDecisionReason"] = .string(nonEmpty(reason))
        case (_, .timeout(let reason)):
            output["permissionDecision"] = .string("deny")
            output["permissionDecisionReason"] = .string(timeoutReason(reason))
        case (.claude, .allow(let reason)):
            output["permissionDecision"] = .string("allow")
            if let reason, !reason.isEmpty { output["permissionDecisionReason"] = .string(reason) }
        case (.claude, .ask(let reason)):
            output["permissionDecision"] = .string("ask")
            if let reason, !reason.isEmpty { output["permissionDecisionReason"] = .string(reason) }
        case (.codex, .allow), (.codex, .ask), (_, .proceed):
            // Codex rejects `allow` at PreToolUse; silence lets the call (or its own prompt) go ahead.
            guard context != nil else { return .empty }
        }
        return json(["hookSpecificOutput": .object(output)])
    }

    private static func permissionRequest(outcome: HookOutcome) -> HookAnswer {
        let decision: [String: JSONValue]
        switch outcome {
        case .allow:
            decision = ["behavior": .string("allow")]
        case .deny(let reason):
            decision = ["behavior": .string("deny"), "message": .string(nonEmpty(reason))]
        case .timeout(let reason):
            decision = ["behavior": .string("deny"), "message": .string(timeoutReason(reason))]
        case .ask, .proceed:
            // Print nothing: the agent shows its own prompt.
            return .empty
        }
        return json([
            "hookSpecificOutput": .object([
                "hookEventName": .string("PermissionRequest"), "decision": .object(decision),
            ])
        ])
    }

    private static func afterOrPrompt(event: String, outcome: HookOutcome, context: String?) -> HookAnswer {
        var object: [String: JSONValue] = [:]
        if let context {
            object["hookSpecificOutput"] = .object([
                "hookEventName": .string(event), "additionalContext": .string(context),
            ])
        }
        switch outcome {
        case .deny(let reason):
            // UserPromptSubmit: the prompt is refused; PostToolUse: the reason is fed to the model.
            object["decision"] = .string("block")
            object["reason"] = .string(nonEmpty(reason))
        case .timeout(let reason):
            object["decision"] = .string("block")
            object["reason"] = .string(timeoutReason(reason))
        case .allow, .ask, .proceed:
            break
        }
        return object.isEmpty ? .empty : json(object)
    }

    // MARK: - Helpers

    private static func json(_ object: [String: JSONValue]) -> HookAnswer {
        HookAnswer(stdout: JSONValue.object(object).canonicalJSON + "\n")
    }

    private static func nonEmpty(_ reason: String) -> String {
        reason.trimmingSpacesAndNewlines().isEmpty ? fallbackDenyReason : reason
    }

    /// The caller's timeout text, made to start with ``timeoutPrefix``.
    static func timeoutReason(_ reason: String) -> String {
        let trimmed = reason.trimmingSpacesAndNewlines()
        if trimmed.isEmpty { return timeoutPrefix + " the deadline" }
        if trimmed.hasPrefix(timeoutPrefix) { return reason }
        return timeoutPrefix + " the deadline: " + reason
    }
}
