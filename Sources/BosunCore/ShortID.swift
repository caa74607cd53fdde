import Foundation

/// Random lowercase hex identifiers for threads and requests: short enough to type on a phone.
public enum ShortID {
    public static func make(bytes: Int = 4) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
