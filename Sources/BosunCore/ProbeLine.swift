public import FoundationEssentials

/// The wire line of a liveness probe (`ping`, `pong`) for any nonce, built from bytes instead of
/// through the JSON encoder, and a pong recognised by comparing bytes instead of decoding it.
/// Every link sends a ping and reads a pong once per keepalive interval: at 1,000 idle hosts the
/// encoder and the three decoder passes were a large part of bosund's idle CPU (issue 10).
///
/// The bytes come from the codec itself: the probe is encoded once with a marker nonce, which is
/// then cut out. A line equal to `line(nonce:)` is exactly what the codec writes for that probe, so
/// taking it as that probe is what decoding it would give. If the marker cannot be found (an
/// encoder that writes numbers otherwise), every line is encoded by the codec as before.
public struct ProbeLine: Sendable {
    private let prefix: [UInt8]
    private let suffix: [UInt8]
    private let cut: Bool
    private let encode: @Sendable (UInt64) -> Data

    /// A nonce whose digits appear nowhere else in a probe's line.
    static let marker: UInt64 = 1_234_567_890_123_456_789

    public init(_ encode: @escaping @Sendable (UInt64) -> Data) {
        self.encode = encode
        let whole = Array(encode(Self.marker))
        let digits = Array(String(Self.marker).utf8)
        var found: [Int] = []
        if whole.count >= digits.count {
            for start in 0...(whole.count - digits.count)
            where whole[start..<start + digits.count].elementsEqual(digits) {
                found.append(start)
            }
        }
        let isDigit = { (byte: UInt8) in byte >= 0x30 && byte <= 0x39 }
        if found.count == 1, let start = found.first,
            start == 0 || !isDigit(whole[start - 1]),
            start + digits.count == whole.count || !isDigit(whole[start + digits.count])
        {
            prefix = Array(whole[..<start])
            suffix = Array(whole[(start + digits.count)...])
            cut = true
        } else {
            prefix = []
            suffix = []
            cut = false
        }
    }

    /// The supervisor's ping.
    public static let ping = ProbeLine {
        ProtocolCodec().encode(Envelope(seq: 0, SupervisorMessage.ping(Probe(nonce: $0))))
    }
    /// A host's pong.
    public static let pong = ProbeLine { ProtocolCodec().encode(Envelope(seq: 0, HostMessage.pong(Probe(nonce: $0)))) }

    /// The probe's line with its newline, byte for byte what the codec encodes.
    public func line(nonce: UInt64) -> Data {
        guard cut else { return encode(nonce) }
        var data = Data(capacity: prefix.count + 20 + suffix.count)
        data.append(contentsOf: prefix)
        data.append(contentsOf: String(nonce).utf8)
        data.append(contentsOf: suffix)
        return data
    }

    /// True when `line` (without its newline, as framed) is exactly this probe with `nonce`.
    public func matches(_ line: Data, nonce: UInt64) -> Bool {
        let expected = self.line(nonce: nonce)
        return line.count + 1 == expected.count && line.elementsEqual(expected.dropLast())
    }
}

/// A held pong (`Probe.heldMs`) recognised by its bytes, as `ProbeLine` recognises a plain one:
/// the codec's line for two marker numbers, cut into the three pieces around them. An idle link
/// reads one of these per keepalive interval; any other spelling goes through the decoder.
public struct HeldPongLine: Sendable {
    /// The pieces around the two numbers, and whether the held time comes first (sorted keys:
    /// `held_ms` before `nonce`).
    private let pieces: [[UInt8]]
    private let heldFirst: Bool
    private let cut: Bool

    static let heldMarker: UInt64 = 987_654_321_987

    public static let pong = HeldPongLine {
        ProtocolCodec().encode(Envelope(seq: 0, HostMessage.pong(Probe(nonce: $0, heldMs: $1))))
    }

    init(_ encode: (UInt64, UInt64) -> Data) {
        let whole = Array(encode(ProbeLine.marker, Self.heldMarker).dropLast())
        let nonceAt = Self.onlyOccurrence(of: Array(String(ProbeLine.marker).utf8), in: whole)
        let heldAt = Self.onlyOccurrence(of: Array(String(Self.heldMarker).utf8), in: whole)
        guard let nonceAt, let heldAt else {
            (pieces, heldFirst, cut) = ([], false, false)
            return
        }
        let first = min(nonceAt, heldAt)
        let firstLength = (heldAt < nonceAt ? String(Self.heldMarker) : String(ProbeLine.marker)).utf8.count
        let second = max(nonceAt, heldAt)
        let secondLength = (heldAt < nonceAt ? String(ProbeLine.marker) : String(Self.heldMarker)).utf8.count
        guard first + firstLength <= second else {
            (pieces, heldFirst, cut) = ([], false, false)
            return
        }
        pieces = [
            Array(whole[..<first]), Array(whole[(first + firstLength)..<second]),
            Array(whole[(second + secondLength)...]),
        ]
        heldFirst = heldAt < nonceAt
        cut = true
    }

    private static func onlyOccurrence(of digits: [UInt8], in whole: [UInt8]) -> Int? {
        guard whole.count >= digits.count else { return nil }
        let isDigit = { (byte: UInt8) in byte >= 0x30 && byte <= 0x39 }
        var found: [Int] = []
        for start in 0...(whole.count - digits.count) where whole[start..<start + digits.count].elementsEqual(digits) {
            found.append(start)
        }
        guard found.count == 1, let start = found.first else { return nil }
        guard start == 0 || !isDigit(whole[start - 1]) else { return nil }
        guard start + digits.count == whole.count || !isDigit(whole[start + digits.count]) else { return nil }
        return start
    }

    /// The held time (ms) when `line` (without its newline) is exactly the codec's held pong for
    /// `nonce` with a held time within `Probe.maxHoldMs`; nil otherwise (decode it instead).
    public func heldMs(_ line: Data, nonce: UInt64) -> UInt64? {
        guard cut else { return nil }
        return line.withUnsafeBytes { raw -> UInt64? in
            let bytes = raw.bindMemory(to: UInt8.self)
            var index = 0
            func expect(_ piece: [UInt8]) -> Bool {
                guard bytes.count - index >= piece.count else { return false }
                for byte in piece {
                    guard bytes[index] == byte else { return false }
                    index += 1
                }
                return true
            }
            /// A number as the encoder writes it: digits, no leading zero, at most 19 of them.
            func number() -> UInt64? {
                let start = index
                var value: UInt64 = 0
                while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39, index - start < 19 {
                    value = value * 10 + UInt64(bytes[index] - 0x30)
                    index += 1
                }
                let length = index - start
                guard length > 0, length == 1 || bytes[start] != 0x30 else { return nil }
                guard index == bytes.count || bytes[index] < 0x30 || bytes[index] > 0x39 else { return nil }
                return value
            }
            guard expect(pieces[0]), let first = number(), expect(pieces[1]), let second = number(),
                expect(pieces[2]), index == bytes.count
            else { return nil }
            let (held, echoed) = heldFirst ? (first, second) : (second, first)
            guard echoed == nonce, held <= Probe.maxHoldMs else { return nil }
            return held
        }
    }
}
