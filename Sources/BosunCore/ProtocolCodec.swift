import Foundation

/// A protocol error: malformed input from the peer. Compared by code.
public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case lineTooLong = "line too long"
            case invalidUTF8 = "invalid UTF-8"
            case malformedJSON = "malformed JSON"
            case unsupportedVersion = "unsupported protocol version"
            case unknownType = "unknown message type"
            case invalidMessage = "invalid message"
            case outOfRange = "value out of range"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let lineTooLong = Code(.lineTooLong)
        public static let invalidUTF8 = Code(.invalidUTF8)
        public static let malformedJSON = Code(.malformedJSON)
        public static let unsupportedVersion = Code(.unsupportedVersion)
        public static let unknownType = Code(.unknownType)
        public static let invalidMessage = Code(.invalidMessage)
        /// A number, length or timestamp outside what the protocol allows (e.g. a seq over 2^63-1).
        public static let outOfRange = Code(.outOfRange)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String = "") {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail.isEmpty ? code.description : "\(code): \(detail)" }

    public static func == (lhs: ProtocolError, rhs: ProtocolError) -> Bool { lhs.code == rhs.code }
}

/// Encodes and decodes host-protocol lines. Pure: no I/O.
public struct ProtocolCodec: Sendable {
    public init() {}

    // MARK: Encoding

    public func encode(_ envelope: Envelope<HostMessage>) -> Data {
        switch envelope.message {
        case .hello(let hello): return line(type: "hello", seq: envelope.seq, body: hello)
        case .thread(let thread): return line(type: "thread", seq: envelope.seq, body: thread)
        case .request(let request): return line(type: "request", seq: envelope.seq, body: request)
        case .outcome(let outcome): return line(type: "outcome", seq: envelope.seq, body: outcome)
        case .localDecision(let local): return line(type: "local_decision", seq: envelope.seq, body: local)
        case .event(let event): return line(type: "event", seq: envelope.seq, body: event)
        case .ack(let seq): return line(type: "ack", seq: seq, body: Empty())
        case .pong(let probe): return line(type: "pong", seq: 0, body: probe)
        }
    }

    public func encode(_ envelope: Envelope<SupervisorMessage>) -> Data {
        switch envelope.message {
        case .welcome(let welcome): return line(type: "welcome", seq: envelope.seq, body: welcome)
        case .decision(let decision): return line(type: "decision", seq: envelope.seq, body: decision)
        case .steer(let steer): return line(type: "steer", seq: envelope.seq, body: steer)
        case .pause(let pause): return line(type: "pause", seq: envelope.seq, body: pause)
        case .resume(let resume): return line(type: "resume", seq: envelope.seq, body: resume)
        case .ack(let seq): return line(type: "ack", seq: seq, body: Empty())
        case .ping(let probe): return line(type: "ping", seq: 0, body: probe)
        }
    }

    // MARK: Decoding

    /// Decodes one line (without its newline) sent by a host. Every value in the result is in range
    /// (`HostMessage.validationProblem`): a host's numbers never reach a conversion that could trap.
    public func decodeHostMessage(_ line: Data) throws(ProtocolError) -> Envelope<HostMessage> {
        let envelope = try decodeUncheckedHostMessage(line)
        if let problem = envelope.message.validationProblem { throw ProtocolError(.outOfRange, problem) }
        return envelope
    }

    private func decodeUncheckedHostMessage(_ line: Data) throws(ProtocolError) -> Envelope<HostMessage> {
        let (head, object) = try header(line)
        switch head.type {
        case "hello": return Envelope(seq: head.seq, .hello(try body(Hello.self, object)))
        case "thread": return Envelope(seq: head.seq, .thread(try body(AgentThread.self, object)))
        case "request": return Envelope(seq: head.seq, .request(try body(ApprovalRequest.self, object)))
        case "outcome": return Envelope(seq: head.seq, .outcome(try body(Outcome.self, object)))
        case "local_decision": return Envelope(seq: head.seq, .localDecision(try body(LocalDecision.self, object)))
        case "event": return Envelope(seq: head.seq, .event(try body(ThreadEvent.self, object)))
        case "ack": return Envelope(seq: 0, .ack(head.seq))
        case "pong": return Envelope(seq: 0, .pong(try body(Probe.self, object)))
        default: throw ProtocolError(.unknownType, head.type)
        }
    }

    /// Decodes one line (without its newline) sent by the supervisor.
    public func decodeSupervisorMessage(_ line: Data) throws(ProtocolError) -> Envelope<SupervisorMessage> {
        let (head, object) = try header(line)
        switch head.type {
        case "welcome": return Envelope(seq: head.seq, .welcome(try body(Welcome.self, object)))
        case "decision": return Envelope(seq: head.seq, .decision(try body(Decision.self, object)))
        case "steer": return Envelope(seq: head.seq, .steer(try body(Steer.self, object)))
        case "pause": return Envelope(seq: head.seq, .pause(try body(Pause.self, object)))
        case "resume": return Envelope(seq: head.seq, .resume(try body(Resume.self, object)))
        case "ack": return Envelope(seq: 0, .ack(head.seq))
        case "ping": return Envelope(seq: 0, .ping(try body(Probe.self, object)))
        default: throw ProtocolError(.unknownType, head.type)
        }
    }

    // MARK: Internals

    private struct Empty: Codable {}

    private struct Header: Decodable {
        var v: Int
        var type: String
        var seq: UInt64
    }

    private struct Framed<Body: Encodable>: Encodable {
        var type: String
        var seq: UInt64
        var body: Body

        enum CodingKeys: String, CodingKey { case v, type, seq }

        func encode(to encoder: any Encoder) throws {
            try body.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(HostProtocol.version, forKey: .v)
            try container.encode(type, forKey: .type)
            try container.encode(seq, forKey: .seq)
        }
    }

    private func line<Body: Encodable>(type: String, seq: UInt64, body: Body) -> Data {
        // Encoding our own value types cannot fail; an empty object would be rejected by the peer.
        var data = (try? Timestamp.makeEncoder().encode(Framed(type: type, seq: seq, body: body))) ?? Data("{}".utf8)
        data.append(0x0A)
        return data
    }

    private func header(_ line: Data) throws(ProtocolError) -> (Header, Data) {
        guard line.count <= HostProtocol.maxLineBytes else {
            throw ProtocolError(.lineTooLong, "\(line.count) bytes")
        }
        guard String(validating: line, as: UTF8.self) != nil else {
            throw ProtocolError(.invalidUTF8)
        }
        // Nesting is bounded before any parser recurses: links decode on small thread stacks.
        guard Self.nestingDepth(line) <= HostProtocol.maxNesting else {
            throw ProtocolError(.outOfRange, "JSON nested deeper than \(HostProtocol.maxNesting)")
        }
        guard (try? JSONSerialization.jsonObject(with: line)) is [String: Any] else {
            throw ProtocolError(.malformedJSON, "not a JSON object")
        }
        let head: Header
        do {
            head = try JSONDecoder().decode(Header.self, from: line)
        } catch {
            throw ProtocolError(.invalidMessage, "missing or wrong v/type/seq")
        }
        guard head.v == HostProtocol.version else {
            throw ProtocolError(.unsupportedVersion, "v=\(head.v)")
        }
        guard head.seq <= ProtocolLimits.maxSeq else {
            throw ProtocolError(.outOfRange, "seq \(head.seq) is over \(ProtocolLimits.maxSeq)")
        }
        return (head, line)
    }

    /// The deepest nesting of arrays and objects in a JSON text (strings skipped), in one pass.
    static func nestingDepth(_ line: Data) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for byte in line {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    private func body<T: Decodable>(_ type: T.Type, _ line: Data) throws(ProtocolError) -> T {
        do {
            return try Timestamp.makeDecoder().decode(T.self, from: line)
        } catch let error as DecodingError {
            throw ProtocolError(.invalidMessage, Self.describe(error))
        } catch {
            throw ProtocolError(.invalidMessage, "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "bad field \(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// Splits a byte stream into lines, enforcing the protocol's line limit without buffering more than it.
public struct LineFramer: Sendable {
    public enum Item: Sendable, Equatable {
        case line(Data)
        /// A line exceeded the limit; its bytes were discarded up to the next newline.
        case oversized(Int)
    }

    private var buffer = Data()
    private var discarding = false
    private var discarded = 0
    public let limit: Int

    public init(limit: Int = HostProtocol.maxLineBytes) {
        self.limit = limit
    }

    public mutating func append(_ bytes: Data) -> [Item] {
        var items: [Item] = []
        var rest = bytes[...]
        while let newline = rest.firstIndex(of: 0x0A) {
            let chunk = rest[rest.startIndex..<newline]
            rest = rest[rest.index(after: newline)...]
            if discarding {
                items.append(.oversized(discarded + chunk.count))
                discarding = false
                discarded = 0
            } else if buffer.count + chunk.count > limit {
                items.append(.oversized(buffer.count + chunk.count))
                buffer.removeAll(keepingCapacity: false)
            } else {
                buffer.append(contentsOf: chunk)
                if !buffer.isEmpty { items.append(.line(buffer)) }
                buffer = Data()
            }
        }
        if discarding {
            discarded += rest.count
        } else if buffer.count + rest.count > limit {
            discarding = true
            discarded = buffer.count + rest.count
            buffer.removeAll(keepingCapacity: false)
        } else {
            buffer.append(contentsOf: rest)
        }
        return items
    }
}
