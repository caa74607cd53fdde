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
