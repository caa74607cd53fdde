public import FoundationEssentials

/// Which way a message type travels.
public enum MessageDirection: Sendable, Hashable {
    case hostToSupervisor, supervisorToHost
    /// Both ways (`ack`).
    case both
}

/// How a message type is numbered and delivered (ARCHITECTURE.md §4).
public enum MessageDelivery: Sendable, Hashable {
    /// Said once per link and not acknowledged (`hello`, `welcome`); its seq travels as sent (0).
    case unnumbered
    /// A liveness probe (`ping`, `pong`): seq 0 on the wire, whatever the envelope holds.
    case probe
    /// Numbered and acknowledged by seq; after a reconnect the sender resends it from its own
    /// state (`thread`, `request`: the spool's thread and request files).
    case acknowledged
    /// Numbered, acknowledged, and kept in the sender's outbox until then: the host spool's
    /// `outbox/` files, the supervisor's `outbox` table.
    case outbox
    /// An acknowledgement (`ack`): no body; its seq is the number it acknowledges.
    case acknowledgement
}

/// One protocol message type: its name on the wire (also the `type` of a spool outbox file and the
/// `kind` of a store outbox row), its direction and its delivery. Declared once, beside the message
/// enums (`HostMessage`, `SupervisorMessage`), whose tables bind each kind to its body type.
public struct MessageKind: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let direction: MessageDirection
    public let delivery: MessageDelivery

    public init(_ name: String, _ direction: MessageDirection, _ delivery: MessageDelivery) {
        self.name = name
        self.direction = direction
        self.delivery = delivery
    }

    /// Numbered by its sender (`seq > 0`) and acknowledged by the receiver.
    public var isAcknowledged: Bool { delivery == .acknowledged || delivery == .outbox }
    /// Kept in its sender's outbox until acknowledged.
    public var isKeptInOutbox: Bool { delivery == .outbox }

    public var description: String { name }
}

/// A message's body: its JSON fields sit beside `v`, `type` and `seq` on the wire.
public protocol MessageBody: Codable, Sendable, Equatable {
    /// Why a peer's value is unacceptable, or nil. Checked at decode for everything a host sends
    /// (hosts are untrusted): every id, length, number and timestamp is bounded there.
    var validationProblem: String? { get }
    /// The id the receiver applies this message once by (the store outbox's `message_id`): a
    /// decision's request id, a steering message's id; nil when there is none.
    var idempotencyKey: String? { get }
}

extension MessageBody {
    public var validationProblem: String? { nil }
    public var idempotencyKey: String? { nil }
}

/// One row of a message table: a kind, the body type it carries and the enum case holding it.
public struct MessageType<Message: Sendable>: Sendable {
    public let kind: MessageKind
    /// The body type (nil for `ack`, which has none).
    public let bodyType: (any MessageBody.Type)?
    let wrap: @Sendable (any MessageBody) -> Message?
    let unwrap: @Sendable (Message) -> (any MessageBody)?
    let acknowledgement: (make: @Sendable (UInt64) -> Message, seq: @Sendable (Message) -> UInt64?)?

    /// A message type with a body: `.body(.hello, Hello.self, HostMessage.hello) { if case … }`.
    public static func body<Body: MessageBody>(
        _ kind: MessageKind, _ type: Body.Type, _ wrap: @escaping @Sendable (Body) -> Message,
        unwrap: @escaping @Sendable (Message) -> Body?
    ) -> Self {
        Self(
            kind: kind, bodyType: type, wrap: { ($0 as? Body).map(wrap) }, unwrap: { unwrap($0) },
            acknowledgement: nil)
    }

    /// The acknowledgement, whose seq is the number it acknowledges.
    public static func acknowledgement(
        _ kind: MessageKind, _ make: @escaping @Sendable (UInt64) -> Message,
        unwrap: @escaping @Sendable (Message) -> UInt64?
    ) -> Self {
        Self(kind: kind, bodyType: nil, wrap: { _ in nil }, unwrap: { _ in nil }, acknowledgement: (make, unwrap))
    }

    func matches(_ message: Message) -> Bool {
        unwrap(message) != nil || acknowledgement?.seq(message) != nil
    }
}

/// Every message type one side sends, by name.
public struct MessageTable<Message: Sendable>: Sendable {
    public let types: [MessageType<Message>]
    let byName: [String: MessageType<Message>]

    public init(_ types: [MessageType<Message>]) {
        self.types = types
        var byName: [String: MessageType<Message>] = [:]
        for type in types where byName[type.kind.name] == nil { byName[type.kind.name] = type }
        self.byName = byName
    }

    public subscript(name: String) -> MessageType<Message>? { byName[name] }

    /// The row of `message` (a table lists every case of its enum: `MessageTableTests` checks it).
    func type(of message: Message) -> MessageType<Message>? { types.first { $0.matches(message) } }
}

/// The messages one side of the link sends: an enum whose cases its table declares.
public protocol ProtocolMessage: Sendable, Equatable {
    /// The way these messages travel.
    static var direction: MessageDirection { get }
    /// Every message type of this direction: name, delivery, body type and case, once.
    static var table: MessageTable<Self> { get }
}

extension ProtocolMessage {
    /// This message's type (nil only for a case missing from its table, which tests rule out).
    public var kind: MessageKind? { Self.table.type(of: self)?.kind }

    /// The body (nil for `ack`).
    public var body: (any MessageBody)? { Self.table.type(of: self)?.unwrap(self) }

    /// Why a peer's message is unacceptable, or nil (see ``MessageBody/validationProblem``).
    public var validationProblem: String? {
        if let body { return body.validationProblem }
        if let seq = Self.table.type(of: self)?.acknowledgement?.seq(self), seq > ProtocolLimits.maxSeq {
            return "ack seq out of range"
        }
        return nil
    }

    /// A message of a kind kept in an outbox, from its name and body as stored; nil for any other
    /// name, or a body that does not decode.
    public static func fromOutbox(kind: String, body: Data) -> Self? {
        guard let type = table[kind], type.kind.isKeptInOutbox, let bodyType = type.bodyType,
            let decoded = try? Timestamp.makeDecoder().decode(bodyType, from: body)
        else { return nil }
        return type.wrap(decoded)
    }
}

/// A message as the host spool's outbox keeps it: `{"type": <kind>, "body": {…}}`. Only kinds kept
/// in an outbox are accepted.
public struct OutboxEntry<Message: ProtocolMessage>: Codable, Sendable, Equatable {
    public var message: Message

    public init(_ message: Message) {
        self.message = message
    }

    enum CodingKeys: String, CodingKey { case type, body }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .type)
        guard let type = Message.table[name], type.kind.isKeptInOutbox, let bodyType = type.bodyType,
            let message = type.wrap(try container.decode(bodyType, forKey: .body))
        else {
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container, debugDescription: "unknown \(name)")
        }
        self.message = message
    }

    public func encode(to encoder: any Encoder) throws {
        guard let kind = message.kind, kind.isKeptInOutbox, let body = message.body else {
            throw EncodingError.invalidValue(
                message, .init(codingPath: [], debugDescription: "not a message kept in an outbox"))
        }
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind.name, forKey: .type)
        try container.encode(body, forKey: .body)
    }
}
