/// Reads a JSON array of strings, as `saveThread` stores argv: listings decode thousands of these,
/// and Foundation's JSON parser costs several times more per array. Nil for anything that is not
/// exactly such an array (the caller then falls back to the full parser); never traps.
enum JSONStringArray {
    static func decode(_ text: String) -> [String]? {
        var text = text
        guard let items = text.withUTF8({ bytes in decode(bytes, nulls: false) }) else { return nil }
        return items.compactMap { $0 }
    }

    /// The same, with `null` allowed for an element.
    static func decodeOptionals(_ text: String) -> [String?]? {
        var text = text
        return text.withUTF8 { bytes in decode(bytes, nulls: true) }
    }

    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, nulls: Bool) -> [String?]? {
        var index = 0
        func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return nil }
        index += 1
        skipSpace()
        var result: [String?] = []
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            skipSpace()
            return index == bytes.count ? result : nil
        }
        while true {
            if nulls, index + 4 <= bytes.count, bytes[index] == UInt8(ascii: "n"),
                bytes[index + 1] == UInt8(ascii: "u"),
                bytes[index + 2] == UInt8(ascii: "l"), bytes[index + 3] == UInt8(ascii: "l")
            {
                index += 4
                result.append(nil)
            } else {
                guard let string = readString(bytes, &index) else { return nil }
                result.append(string)
            }
            skipSpace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                skipSpace()
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { return nil }
            index += 1
            skipSpace()
            return index == bytes.count ? result : nil
        }
    }

    /// A string literal at `index` (which must be its opening quote); moves past its closing quote.
    private static func readString(_ bytes: UnsafeBufferPointer<UInt8>, _ index: inout Int) -> String? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") {
            guard bytes[index] >= 0x20 else { return nil }
            index += 1
        }
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "\"") {
            index += 1
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<(index - 1)]), as: UTF8.self)
        }
        var out = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var value = hex4(bytes, &index) else { return nil }
                    if (0xD800...0xDBFF).contains(value) {
                        // A high surrogate must be followed by an escaped low one.
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { return nil }
                        index += 2
                        guard let low = hex4(bytes, &index), (0xDC00...0xDFFF).contains(low) else { return nil }
                        value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(value) else { return nil }
                    out.append(contentsOf: String(Character(scalar)).utf8)
                default: return nil
                }
            default:
                guard byte >= 0x20 else { return nil }
                out.append(byte)
            }
        }
        return nil
    }

    private static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, _ index: inout Int) -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            index += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
