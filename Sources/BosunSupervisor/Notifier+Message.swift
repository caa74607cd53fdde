import BosunConfig
import BosunCore
import BosunStore
import Foundation

/// The JSON every target gets (webhook body, command stdin): schema `bosun.notify.v1`.
///
/// ```json
/// {"schema": "bosun.notify.v1", "target": "phone", "event": "ask", "title": "…", "text": "…",
///  "items": [{"event": "ask", "host": "web1", "number": 42, "thread": "…", "tier": "expand",
///             "command": "npm install left-pad", "summary": "…", "act": "ssh -p 2222 sup show 42",
///             "expires_at": "2026-01-01T12:00:00Z", "waiting": null, "at": "…"}]}
/// ```
/// A digest carries several `items`; `title` and `text` are ready for a person to read.
struct NoticeMessage: Codable, Sendable {
    var schema = "bosun.notify.v1"
    var target: String
    var event: String
    var title: String
    var text: String
    var priority: Int
    var items: [Item]

    struct Item: Codable, Sendable {
        var event: String
        var host: HostName
        var number: Int64?
        var thread: ThreadID?
        var tier: String?
        var command: String?
        var summary: String
        var act: String
        var expiresAt: String?
        var waiting: Int?
        var at: String

        enum CodingKeys: String, CodingKey {
            case event, host, number, thread, tier, command, summary, act, waiting, at
            case expiresAt = "expires_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(event, forKey: .event)
            try container.encode(host, forKey: .host)
            try container.encode(number, forKey: .number)
            try container.encode(thread, forKey: .thread)
            try container.encode(tier, forKey: .tier)
            try container.encode(command, forKey: .command)
            try container.encode(summary, forKey: .summary)
            try container.encode(act, forKey: .act)
            try container.encode(expiresAt, forKey: .expiresAt)
            try container.encode(waiting, forKey: .waiting)
            try container.encode(at, forKey: .at)
        }
    }

    var json: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}

/// Builds notices and messages from what the store holds: every host-supplied text is run through the
/// Redactor again (hosts redact before sending, but a host is untrusted), control characters are
/// escaped, and each field is bounded.
enum NoticeText {
    static let maxCommand = 1000
    static let maxSummary = 240
    static let maxTitle = 120
    /// A digest holds at most this many asks; more start a new message.
    static let maxItems = 50

    /// Redacted, escaped (`\n`, `\u{1b}` shown as text), bounded to `limit` characters (`…` marks a cut).
    static func clean(_ text: String, limit: Int) -> String {
        var result = ""
        var count = 0
        for scalar in Redactor.redact(text).unicodeScalars {
            let piece: String
            switch scalar {
            case "\n": piece = "\\n"
            case "\t": piece = "\\t"
            case "\r": piece = "\\r"
            default:
                let category = scalar.properties.generalCategory
                if category == .control || category == .format || category == .lineSeparator
                    || category == .paragraphSeparator || category == .privateUse || category == .surrogate
                {
                    piece = "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    piece = String(scalar)
                }
            }
            if count + piece.count > limit {
                result += "…"
                break
            }
            result += piece
            count += piece.count
        }
        return result
    }

    /// One line a person reads before deciding: why, where, what changed, what ran, what it touches.
    static func summary(_ record: RequestRecord) -> String {
        let evidence = record.request.evidence
        var parts: [String] = []
        if let purpose = evidence.purpose, !purpose.isEmpty { parts.append("purpose: \(purpose)") }
        if let repo = evidence.repo {
            parts.append("repo \((repo as NSString).lastPathComponent)" + (evidence.branch.map { "@\($0)" } ?? ""))
        } else {
            parts.append("in \(evidence.cwd)")
        }
        if !evidence.paths.isEmpty { parts.append("paths: \(evidence.paths.prefix(3).joined(separator: ", "))") }
        if !evidence.changedFiles.isEmpty { parts.append("\(evidence.changedFiles.count) changed file(s)") }
        if let run = evidence.testsRun.last {
            parts.append("last test: \(run.command) → \(run.exitCode.map { "exit \($0)" } ?? "running")")
        }
        if !evidence.network.isEmpty { parts.append("network: \(evidence.network.prefix(3).joined(separator: ", "))") }
        if !evidence.credentials.isEmpty {
            parts.append("credentials: \(evidence.credentials.prefix(3).joined(separator: ", "))")
        }
        if !record.policy.missingEvidence.isEmpty {
            parts.append("missing: \(record.policy.missingEvidence.joined(separator: ", "))")
        }
        parts.append("rule \(record.policy.rule ?? "default")")
        return clean(parts.joined(separator: " · "), limit: maxSummary)
    }

    static func ask(_ record: RequestRecord, event: NotifyConfig.Event, actPrefix: String) -> Notice {
        let evidence = record.request.evidence
        return Notice(
            event: event, host: record.host, number: record.number,
            thread: ThreadID(clean(record.request.threadID.rawValue, limit: 80)),
            tier: record.policy.tier, command: clean(evidence.command ?? evidence.tool, limit: maxCommand),
            summary: summary(record), act: "\(actPrefix) show \(record.number)", expiresAt: record.expiresAt,
            waiting: nil, at: Date())
    }

    static func hostDown(_ host: HostName, reason: String, waiting: [RequestRecord], actPrefix: String) -> Notice {
        let numbers = waiting.prefix(10).map { "#\($0.number)" }.joined(separator: " ")
        return Notice(
            event: .hostDown, host: host, number: nil, thread: nil, tier: waiting.map(\.policy.tier).max(),
            command: nil,
            summary: clean(
                "link down (\(reason)); waiting: \(numbers)\(waiting.count > 10 ? " …" : "")", limit: maxSummary),
            act: "\(actPrefix) hosts", expiresAt: nil, waiting: waiting.count, at: Date())
    }

    static func breaker(by name: String, reason: String, hard: Bool, actPrefix: String) -> Notice {
        Notice(
            event: .breaker, host: "*", number: nil, thread: nil, tier: nil, command: nil,
            summary: clean("\(hard ? "hard" : "soft") pause of every host by \(name): \(reason)", limit: maxSummary),
            act: "\(actPrefix) resume all", expiresAt: nil, waiting: nil, at: Date())
    }

    /// ntfy-style priority: 1 (min) … 5 (urgent).
    static func priority(_ notice: Notice) -> Int {
        switch notice.event {
        case .breaker: return 5
        case .hostDown: return 4
        case .ask, .expiring:
            let base =
                switch notice.tier {
                case .steer: 2
                case .continue: 3
                case .expand: 4
                case .commit: 5
                case nil: 3
                }
            return notice.event == .expiring ? min(5, base + 1) : base
        }
    }

    static func title(_ items: [Notice]) -> String {
        guard let first = items.first else { return "" }
        let text: String
        switch first.event {
        case .ask where items.count > 1:
            text =
                "\(items.count) requests wait: "
                + items.compactMap { $0.number.map { "#\($0)" } }.joined(separator: " ")
        case .ask:
            text = "#\(first.number ?? 0) \(first.tier?.rawValue ?? "") on \(first.host): \(first.command ?? "")"
        case .expiring:
            let left = first.expiresAt.map { Int(min(max(0, $0.timeIntervalSinceNow.rounded()), 1e9)) } ?? 0
            text = "#\(first.number ?? 0) expires in \(left) s on \(first.host): \(first.command ?? "")"
        case .hostDown:
            text = "\(first.host) is down with \(first.waiting ?? 0) request(s) waiting"
        case .breaker:
            text = "Fleet paused: \(first.summary)"
        }
        return String(text.prefix(maxTitle))
    }

    static func text(_ items: [Notice]) -> String {
        items.map { notice in
            var lines: [String] = []
            switch notice.event {
            case .ask, .expiring:
                var head = "#\(notice.number ?? 0) \(notice.tier?.rawValue ?? "") · \(notice.host)"
                if let thread = notice.thread { head += " · thread \(thread)" }
                if notice.event == .expiring { head += " · expiring" }
                lines.append(head)
                lines.append("$ \(notice.command ?? "")")
            case .hostDown, .breaker:
                lines.append(title([notice]))
            }
            lines.append(notice.summary)
            lines.append("→ \(notice.act)")
            return lines.joined(separator: "\n")
        }.joined(separator: "\n\n")
    }

    static func message(_ items: [Notice], target: String) -> NoticeMessage {
        let formatter = ISO8601DateFormatter()
        return NoticeMessage(
            target: target, event: items.first?.event.rawValue ?? "ask", title: title(items), text: text(items),
            priority: items.map(priority).max() ?? 3,
            items: items.map {
                NoticeMessage.Item(
                    event: $0.event.rawValue, host: $0.host, number: $0.number, thread: $0.thread,
                    tier: $0.tier?.rawValue,
                    command: $0.command, summary: $0.summary, act: $0.act,
                    expiresAt: $0.expiresAt.map { formatter.string(from: $0) }, waiting: $0.waiting,
                    at: formatter.string(from: $0.at))
            })
    }
}
