import FoundationEssentials

/// Why a JSON document could not be read: what and where (byte offset).
public struct JSONReadError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case unexpectedEnd = "unexpected end of input"
            case unexpectedByte = "unexpected byte"
            case invalidUTF8 = "invalid UTF-8"
            case invalidEscape = "invalid escape"
            case invalidNumber = "invalid number"
            case numberOutOfRange = "number out of range"
            case tooDeep = "nested too deeply"
            case trailingData = "data after the document"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let unexpectedEnd = Code(.unexpectedEnd)
        public static let unexpectedByte = Code(.unexpectedByte)
        public static let invalidUTF8 = Code(.invalidUTF8)
        public static let invalidEscape = Code(.invalidEscape)
        public static let invalidNumber = Code(.invalidNumber)
        public static let numberOutOfRange = Code(.numberOutOfRange)
        public static let tooDeep = Code(.tooDeep)
        public static let trailingData = Code(.trailingData)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let offset: Int

    public init(_ code: Code, at offset: Int) {
        self.code = code
        self.offset = offset
    }

    public var description: String { "\(code) at byte \(offset)" }
}

/// A small RFC 8259 reader for the hook path (issue 10): the agent's hook input, the spool's records
/// and transcript lines are read without `JSONDecoder`, whose first use per type (generic metadata
/// instantiation, conformance lookups) was most of the hook's CPU.
///
/// Accepts what `JSONDecoder` accepts for these documents (differential tests:
/// `JSONReaderTests`): any top-level value, UTF-8 (a leading byte-order mark is skipped), numbers
/// as doubles (a number that does not fit one is an error, as it is for `JSONDecoder`), the first
/// of duplicate keys counts, one trailing comma in an array or object is accepted. Never traps: nesting deeper than ``maxDepth``, invalid
/// UTF-8, lone surrogates, control characters in strings and trailing data are errors.
public struct JSONReader {
    /// As `JSONDecoder`'s limit.
    public static let maxDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Parses one JSON document.
    public static func parse(_ data: some Collection<UInt8>) throws(JSONReadError) -> JSONValue {
        let result: Result<JSONValue, JSONReadError>? = data.withContiguousStorageIfAvailable { buffer in
            parse(buffer: buffer)
        }
        switch result ?? Array(data).withUnsafeBufferPointer({ parse(buffer: $0) }) {
        case .success(let value): return value
        case .failure(let error): throw error
        }
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONReadError> {
        var reader = JSONReader(buffer)
        do throws(JSONReadError) {
            if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { reader.index = 3 }
            reader.skipWhitespace()
            let value = try reader.value(depth: 0)
            reader.skipWhitespace()
            guard reader.index == buffer.count else { throw JSONReadError(.trailingData, at: reader.index) }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    // MARK: Values

    private mutating func value(depth: Int) throws(JSONReadError) -> JSONValue {
        guard index < bytes.count else { throw JSONReadError(.unexpectedEnd, at: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try number())
        default:
            throw JSONReadError(.unexpectedByte, at: index)
        }
    }

    private mutating func object(depth: Int) throws(JSONReadError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw JSONReadError(.tooDeep, at: index) }
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            guard try peek() == UInt8(ascii: "\"") else { throw JSONReadError(.unexpectedByte, at: index) }
            let key = try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            let member = try value(depth: depth)
            // As JSONDecoder: the first of duplicate keys counts.
            if members[key] == nil { members[key] = member }
            skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
                // As JSONDecoder: one trailing comma is accepted.
                if try peek() == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default:
                throw JSONReadError(.unexpectedByte, at: index)
            }
        }
    }

    private mutating func array(depth: Int) throws(JSONReadError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw JSONReadError(.tooDeep, at: index) }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try value(depth: depth))
            skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
                if try peek() == UInt8(ascii: "]") {
                    index += 1
                    return .array(elements)
                }
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default:
                throw JSONReadError(.unexpectedByte, at: index)
            }
        }
    }

    // MARK: Strings

    private mutating func string() throws(JSONReadError) -> String {
        index += 1  // the opening quote
        let start = index
        // The common case: no escape, so the bytes are the string once validated.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = try decode(start..<index)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw JSONReadError(.unexpectedByte, at: index) }
            index += 1
        }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: try decode(start..<index).unicodeScalars)
        while true {
            guard index < bytes.count else { throw JSONReadError(.unexpectedEnd, at: index) }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(scalars)
            }
            if byte == UInt8(ascii: "\\") {
                scalars.append(try escape())
                continue
            }
            let runStart = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") {
                guard bytes[index] >= 0x20 else { throw JSONReadError(.unexpectedByte, at: index) }
                index += 1
            }
            scalars.append(contentsOf: try decode(runStart..<index).unicodeScalars)
        }
    }

    private func decode(_ range: Range<Int>) throws(JSONReadError) -> String {
        let slice = UnsafeBufferPointer(rebasing: bytes[range])
        if slice.allSatisfy({ $0 < 0x80 }) { return String(decoding: slice, as: UTF8.self) }
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw JSONReadError(.invalidUTF8, at: range.lowerBound)
        }
        return text
    }

    /// One escape sequence at `index` (the backslash).
    private mutating func escape() throws(JSONReadError) -> Unicode.Scalar {
        let start = index
        index += 1
        guard index < bytes.count else { throw JSONReadError(.unexpectedEnd, at: index) }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try hex4()
            if (0xD800...0xDBFF).contains(unit) {
                // A high surrogate must be followed by an escaped low one.
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { throw JSONReadError(.invalidEscape, at: start) }
                index += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw JSONReadError(.invalidEscape, at: start) }
                let value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                guard let scalar = Unicode.Scalar(value) else { throw JSONReadError(.invalidEscape, at: start) }
                return scalar
            }
            guard let scalar = Unicode.Scalar(UInt32(unit)) else { throw JSONReadError(.invalidEscape, at: start) }
            return scalar
        default:
            throw JSONReadError(.invalidEscape, at: start)
        }
    }

    private mutating func hex4() throws(JSONReadError) -> UInt16 {
        guard index + 4 <= bytes.count else { throw JSONReadError(.unexpectedEnd, at: bytes.count) }
        var unit: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONReadError(.invalidEscape, at: index)
            }
            unit = unit << 4 | UInt16(digit)
            index += 1
        }
        return unit
    }

    // MARK: Numbers and literals

    /// RFC 8259's number grammar; the value as `Double` (correctly rounded by the standard library).
    private mutating func number() throws(JSONReadError) -> Double {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw JSONReadError(.unexpectedEnd, at: index) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits() > 0 else { throw JSONReadError(.invalidNumber, at: start) }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw JSONReadError(.invalidNumber, at: start) }
        }
        let mantissaEnd = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard digits() > 0 else { throw JSONReadError(.invalidNumber, at: start) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else { throw JSONReadError(.invalidNumber, at: start) }
        guard value.isFinite else { throw JSONReadError(.numberOutOfRange, at: start) }
        // As JSONDecoder: a non-zero number that rounds to zero (1e-400) is out of range too.
        if value == 0,
            bytes[start..<mantissaEnd].contains(where: { (UInt8(ascii: "1")...UInt8(ascii: "9")).contains($0) })
        {
            throw JSONReadError(.numberOutOfRange, at: start)
        }
        return value
    }

    private mutating func digits() -> Int {
        let start = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        return index - start
    }

    private mutating func literal(_ word: StaticString) throws(JSONReadError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw JSONReadError(.unexpectedEnd, at: index) }
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
        for offset in 0..<count where bytes[index + offset] != expected[offset] {
            throw JSONReadError(.unexpectedByte, at: index + offset)
        }
        index += count
    }

    private mutating func peek() throws(JSONReadError) -> UInt8 {
        guard index < bytes.count else { throw JSONReadError(.unexpectedEnd, at: index) }
        return bytes[index]
    }

    private mutating func expect(_ byte: UInt8) throws(JSONReadError) {
        guard try peek() == byte else { throw JSONReadError(.unexpectedByte, at: index) }
        index += 1
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }
}
