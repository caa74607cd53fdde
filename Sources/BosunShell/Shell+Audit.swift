import BosunCore
import BosunSupervisor
import Foundation

/// One-line human summaries of audit records (`#42 approved by alice (desk) — npm install
/// left-pad`), the folding of delivery records into what they delivered, and `audit --json` lines
/// with `details` as an object.
enum AuditSummary {
    /// The action of every request the records mention, by number (one read each; at most `limit`).
    static func actions(for entries: [AuditEntry], fleet: Fleet) async throws -> [Int64: String] {
        var actions: [Int64: String] = [:]
        for number in Set(entries.compactMap { details($0)["request"] as? Int64 }) {
            if let (record, _) = try await fleet.request(number: number) {
                actions[number] = RequestJSON.action(record.request.evidence)
            }
        }
        return actions
    }

    /// The record's details as a dictionary (numbers as Int64 where whole); empty when unreadable.
    static func details(_ entry: AuditEntry) -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(entry.details.utf8)) as? [String: Any] else {
            return [:]
        }
        return object.mapValues { value in
            if let number = value as? NSNumber, !(value is Bool), let whole = Int64(exactly: number.doubleValue) {
                return whole
            }
            return value
        }
    }

    static func text(_ value: Any?) -> String? {
        switch value {
        case let text as String: text
        case let number as Int64: String(number)
        case let list as [Any]: list.compactMap { text($0) }.joined(separator: ", ")
        default: nil
        }
    }

    /// `operator:alice` → `alice`; other actors as they are.
    static func who(_ actor: String) -> String {
        actor.hasPrefix("operator:") ? String(actor.dropFirst(9)) : actor
    }

    static func line(_ entry: AuditEntry, actions: [Int64: String]) -> String {
        let d = details(entry)
        let number = d["request"] as? Int64
        let ref = number.map { "#\($0)" } ?? ""
        let action = number.flatMap { actions[$0] }.map { " — " + $0 } ?? ""
        let by = "\(who(entry.actor)) (\(entry.channel))"
        switch entry.kind {
        case "request":
            return "\(ref) asked by \(entry.host)/\(text(d["thread"]) ?? "?")\(action)"
        case "policy":
            let missing = text(d["missing_evidence"]).flatMap { $0.isEmpty ? nil : "; missing \($0)" } ?? ""
            return
                "\(ref) \(text(d["tier"]) ?? "?") tier, policy says \(text(d["verdict"]) ?? "?"): \(text(d["reason"]) ?? "")\(missing)"
        case "decision", "local_decision":
            let verdict = text(d["verdict"]) ?? "?"
            let word = ["allow": "approved", "deny": "denied"][verdict] ?? verdict
            let decider: String
            if entry.actor.hasPrefix("operator:") {
                decider = "\(word) by \(by)"
            } else if entry.actor.hasPrefix("policy:") {
                decider = "\(verdict == "allow" ? "allowed" : word) by \(entry.actor)"
            } else {
                decider = "\(word) by \(entry.actor)"
            }
            return "\(ref.isEmpty ? text(d["id"]) ?? "" : ref) \(decider)\(action)"
        case "expiry":
            return "\(ref) expired (no decision in time)\(action)"
        case "vote":
            let note = text(d["note"]).map { ": \($0)" } ?? ""
            return "\(ref) \(by) votes \(text(d["vote"]) ?? "?")\(note)\(action)"
        case "vote_changed":
            return
                "\(ref) \(by) changes their vote to \(text(d["vote"]) ?? "?") (was \(text(d["previous"]) ?? "?"))\(action)"
        case "vote_withdrawn":
            return "\(ref) \(by) withdraws their \(text(d["vote"]) ?? "") vote\(action)"
        case "not_applied":
            return "decision for \(text(d["id"]) ?? "?") not applied: \(entry.host) had answered on its own"
        case "delivered":
            return "delivered to \(entry.host)" + (text(d["id"]).map { " (request \($0))" } ?? "")
        case "steer":
            return
                "steer \(text(d["message"]) ?? "?") to \(entry.host)/\(text(d["thread"]) ?? "?") by \(by): \(text(d["text"]) ?? "")"
        case "steer_delivered":
            return "steer \(text(d["message"]) ?? "?") delivered on \(entry.host)"
        case "steer_cancelled":
            return "steer \(text(d["message"]) ?? "?") cancelled by \(by)"
        case "pause", "resume":
            let scope = text(d["scope"]) ?? "?"
            let target =
                text(d["thread"]).map { "thread \(entry.host)/\($0)" }
                ?? (text(d["breaker"])?.hasPrefix("host-") == true
                    ? "host \(entry.host)" : scope == "all" ? "every host" : "\(scope) (\(entry.host))")
            let mode = entry.kind == "pause" ? (text(d["hard"]) == "yes" ? " (hard)" : " (soft)") : ""
            let reason = text(d["reason"]).map { ": \($0)" } ?? ""
            return "\(entry.kind) \(target)\(mode) by \(by)\(reason)"
        default:
            let pairs = d.keys.sorted().compactMap { key in text(d[key]).map { "\(key)=\($0)" } }
            return "\(entry.kind) by \(by)" + (pairs.isEmpty ? "" : ": " + pairs.joined(separator: " "))
        }
    }

    /// The records without delivery records, and how many were folded.
    static func fold(_ entries: [AuditEntry]) -> ([AuditEntry], Int) {
        let shown = entries.filter { $0.kind != "delivered" && $0.kind != "steer_delivered" }
        return (shown, entries.count - shown.count)
    }

    /// What the folded deliveries add to the records they delivered: `delivered` on a decision
    /// (by request id and host) or a steer (by message id), by the delivered record's seq.
    static func deliveries(_ entries: [AuditEntry]) -> [Int64: String] {
        var decisions: [String: Int64] = [:]
        var steers: [String: Int64] = [:]
        var notes: [Int64: String] = [:]
        for entry in entries {
            let d = details(entry)
            switch entry.kind {
            case "decision", "expiry":
                if let id = text(d["id"]) { decisions["\(entry.host)\u{0}\(id)"] = entry.seq }
            case "steer":
                if let id = text(d["message"]) { steers["\(entry.host)\u{0}\(id)"] = entry.seq }
            case "delivered":
                if let id = text(d["id"]), let seq = decisions["\(entry.host)\u{0}\(id)"] { notes[seq] = "delivered" }
            case "steer_delivered":
                if let id = text(d["message"]), let seq = steers["\(entry.host)\u{0}\(id)"] {
                    notes[seq] = "delivered"
                }
            default: break
            }
        }
        return notes
    }

    /// `{"actor":…,"at":…,"channel":…,"details":{…},"hash":…,"host":…,"kind":…,"seq":N,"summary":…}`:
    /// `details` is the stored canonical JSON itself (a string only if it is not valid JSON).
    static func jsonLine(_ entry: AuditEntry, summary: String) -> String {
        let valid = (try? JSONSerialization.jsonObject(with: Data(entry.details.utf8))) is [String: Any]
        var line = "{\"actor\":" + JSONText.string(entry.actor)
        line += ",\"at\":" + JSONText.string(entry.at)
        line += ",\"channel\":" + JSONText.string(entry.channel)
        line += ",\"details\":" + (valid ? entry.details : JSONText.string(entry.details))
        line += ",\"hash\":" + JSONText.string(entry.hash)
        line += ",\"host\":" + JSONText.string(entry.host.rawValue)
        line += ",\"kind\":" + JSONText.string(entry.kind)
        line += ",\"seq\":\(entry.seq)"
        line += ",\"summary\":" + JSONText.string(summary) + "}"
        return JSONText.escapeHidden(line) + "\n"
    }
}
