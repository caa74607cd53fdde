public import BosunCore
import FoundationEssentials

/// One notification target, from a `[[notify]]` table in `bosund.toml`: where to tell a person that
/// something waits for them, and which events reach it.
public struct NotifyConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// POST a JSON body (schema `bosun.notify.v1`, or `template`) to `url`.
        case webhook
        /// POST a plain-text message to an ntfy topic URL, with title, priority, tags and click headers.
        case ntfy
        /// Run `command` (an argv array, no shell) with the JSON body on stdin.
        case command
    }

    /// What a target is told about.
    public enum Event: String, Sendable, CaseIterable {
        /// A new request waits for a person.
        case ask
        /// A pending request is about to expire.
        case expiring
        /// A host's link went down while requests from it wait.
        case hostDown = "host_down"
        /// Someone pulled the fleet-wide breaker (`pause all`).
        case breaker
    }

    /// Names the target in logs and the audit (never its URL, which may hold a token).
    public var name: String
    public var kind: Kind
    /// `webhook` and `ntfy`: an `http://` or `https://` URL.
    public var url: String?
    /// `command`: the program and its arguments.
    public var command: [String]?
    /// `webhook`: the body, with `{{field}}` placeholders (each replaced by the JSON-escaped value,
    /// without quotes); nil sends the schema's JSON object.
    public var template: String?
    /// Extra HTTP headers (e.g. `Authorization`), for `webhook` and `ntfy`.
    public var headers: [String: String] = [:]
    /// Only these tiers' asks and expiry warnings; empty means every tier.
    public var tiers: [Tier] = []
    /// Only events about these hosts; empty means every host.
    public var hosts: [String] = []
    /// Only events about hosts carrying all of these labels.
    public var labels: [String: String] = [:]
    /// Which events reach this target; default: all of them.
    public var events: [Event] = Event.allCases
    /// Asks arriving within this many seconds are batched into one message; 0 sends each at once.
    public var digest: Double = 0
    /// Warn this many seconds before a request expires; nil warns when 80 % of its time has passed.
    public var warnBefore: Double?
    /// `ntfy`: the `Click` URL; `{number}` is replaced by the request's number.
    public var click: String?
    /// The shell line a person runs to act, before the verb (`ssh -p 2222 alice@sup.example.com`);
    /// nil derives it: `ssh -p PORT HOSTNAME` when the front door is configured, else `bosun`.
    public var act: String?
    /// Deliveries tried per message before it is recorded as failed.
    public var attempts: Int = 5
    /// The first retry waits this long; each further one doubles, up to 300 s.
    public var backoff: Double = 1
    /// Seconds one attempt may take (HTTP request or command run).
    public var timeout: Double = 10
    /// Messages waiting for this target; beyond it new ones are dropped, counted and logged.
    public var queue: Int = 100

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }
}

extension NotifyConfig {
    /// Parses every `[[notify]]` table of `bosund.toml`.
    static func parseAll(_ reader: inout TableReader) throws(ConfigError) -> [NotifyConfig] {
        guard let tables = try reader.tableArray("notify") else { return [] }
        var result: [NotifyConfig] = []
        var seen: Set<String> = []
        for (position, var table) in tables.enumerated() {
            let target = try parse(&table, position: position)
            guard seen.insert(target.name).inserted else {
                throw table.error("name", "duplicate notify target name \"\(target.name)\"")
            }
            result.append(target)
        }
        return result
    }

    static func parse(_ table: inout TableReader, position: Int) throws(ConfigError) -> NotifyConfig {
        guard let kindText = try table.string("kind") else {
            throw table.error("kind", "missing (expected one of: webhook, ntfy, command)")
        }
        guard let kind = Kind(rawValue: kindText) else {
            throw table.error("kind", "expected one of: webhook, ntfy, command, found \"\(kindText)\"")
        }
        let name = try table.string("name") ?? "\(kind.rawValue)-\(position + 1)"
        guard name.count <= 64, name.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 }) else {
            throw table.error("name", "expected up to 64 printable ASCII characters without spaces")
        }
        var target = NotifyConfig(name: name, kind: kind)
        target.url = try table.string("url")
        target.command = try table.stringArray("command", allowSingle: true)
        target.template = try table.string("template")
        target.headers = try table.stringTable("headers") ?? [:]
        switch kind {
        case .webhook, .ntfy:
            guard let url = target.url else {
                throw table.error("url", "missing (a \(kind.rawValue) target needs a URL)")
            }
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
                scheme == "http" || scheme == "https", parsed.host != nil
            else {
                throw table.error("url", "expected an http:// or https:// URL")
            }
            guard target.command == nil else { throw table.error("command", "only for kind = \"command\"") }
        case .command:
            guard let argv = target.command, !argv.isEmpty else {
                throw table.error(
                    "command", "missing (a command target needs a program, e.g. [\"/usr/local/bin/page\"])")
            }
            guard argv[0].hasPrefix("/") else {
                throw table.error("command[0]", "expected an absolute path to the program, found \"\(argv[0])\"")
            }
            guard target.url == nil else { throw table.error("url", "not used by kind = \"command\"") }
            guard target.headers.isEmpty else { throw table.error("headers", "not used by kind = \"command\"") }
        }
        if target.template != nil && kind != .webhook {
            throw table.error("template", "only for kind = \"webhook\"")
        }
        for (header, value) in target.headers {
            guard !header.isEmpty, header.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }),
                value.utf8.allSatisfy({ $0 >= 32 && $0 != 127 })
            else {
                throw table.error(
                    "headers.\(header)", "expected a header name token and a value without control characters")
            }
        }
        if let tiers = try table.stringArray("tiers", allowSingle: true) {
            target.tiers = []
            for (index, word) in tiers.enumerated() {
                guard let tier = Tier(rawValue: word) else {
                    throw table.error(
                        "tiers[\(index)]",
                        "expected one of: \(Tier.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(word)\"")
                }
                target.tiers.append(tier)
            }
        }
        target.hosts = try table.stringArray("hosts", allowSingle: true) ?? []
        target.labels = try table.stringTable("labels") ?? [:]
        if let events = try table.stringArray("events", allowSingle: true) {
            target.events = []
            for (index, word) in events.enumerated() {
                guard let event = Event(rawValue: word) else {
                    throw table.error(
                        "events[\(index)]",
                        "expected one of: \(Event.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(word)\"")
                }
                target.events.append(event)
            }
        }
        target.digest = try table.duration("digest", in: 0...3600) ?? 0
        target.warnBefore = try table.duration("warn_before", in: 1...86400)
        target.click = try table.string("click")
        if target.click != nil && kind != .ntfy { throw table.error("click", "only for kind = \"ntfy\"") }
        target.act = try table.string("act")
        if let act = target.act, act.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw table.error("act", "expected one line without control characters")
        }
        target.attempts = try table.integer("attempts", in: 1...100) ?? target.attempts
        target.backoff = try table.duration("backoff", in: 0.01...3600) ?? target.backoff
        target.timeout = try table.duration("timeout", in: 0.1...600) ?? target.timeout
        target.queue = try table.integer("queue", in: 1...100_000) ?? target.queue
        try table.rejectUnknownKeys()
        return target
    }
}
