public import BosunCore
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// A spool record read with ``JSONReader`` and written as ``JSONValue/canonicalJSON`` instead of
/// `JSONDecoder`/`JSONEncoder` (issue 10: Codable's first use per type was most of a hook's CPU).
/// The bytes are those `Timestamp.makeEncoder()` writes (keys sorted, `/` unescaped, RFC 3339
/// milliseconds) and the reading is that of the synthesized `Decodable` (a missing or null
/// optional is nil, a missing required field, a wrong type or an unknown enum value is an error):
/// `SpoolJSONTests` checks both against the Codable path. The types stay `Codable` for the
/// protocol and the store.
public protocol SpoolRecord: Codable {
    init(json: JSONValue) throws(SpoolJSONError)
    var json: JSONValue { get }
}

/// A spool record that does not have the expected shape.
public struct SpoolJSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let problem: String

    public init(_ field: String, _ problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { "\(field): \(problem)" }
}

extension SpoolRecord {
    /// Reads a record from a file's bytes.
    public static func decode(_ data: some Collection<UInt8>) throws(SpoolJSONError) -> Self {
        let value: JSONValue
        do {
            value = try JSONReader.parse(data)
        } catch {
            throw SpoolJSONError("document", "\(error)")
        }
        return try Self(json: value)
    }

    /// The record's bytes as written to the spool.
    public var encoded: Data { Data(json.canonicalJSON.utf8) }
}

/// Reads the members of one JSON object by key, with the synthesized `Decodable`'s rules.
struct JSONFields {
    let members: [String: JSONValue]
    let path: String

    init(_ value: JSONValue, path: String = "") throws(SpoolJSONError) {
        guard case .object(let members) = value else {
            throw SpoolJSONError(path.isEmpty ? "document" : path, "not an object")
        }
        self.members = members
        self.path = path
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// The value for `key`, nil when missing or null.
    private func optional(_ key: String) -> JSONValue? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    private func required(_ key: String) throws(SpoolJSONError) -> JSONValue {
        guard let value = optional(key) else { throw SpoolJSONError(name(key), "missing") }
        return value
    }

    func string(_ key: String) throws(SpoolJSONError) -> String {
        guard case .string(let text) = try required(key) else { throw SpoolJSONError(name(key), "not a string") }
        return text
    }

    func optionalString(_ key: String) throws(SpoolJSONError) -> String? {
        guard let value = optional(key) else { return nil }
        guard case .string(let text) = value else { throw SpoolJSONError(name(key), "not a string") }
        return text
    }

    func bool(_ key: String) throws(SpoolJSONError) -> Bool {
        guard case .bool(let flag) = try required(key) else { throw SpoolJSONError(name(key), "not a boolean") }
        return flag
    }

    func optionalBool(_ key: String) throws(SpoolJSONError) -> Bool? {
        guard let value = optional(key) else { return nil }
        guard case .bool(let flag) = value else { throw SpoolJSONError(name(key), "not a boolean") }
        return flag
    }

    func optionalInt32(_ key: String) throws(SpoolJSONError) -> Int32? {
        guard let value = optional(key) else { return nil }
        guard case .number(let number) = value, let result = Int32(exactly: number) else {
            throw SpoolJSONError(name(key), "not a 32-bit integer")
        }
        return result
    }

    func optionalInt(_ key: String) throws(SpoolJSONError) -> Int? {
        guard let value = optional(key) else { return nil }
        // Doubles hold integers exactly up to 2^53: a larger one is refused, never rounded.
        guard case .number(let number) = value, abs(number) <= 9_007_199_254_740_992, let result = Int(exactly: number)
        else { throw SpoolJSONError(name(key), "not an integer") }
        return result
    }

    func strings(_ key: String) throws(SpoolJSONError) -> [String] {
        guard case .array(let items) = try required(key) else { throw SpoolJSONError(name(key), "not an array") }
        var result: [String] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard case .string(let text) = item else { throw SpoolJSONError(name(key), "not an array of strings") }
            result.append(text)
        }
        return result
    }

    func date(_ key: String) throws(SpoolJSONError) -> Date {
        let text = try string(key)
        guard let date = Self.timestamp(text) ?? Timestamp.parse(text) else {
            throw SpoolJSONError(name(key), "not an RFC 3339 timestamp")
        }
        return date
    }

    /// `YYYY-MM-DDTHH:MM:SS.fffZ` or `YYYY-MM-DDTHH:MM:SSZ` (what ``Timestamp/format(_:)`` writes)
    /// read with `timegm`, not `ISO8601FormatStyle`, whose calendar and time zone set-up was ~4 % of
    /// a hook's CPU (issue 10); nil for any other text (``Timestamp/parse(_:)`` decides it). The
    /// same `Date` as `Timestamp.parse` (SpoolJSONTests).
    static func timestamp(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20 || bytes.count == 24, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            bytes[bytes.count - 1] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for index in range {
                let digit = bytes[index] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                value = value * 10 + Int32(digit)
            }
            return value
        }
        var millis: Int32 = 0
        if bytes.count == 24 {
            guard bytes[19] == UInt8(ascii: "."), let fraction = number(20..<23) else { return nil }
            millis = fraction
        }
        guard let year = number(0..<4), year >= 1970, let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        var seconds = timegm(&parts)
        // A day the month does not have (Feb 30) is normalised by timegm: leave it to Timestamp.parse.
        var check = tm()
        guard seconds >= 0, gmtime_r(&seconds, &check) != nil, check.tm_mday == day, check.tm_mon == month - 1 else {
            return nil
        }
        // As Calendar builds it: seconds since 2001 plus the fraction in nanoseconds.
        return Date(
            timeIntervalSinceReferenceDate: Double(Int64(seconds) - 978_307_200) + Double(millis) * 1_000_000
                / 1_000_000_000)
    }

    func optionalDate(_ key: String) throws(SpoolJSONError) -> Date? {
        guard optional(key) != nil else { return nil }
        return try date(key)
    }

    func enumeration<T: RawRepresentable>(_ key: String, _: T.Type) throws(SpoolJSONError) -> T
    where T.RawValue == String {
        guard let value = T(rawValue: try string(key)) else { throw SpoolJSONError(name(key), "unknown value") }
        return value
    }

    func object(_ key: String) throws(SpoolJSONError) -> JSONFields {
        try JSONFields(try required(key), path: name(key))
    }

    func array(_ key: String) throws(SpoolJSONError) -> [JSONValue] {
        guard case .array(let items) = try required(key) else { throw SpoolJSONError(name(key), "not an array") }
        return items
    }

    func optionalArray(_ key: String) throws(SpoolJSONError) -> [JSONValue]? {
        guard let value = optional(key) else { return nil }
        guard case .array(let items) = value else { throw SpoolJSONError(name(key), "not an array") }
        return items
    }
}

/// Builds a record's object: optionals that are nil are left out, as `encodeIfPresent` does.
struct JSONMembers {
    var members: [String: JSONValue] = [:]

    mutating func set(_ key: String, _ value: String?) {
        if let value { members[key] = .string(value) }
    }

    mutating func set(_ key: String, _ value: Bool?) {
        if let value { members[key] = .bool(value) }
    }

    mutating func set(_ key: String, _ value: Int32?) {
        if let value { members[key] = .number(Double(value)) }
    }

    mutating func set(_ key: String, _ value: Int?) {
        if let value { members[key] = .number(Double(value)) }
    }

    mutating func set(_ key: String, _ value: Date?) {
        if let value { members[key] = .string(Timestamp.format(value)) }
    }

    mutating func set<Kind>(_ key: String, _ value: Identifier<Kind>) {
        members[key] = .string(value.rawValue)
    }

    mutating func set(_ key: String, _ values: [String]) {
        members[key] = .array(values.map(JSONValue.string))
    }

    var value: JSONValue { .object(members) }
}

extension AgentThread: SpoolRecord {
    public init(json: JSONValue) throws(SpoolJSONError) {
        let fields = try JSONFields(json)
        self.init(
            id: ThreadID(try fields.string("id")), agent: try fields.enumeration("agent", AgentKind.self),
            argv: try fields.strings("argv"), cwd: try fields.string("cwd"), repo: try fields.optionalString("repo"),
            branch: try fields.optionalString("branch"), pid: try fields.optionalInt32("pid"),
            state: try fields.enumeration("state", ThreadState.self), startedAt: try fields.date("started_at"),
            lastActivity: try fields.date("last_activity"), title: try fields.optionalString("title"),
            sessionID: try fields.optionalString("session_id"), exitCode: try fields.optionalInt32("exit_code"),
            hookedAt: try fields.optionalDate("hooked_at"))
    }

    public var json: JSONValue {
        var object = JSONMembers()
        object.set("id", id)
        object.set("agent", agent.rawValue)
        object.set("argv", argv)
        object.set("cwd", cwd)
        object.set("repo", repo)
        object.set("branch", branch)
        object.set("pid", pid)
        object.set("state", state.rawValue)
        object.set("started_at", startedAt)
        object.set("last_activity", lastActivity)
        object.set("title", title)
        object.set("session_id", sessionID)
        object.set("exit_code", exitCode)
        object.set("hooked_at", hookedAt)
        return object.value
    }
}

extension TestRun: SpoolRecord {
    public init(json: JSONValue) throws(SpoolJSONError) {
        try self.init(fields: JSONFields(json))
    }

    init(fields: JSONFields) throws(SpoolJSONError) {
        self.init(
            command: try fields.string("command"), exitCode: try fields.optionalInt32("exit_code"),
            at: try fields.date("at"))
    }

    public var json: JSONValue {
        var object = JSONMembers()
        object.set("command", command)
        object.set("exit_code", exitCode)
        object.set("at", at)
        return object.value
    }

    static func list(_ items: [JSONValue], path: String) throws(SpoolJSONError) -> [TestRun] {
        var runs: [TestRun] = []
        for item in items { runs.append(try TestRun(fields: JSONFields(item, path: path))) }
        return runs
    }
}

extension Evidence: SpoolRecord {
    public init(json: JSONValue) throws(SpoolJSONError) {
        try self.init(fields: JSONFields(json))
    }

    init(fields: JSONFields) throws(SpoolJSONError) {
        self.init(
            tool: try fields.string("tool"), command: try fields.optionalString("command"),
            paths: try fields.strings("paths"), purpose: try fields.optionalString("reason"),
            hookEvent: try fields.string("hook_event"), agent: try fields.enumeration("agent", AgentKind.self),
            sessionID: try fields.optionalString("session_id"), cwd: try fields.string("cwd"),
            repo: try fields.optionalString("repo"), branch: try fields.optionalString("branch"),
            head: try fields.optionalString("head"), changedFiles: try fields.strings("changed_files"),
            testsRun: try TestRun.list(try fields.array("tests_run"), path: "tests_run"),
            sideEffects: try fields.strings("side_effects"), network: try fields.strings("network"),
            credentials: try fields.strings("credentials"), nextStep: try fields.optionalString("next_step"))
    }

    public var json: JSONValue {
        var object = JSONMembers()
        object.set("tool", tool)
        object.set("command", command)
        object.set("paths", paths)
        object.set("reason", purpose)
        object.set("hook_event", hookEvent)
        object.set("agent", agent.rawValue)
        object.set("session_id", sessionID)
        object.set("cwd", cwd)
        object.set("repo", repo)
        object.set("branch", branch)
        object.set("head", head)
        object.set("changed_files", changedFiles)
        object.members["tests_run"] = .array(testsRun.map(\.json))
        object.set("side_effects", sideEffects)
        object.set("network", network)
        object.set("credentials", credentials)
        object.set("next_step", nextStep)
        return object.value
    }
}

extension ApprovalRequest: SpoolRecord {
    public init(json: JSONValue) throws(SpoolJSONError) {
        let fields = try JSONFields(json)
        self.init(
            id: RequestID(try fields.string("id")), threadID: ThreadID(try fields.string("thread_id")),
            createdAt: try fields.date("created_at"), deadlineAt: try fields.date("deadline_at"),
            evidence: try Evidence(fields: fields.object("evidence")),
            truncated: try fields.optionalBool("truncated") ?? false,
            actionSHA256: try fields.optionalString("action_sha256"),
            actionBytes: try fields.optionalInt("action_bytes"))
    }

    public var json: JSONValue {
        var object = JSONMembers()
        object.set("id", id)
        object.set("thread_id", threadID)
        object.set("created_at", createdAt)
        object.set("deadline_at", deadlineAt)
        object.members["evidence"] = evidence.json
        object.set("truncated", truncated)
        object.set("action_sha256", actionSHA256)
        object.set("action_bytes", actionBytes)
        return object.value
    }
}

extension Decision: SpoolRecord {
    public init(json: JSONValue) throws(SpoolJSONError) {
        let fields = try JSONFields(json)
        self.init(
            requestID: RequestID(try fields.string("request_id")),
            verdict: try fields.enumeration("verdict", DecisionVerdict.self),
            tier: try fields.enumeration("tier", Tier.self), rule: try fields.optionalString("rule"),
            reason: try fields.string("reason"), decidedBy: DecidedBy(encoded: try fields.string("decided_by")),
            decidedAt: try fields.date("decided_at"))
    }

    public var json: JSONValue {
        var object = JSONMembers()
        object.set("request_id", requestID)
        object.set("verdict", verdict.rawValue)
        object.set("tier", tier.rawValue)
        object.set("rule", rule)
        object.set("reason", reason)
        object.set("decided_by", decidedBy.encoded)
        object.set("decided_at", decidedAt)
        return object.value
    }
}

extension CorrelatedAnswer: SpoolRecord {
    public init(json: JSONValue) throws(SpoolJSONError) {
        let fields = try JSONFields(json)
        self.init(
            requestID: RequestID(try fields.string("request_id")),
            verdict: try fields.enumeration("verdict", DecisionVerdict.self),
            reason: try fields.string("reason"))
    }

    public var json: JSONValue {
        var object = JSONMembers()
        object.set("request_id", requestID)
        object.set("verdict", verdict.rawValue)
        object.set("reason", reason)
        return object.value
    }
}

extension ThreadEvidence: SpoolRecord {
    public init(json: JSONValue) throws(SpoolJSONError) {
        let fields = try JSONFields(json)
        // `tests_run` has a default: the synthesized decoder still requires the key.
        self.init(testsRun: try TestRun.list(try fields.array("tests_run"), path: "tests_run"))
    }

    public var json: JSONValue { .object(["tests_run": .array(testsRun.map(\.json))]) }
}
