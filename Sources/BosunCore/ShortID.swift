import FoundationEssentials

/// Random lowercase hex identifiers for threads and requests: short enough to type on a phone.
public enum ShortID {
    public static func make(bytes: Int = 4) -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        var text = ""
        for _ in 0..<bytes {
            let byte = Int(UInt8.random(in: 0...255, using: &generator))
            text.append(digits[byte >> 4])
            text.append(digits[byte & 0x0F])
        }
        return text
    }
}
