public import FoundationEssentials

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

    // One line (with its newline) for a message, as its table row says: the body's fields beside
    // `v`, `type` and `seq`; a probe with seq 0, an ack with the number it acknowledges.
    public func encode(_ envelope: Envelope<HostMessage>) -> Data { line(for: envelope) }

    public func encode(_ envelope: Envelope<SupervisorMessage>) -> Data { line(for: envelope) }

    private func line<Message: ProtocolMessage>(for envelope: Envelope<Message>) -> Data {
        // Every case has a row (MessageTableTests); an empty object would be rejected by the peer.
        guard let type = Message.table.type(of: envelope.message) else { return Data("{}\n".utf8) }
        if let seq = type.acknowledgement?.seq(envelope.message) {
            return line(type: type.kind.name, seq: seq, body: Empty())
        }
        guard let body = type.unwrap(envelope.message) else { return Data("{}\n".utf8) }
        return line(type: type.kind.name, seq: type.kind.delivery == .probe ? 0 : envelope.seq, body: body)
    }

    // MARK: Decoding

    /// Decodes one line (without its newline) sent by a host. Every value in the result is in range
    /// (``MessageBody/validationProblem``): a host's numbers never reach a conversion that could trap.
    public func decodeHostMessage(_ line: Data) throws(ProtocolError) -> Envelope<HostMessage> {
        try decode(HostMessage.self, line)
    }

    /// Decodes one line (without its newline) sent by the supervisor.
    public func decodeSupervisorMessage(_ line: Data) throws(ProtocolError) -> Envelope<SupervisorMessage> {
        try decode(SupervisorMessage.self, line)
    }

    /// Decodes one line of `Message`'s direction by its table; what a host sends is range-checked.
    public func decode<Message: ProtocolMessage>(_: Message.Type, _ line: Data) throws(ProtocolError)
        -> Envelope<Message>
    {
        let (head, object) = try header(line)
        guard let type = Message.table[head.type] else { throw ProtocolError(.unknownType, head.type) }
        let envelope: Envelope<Message>
        if let acknowledgement = type.acknowledgement {
            envelope = Envelope(seq: 0, acknowledgement.make(head.seq))
        } else if let bodyType = type.bodyType, let message = type.wrap(try body(bodyType, object)) {
            envelope = Envelope(seq: type.kind.delivery == .probe ? 0 : head.seq, message)
        } else {
            throw ProtocolError(.unknownType, head.type)
        }
        if Message.direction == .hostToSupervisor, let problem = envelope.message.validationProblem {
            throw ProtocolError(.outOfRange, problem)
        }
        return envelope
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
        guard (try? JSONDecoder().decode(JSONObjectProbe.self, from: line)) != nil else {
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

    private func body<T: MessageBody>(_ type: T.Type, _ line: Data) throws(ProtocolError) -> any MessageBody {
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

/// Decodes from any well-formed JSON object and from nothing else (a syntax error or another top-level
/// value fails), without keeping its members.
struct JSONObjectProbe: Decodable {
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: AnyKey.self)
    }
}
