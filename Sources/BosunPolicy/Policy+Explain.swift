import BosunCore
import FoundationEssentials

extension Policy {
    /// A person-readable account of how `input` is decided: tier, decision, the deciding rule with its
    /// `file:line` and reason, each part's result, the evidence the tier requires and who may approve.
    public func explain(_ input: PolicyInput) -> String {
        let evaluation = evaluate(input)
        let settings = settings(for: evaluation.tier)
        var lines: [String] = []
        if let command = input.command, Self.isCommandTool(input.tool) {
            lines.append("action:    \(input.tool): \(Self.oneLine(command))")
        } else {
            lines.append(
                "action:    \(input.tool)\(input.paths.isEmpty ? "" : ": " + input.paths.joined(separator: " "))")
        }
        lines.append("tier:      \(evaluation.tier.rawValue)")
        lines.append("decision:  \(evaluation.verdict.rawValue)")
        if let ruleID = evaluation.ruleID {
            lines.append("rule:      \(ruleID) (\(evaluation.source ?? "unknown source"))")
        } else {
            lines.append("rule:      none")
        }
        lines.append("reason:    \(evaluation.reason)")
        lines.append(
            evaluation.complete
                ? "parse:     complete" : "parse:     incomplete (\(evaluation.problems.joined(separator: "; ")))")
        lines.append("parts:")
        for part in evaluation.parts {
            let decidedBy = part.ruleID.map { "\($0) (\(part.source ?? "unknown source"))" } ?? "no rule"
            let decision = "\(part.tier.rawValue)/\(part.verdict.rawValue)"
            let padding = String(repeating: " ", count: max(1, 16 - decision.count))
            lines.append("  \(decision)\(padding)\(Self.render(part, tool: input.tool))")
            lines.append("      by \(decidedBy): \(part.reason)")
        }
        let required = settings.require.joined(separator: ", ")
        lines.append("evidence:  \(required.isEmpty ? "nothing required" : "requires " + required)")
        let approvers = settings.approvers == 1 ? "1 approver" : "\(settings.approvers) approvers"
        let note = settings.noteRequired ? "note required" : "no note required"
        lines.append(
            "approval:  \(evaluation.tier.rawValue) tier: from \(settings.approveFrom.joined(separator: ", ")); "
                + "\(approvers); expires after \(Self.duration(settings.ttl)); \(note)")
        switch evaluation.verdict {
        case .allow: lines.append("           (allowed by policy: no operator is asked)")
        case .deny: lines.append("           (denied by policy: no operator is asked)")
        case .ask: break
        }
        return lines.joined(separator: "\n")
    }

    static func render(_ part: PartEvaluation, tool: String) -> String {
        if part.argv.isEmpty && part.writes.isEmpty {
            return isCommandTool(tool) ? "(no command: assignments, loop words or input redirections)" : tool
        }
        var words = part.argv.map(quote)
        words += part.writes.map { "> \(quote($0))" }
        return oneLine(words.joined(separator: " "))
    }

    static func quote(_ word: String) -> String {
        if !word.isEmpty && word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:@%+,{}*~$".contains($0) }) {
            return word
        }
        return "'" + word.replacingScalar("'", with: "'\\''") + "'"
    }

    static func oneLine(_ text: String) -> String {
        text.replacingScalar("\n", with: "\\n").replacingScalar("\t", with: "\\t")
    }

    /// Seconds as `45s`, `30m`, `2h`, `1h30m`, `1d`.
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        guard total > 0 else { return "\(seconds)s" }
        var parts: [String] = []
        var rest = total
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            parts.append("\(rest / size)\(unit)")
            rest %= size
        }
        return parts.joined()
    }
}
