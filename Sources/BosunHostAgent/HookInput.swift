import BosunCore
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The agent that runs a hook: its input and answer shapes differ (AGENTS.md).
public enum HookAgent: String, Sendable, Codable, CaseIterable {
    case claude, codex
}

/// Any JSON value, as agents send it in hook payloads and as Bosun writes hook answers and settings.
/// Numbers are doubles: integers beyond 2^53 lose precision (no hook field needs them).
public indirect enum JSONValue: Sendable, Equatable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses one JSON document (any top-level value) with ``JSONReader`` (no `JSONDecoder`: issue 10).
    public init(parsing data: some Collection<UInt8>) throws(JSONReadError) {
        self = try JSONReader.parse(data)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The member `key` of an object; `nil` for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// Compact JSON with keys sorted by code point at every level, UTF-8 unescaped, `/` unescaped, integral
    /// numbers without a fraction — the same bytes serde_json writes for a key-sorted value, so hashes over it
    /// agree with Codex's.
    public var canonicalJSON: String {
        var output = ""
        write(to: &output, indent: nil, level: 0)
        return output
    }

    /// Like ``canonicalJSON`` but indented by two spaces, for files people read (`settings.json`).
    public var prettyJSON: String {
        var output = ""
        write(to: &output, indent: "  ", level: 0)
        return output
    }

    private func write(to output: inout String, indent: String?, level: Int) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .number(let value): output += Self.render(value)
        case .string(let value): Self.writeString(value, to: &output)
        case .array(let values):
            guard !values.isEmpty else {
                output += "[]"
                return
            }
            output += "["
            for (index, value) in values.enumerated() {
                if index > 0 { output += "," }
                Self.newline(&output, indent: indent, level: level + 1)
                value.write(to: &output, indent: indent, level: level + 1)
            }
            Self.newline(&output, indent: indent, level: level)
            output += "]"
        case .object(let members):
            guard !members.isEmpty else {
                output += "{}"
                return
            }
            output += "{"
            let keys = members.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
            for (index, key) in keys.enumerated() {
                if index > 0 { output += "," }
                Self.newline(&output, indent: indent, level: level + 1)
                Self.writeString(key, to: &output)
                output += indent == nil ? ":" : ": "
                members[key]?.write(to: &output, indent: indent, level: level + 1)
            }
            Self.newline(&output, indent: indent, level: level)
            output += "}"
        }
    }

    private static func newline(_ output: inout String, indent: String?, level: Int) {
        guard let indent else { return }
        output += "\n" + String(repeating: indent, count: level)
    }

    private static func render(_ number: Double) -> String {
        if number.isFinite, number == number.rounded(), abs(number) < 9.007_199_254_740_992e15 {
            return String(Int64(number))
        }
        return number.isFinite ? "\(number)" : "null"
    }

    private static func writeString(_ string: String, to output: inout String) {
        output += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}

/// Why a hook payload could not be read.
public struct HookInputError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case malformedJSON = "malformed JSON"
            case notAnObject = "not a JSON object"
            case missingEventName = "missing hook_event_name"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let malformedJSON = Code(.malformedJSON)
        public static let notAnObject = Code(.notAnObject)
        public static let missingEventName = Code(.missingEventName)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String = "") {
        self.code = code
        self.detail = detail
    }

    public var description: String {
        "hook input: \(code)" + (detail.isEmpty ? "" : ": \(detail)")
    }

    public static func == (lhs: HookInputError, rhs: HookInputError) -> Bool { lhs.code == rhs.code }
}

/// One hook invocation's stdin, normalised across Claude Code and Codex (AGENTS.md "Hook input").
public struct HookInput: Sendable, Equatable {
    /// Exit code recorded for a tool call that failed without saying how (interrupted, an error object).
    public static let unknownFailureExitCode: Int32 = -1

    public var agent: HookAgent
    /// `hook_event_name`: `PreToolUse`, `PermissionRequest`, `PostToolUse`, `Stop`, …
    public var event: String
    public var sessionID: String?
    /// The agent's working directory.
    public var cwd: String?
    public var transcriptPath: String?
    public var permissionMode: String?
    public var toolName: String?
    public var toolInput: JSONValue?
    /// `tool_use_id`; PermissionRequest has none — use ``correlationKey``.
    public var toolUseID: String?
    /// The shell command: `tool_input.command` as given, or an argv array joined shell-escaped.
    public var command: String?
    /// `tool_input.description`: the model's stated reason.
    public var description: String?
    /// Files the tool touches: `file_path`/`path`/`notebook_path`, or the files an `apply_patch` names.
    public var paths: [String]
    public var toolResponse: JSONValue?
    /// How the tool call ended (PostToolUse), when the response says; ``unknownFailureExitCode`` for a
    /// failure without a code.
    public var exitCode: Int32?
    /// UserPromptSubmit.
    public var prompt: String?
    /// SessionStart: `startup`, `resume`, `clear`, `compact`.
    public var source: String?
    /// SessionEnd (Claude).
    public var reason: String?
    /// Stop: true when the agent is already continuing because of a Stop hook.
    public var stopHookActive: Bool?
    public var lastAssistantMessage: String?
    /// Codex only.
    public var turnID: String?
    /// Codex only.
    public var model: String?
    /// The whole payload, for fields not lifted above.
    public var raw: JSONValue

    public init(
        agent: HookAgent, event: String, sessionID: String? = nil, cwd: String? = nil, transcriptPath: String? = nil,
        permissionMode: String? = nil, toolName: String? = nil, toolInput: JSONValue? = nil,
        toolUseID: String? = nil, command: String? = nil, description: String? = nil, paths: [String] = [],
        toolResponse: JSONValue? = nil, exitCode: Int32? = nil, prompt: String? = nil, source: String? = nil,
        reason: String? = nil, stopHookActive: Bool? = nil, lastAssistantMessage: String? = nil,
        turnID: String? = nil, model: String? = nil, raw: JSONValue = .object([:])
    ) {
        self.agent = agent
        self.event = event
        self.sessionID = sessionID
        self.cwd = cwd
        self.transcriptPath = transcriptPath
        self.permissionMode = permissionMode
        self.toolName = toolName
        self.toolInput = toolInput
        self.toolUseID = toolUseID
        self.command = command
        self.description = description
        self.paths = paths
        self.toolResponse = toolResponse
        self.exitCode = exitCode
        self.prompt = prompt
        self.source = source
        self.reason = reason
        self.stopHookActive = stopHookActive
        self.lastAssistantMessage = lastAssistantMessage
        self.turnID = turnID
        self.model = model
        self.raw = raw
    }

    /// Reads a hook's stdin. Throws ``HookInputError`` for non-JSON, a non-object, or no `hook_event_name`;
    /// every other field is optional and read leniently.
    public static func parse(_ data: Data, agent: HookAgent) throws -> HookInput {
        let raw: JSONValue
        do {
            raw = try JSONValue(parsing: data)
        } catch {
            throw HookInputError(.malformedJSON, "\(data.count) bytes that are not JSON (\(error))")
        }
        guard case .object = raw else { throw HookInputError(.notAnObject) }
        guard let event = raw["hook_event_name"]?.stringValue, !event.isEmpty else {
            throw HookInputError(.missingEventName)
        }

        var input = HookInput(agent: agent, event: event, raw: raw)
        input.sessionID = raw["session_id"]?.stringValue
        input.cwd = raw["cwd"]?.stringValue
        input.transcriptPath = raw["transcript_path"]?.stringValue
        input.permissionMode = raw["permission_mode"]?.stringValue
        input.toolName = raw["tool_name"]?.stringValue
        input.toolInput = raw["tool_input"]
        input.toolUseID = raw["tool_use_id"]?.stringValue
        input.toolResponse = raw["tool_response"]
        input.prompt = raw["prompt"]?.stringValue
        input.source = raw["source"]?.stringValue
        input.reason = raw["reason"]?.stringValue
        input.stopHookActive = raw["stop_hook_active"]?.boolValue
        input.lastAssistantMessage = raw["last_assistant_message"]?.stringValue
        input.turnID = raw["turn_id"]?.stringValue
        input.model = raw["model"]?.stringValue

        if let toolInput = input.toolInput {
            input.command = Self.command(in: toolInput)
            input.description = toolInput["description"]?.stringValue
            input.paths = Self.paths(in: toolInput, toolName: input.toolName)
        }
        if let response = input.toolResponse {
            input.exitCode = Self.exitCode(in: response)
        }
        if input.exitCode == nil, event == "PostToolUseFailure" {
            input.exitCode = raw["error"].flatMap(Self.exitCode(in:)) ?? unknownFailureExitCode
        }
        return input
    }

    /// Finds this tool call's other hooks: SHA-256 of `session_id NUL tool_name NUL tool_input`, where
    /// tool_input is canonical JSON without its top-level `description` (PermissionRequest has no
    /// `tool_use_id`, and its description may differ from PreToolUse's).
    public var correlationKey: String {
        var input = toolInput ?? .null
        if case .object(var members) = input {
            members.removeValue(forKey: "description")
            input = .object(members)
        }
        return SHA256.hex((sessionID ?? "") + "\u{0}" + (toolName ?? "") + "\u{0}" + input.canonicalJSON)
    }

    // MARK: - Field extraction

    static func command(in toolInput: JSONValue) -> String? {
        for key in ["command", "cmd"] {
            switch toolInput[key] {
            case .string(let command): return command
            case .array(let argv):
                let words = argv.compactMap(\.stringValue)
                guard !words.isEmpty else { continue }
                return words.map(shellQuote).joined(separator: " ")
            default: continue
            }
        }
        return nil
    }

    /// `word` as one POSIX shell word: bare when it is plain, else single-quoted.
    static func shellQuote(_ word: String) -> String {
        let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")
        if !word.isEmpty, word.allSatisfy({ plain.contains($0) }) { return word }
        return "'" + word.replacingScalar("'", with: "'\\''") + "'"
    }

    static func paths(in toolInput: JSONValue, toolName: String?) -> [String] {
        var paths: [String] = []
        for key in ["file_path", "path", "notebook_path"] {
            if let path = toolInput[key]?.stringValue, !path.isEmpty { paths.append(path) }
        }
        var patchTexts: [String] = []
        for key in ["input", "patch", "command"] {
            switch toolInput[key] {
            case .string(let text): patchTexts.append(text)
            case .array(let words): patchTexts.append(contentsOf: words.compactMap(\.stringValue))
            default: break
            }
        }
        for text in patchTexts where toolName == "apply_patch" || text.contains("*** Begin Patch") {
            paths.append(contentsOf: patchPaths(text))
        }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// Files an `apply_patch` envelope names: `*** Add File:`, `*** Update File:`, `*** Delete File:`,
    /// and a rename's `*** Move to:`.
    static func patchPaths(_ patch: String) -> [String] {
        let markers = ["*** Add File:", "*** Update File:", "*** Delete File:", "*** Move to:"]
        var paths: [String] = []
        for line in patch.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let trimmed = line.trimmingSpaces()
            for marker in markers where trimmed.hasPrefix(marker) {
                let path = trimmed.dropFirst(marker.count).trimmingSpaces()
                if !path.isEmpty { paths.append(path) }
            }
        }
        return paths
    }

    /// The exit status a tool response reports: an explicit code (Claude object, Codex metadata, or the
    /// text "Exit code: N" / "Process exited with code N"), else failure markers, else success for a
    /// command result with output, else unknown.
    static func exitCode(in response: JSONValue) -> Int32? {
        switch response {
        case .string(let text):
            if let code = exitCode(inText: text) { return code }
            // Codex may send a JSON document as the string.
            if let nested = try? JSONValue(parsing: Data(text.utf8)), nested.objectValue != nil {
                return exitCode(in: nested)
            }
            return nil
        case .object:
            for key in ["exit_code", "exitCode", "returnCode", "return_code"] {
                if let code = response[key].flatMap(int32) { return code }
            }
            if let metadata = response["metadata"], let code = exitCode(in: metadata) { return code }
            if response["interrupted"]?.boolValue == true || response["is_error"]?.boolValue == true
                || response["isError"]?.boolValue == true || response["success"]?.boolValue == false
            {
                return unknownFailureExitCode
            }
            if let error = response["error"], error != .null, error != .string(""), error != .bool(false) {
                return unknownFailureExitCode
            }
            if response["stdout"] != nil || response["stderr"] != nil || response["interrupted"] != nil {
                return 0
            }
            return nil
        default:
            return nil
        }
    }

    private static let exitCodePattern: ScalarPattern? = try? ScalarPattern(
        #"(?i)(?:exit[ _]?code"?\s*[:=]?\s*|process exited with code\s+)(-?\d{1,10})\b"#
    )

    static func exitCode(inText text: String) -> Int32? {
        guard let pattern = exitCodePattern else { return nil }
        let scalars = Array(text.unicodeScalars)
        guard let match = pattern.firstMatch(in: scalars), let digits = match.groups[1] else { return nil }
        return Int32(String(String.UnicodeScalarView(scalars[digits])))
    }

    private static func int32(_ value: JSONValue) -> Int32? {
        switch value {
        case .number(let number):
            guard number == number.rounded(), let code = Int32(exactly: number) else { return nil }
            return code
        case .string(let text):
            return Int32(text)
        default:
            return nil
        }
    }
}

/// What the agent said it will do next: the end of the last assistant message in its transcript
/// (`transcript_path`: Claude Code's and Codex's JSON-lines logs). Only the file's tail is read
/// (a bounded read of a regular file, never a FIFO or device that could block the hook), the
/// text is redacted, then cut to its last `maxCharacters`.
public enum TranscriptTail {
    public static let maxCharacters = 500
    /// Bytes read from the end of the transcript.
    public static let tailBytes = 64 * 1024

    public static func nextStep(path: String?) -> String? {
        guard let path, !path.isEmpty, let data = readTail(path: path) else { return nil }
        return nextStep(tail: data)
    }

    /// The last assistant text in `tail` (whole JSON lines; a first, cut line is skipped).
    static func nextStep(tail: [UInt8]) -> String? {
        let lines = tail.split(separator: UInt8(ascii: "\n"))
        for line in lines.reversed() {
            guard let object = (try? JSONValue(parsing: Data(line)))?.objectValue,
                let text = assistantText(object)?.trimmingSpacesAndNewlines(), !text.isEmpty
            else { continue }
            let redacted = Redactor.redact(text)
            guard redacted.count > maxCharacters else { return redacted }
            return "…" + String(redacted.suffix(maxCharacters - 1))
        }
        return nil
    }

    /// Claude Code: `{"type":"assistant","message":{"content":[{"type":"text","text":…}]}}`;
    /// Codex: `{"type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text",…}]}}`
    /// or `{"type":"event_msg","payload":{"type":"agent_message","message":…}}`.
    static func assistantText(_ object: [String: JSONValue]) -> String? {
        if object["type"]?.stringValue == "assistant", let message = object["message"]?.objectValue {
            return text(of: message["content"])
        }
        if let payload = object["payload"]?.objectValue {
            if payload["type"]?.stringValue == "message", payload["role"]?.stringValue == "assistant" {
                return text(of: payload["content"])
            }
            if payload["type"]?.stringValue == "agent_message" { return payload["message"]?.stringValue }
        }
        if object["role"]?.stringValue == "assistant" { return text(of: object["content"]) }
        return nil
    }

    static func text(of content: JSONValue?) -> String? {
        if let text = content?.stringValue { return text }
        // Only an array made entirely of objects (as `as? [[String: Any]]` was).
        guard let items = content?.arrayValue else { return nil }
        let parts = items.compactMap(\.objectValue)
        guard parts.count == items.count else { return nil }
        let texts = parts.compactMap { part -> String? in
            guard let type = part["type"]?.stringValue, type == "text" || type == "output_text" else { return nil }
            return part["text"]?.stringValue
        }
        return texts.isEmpty ? nil : texts.joined(separator: "\n")
    }

    /// The last `tailBytes` of a regular file (without its first, partial line when cut).
    static func readTail(path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int64(info.st_size)
        let start = max(0, size - Int64(tailBytes))
        var buffer = [UInt8](repeating: 0, count: Int(size - start))
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress.map { $0 + filled }, raw.count - filled, off_t(start) + off_t(filled))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            filled += count
        }
        var tail = Array(buffer.prefix(filled))
        if start > 0, let newline = tail.firstIndex(of: UInt8(ascii: "\n")) { tail.removeFirst(newline + 1) }
        return tail
    }
}
