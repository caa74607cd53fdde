import BosunCore
import Foundation
import Testing

/// Issue 10: pings are built from bytes and pongs recognised by comparing bytes; both must be
/// exactly what the codec writes and reads, or a link would send what a host rejects, or take a
/// line for a pong that decoding would not.
@Suite struct ProbeLineTests {
    let codec = ProtocolCodec()
    static let nonces: [UInt64] = [0, 1, 9, 10, 99, 12_345, 1_234_567_890_123_456_789, UInt64(Int64.max)]

    @Test(arguments: nonces) func pingBytesAreTheCodecs(nonce: UInt64) throws {
        let line = ProbeLine.ping.line(nonce: nonce)
        #expect(line == codec.encode(Envelope(seq: 0, SupervisorMessage.ping(Probe(nonce: nonce)))))
        #expect(try codec.decodeSupervisorMessage(line.dropLast()) == Envelope(seq: 0, .ping(Probe(nonce: nonce))))
    }

    @Test(arguments: nonces) func aPongIsRecognisedExactlyWhenItDecodesAsThatPong(nonce: UInt64) throws {
        let line = codec.encode(Envelope(seq: 0, HostMessage.pong(Probe(nonce: nonce)))).dropLast()
        #expect(ProbeLine.pong.matches(Data(line), nonce: nonce))
        #expect(try codec.decodeHostMessage(Data(line)) == Envelope(seq: 0, .pong(Probe(nonce: nonce))))
        #expect(!ProbeLine.pong.matches(Data(line), nonce: nonce &+ 1))
        // Another spelling of the same pong is not matched by bytes (it goes through the decoder).
        let spaced = Data(String(decoding: line, as: UTF8.self).replacingOccurrences(of: ",", with: ", ").utf8)
        #expect(!ProbeLine.pong.matches(spaced, nonce: nonce))
        // Neither is a ping with the same nonce, nor the pong with something after it.
        #expect(!ProbeLine.pong.matches(ProbeLine.ping.line(nonce: nonce).dropLast(), nonce: nonce))
        #expect(!ProbeLine.pong.matches(Data(line) + Data(" ".utf8), nonce: nonce))
    }
}
