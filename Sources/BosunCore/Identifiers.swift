/// What kind of thing an ``Identifier`` names; a tag type, never instantiated.
public protocol IdentifierKind: Sendable {}

/// A typed identifier: a host name, a thread id, a request id are different types, so one cannot
/// be passed for another. On the wire and in JSON it is the plain string (Codable as a single
/// value), so typing a field never changes the host protocol. Any string is accepted; validation
/// (`ProtocolLimits.isToken`, host-name rules) stays where the input arrives.
public struct Identifier<Kind: IdentifierKind>: RawRepresentable, Hashable, Comparable, Sendable, Codable,
    CodingKeyRepresentable, CustomStringConvertible, ExpressibleByStringInterpolation
{
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public init(stringInterpolation: DefaultStringInterpolation) {
        rawValue = String(stringInterpolation: stringInterpolation)
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// As a dictionary key in JSON it is the plain string too (an object key, not an array of pairs).
    public var codingKey: any CodingKey { Key(stringValue: rawValue) }

    public init?<T: CodingKey>(codingKey: T) { rawValue = codingKey.stringValue }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public static func < (lhs: Identifier, rhs: Identifier) -> Bool { lhs.rawValue < rhs.rawValue }
}

public enum HostNameKind: IdentifierKind {}
public enum ThreadIDKind: IdentifierKind {}
public enum RequestIDKind: IdentifierKind {}

/// A host's configured name (`[[hosts]] name`), unique in the fleet.
public typealias HostName = Identifier<HostNameKind>
/// A thread's id, unique on its host (the supervisor keys threads by host and id).
public typealias ThreadID = Identifier<ThreadIDKind>
/// A request's id, unique on its host (the supervisor keys requests by host and id).
public typealias RequestID = Identifier<RequestIDKind>
