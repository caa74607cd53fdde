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

    @Test(arguments: nonces) func aHeldPongIsRecognisedExactlyWhenItDecodesAsThatPong(nonce: UInt64) throws {
        for held: UInt64 in [0, 7, 10_000, Probe.maxHoldMs] {
            let pong = Probe(nonce: nonce, heldMs: held)
            let line = Data(codec.encode(Envelope(seq: 0, HostMessage.pong(pong))).dropLast())
            #expect(HeldPongLine.pong.heldMs(line, nonce: nonce) == held)
            #expect(try codec.decodeHostMessage(line) == Envelope(seq: 0, .pong(pong)))
            #expect(HeldPongLine.pong.heldMs(line, nonce: nonce &+ 1) == nil)
            #expect(HeldPongLine.pong.heldMs(line + Data(" ".utf8), nonce: nonce) == nil)
            let spaced = Data(String(decoding: line, as: UTF8.self).replacingOccurrences(of: ",", with: ", ").utf8)
            #expect(HeldPongLine.pong.heldMs(spaced, nonce: nonce) == nil)
        }
        // A held time over the bound is not taken by bytes, and the decoder refuses it.
        let over = Data(
            codec.encode(Envelope(seq: 0, HostMessage.pong(Probe(nonce: nonce, heldMs: Probe.maxHoldMs + 1))))
                .dropLast())
        #expect(HeldPongLine.pong.heldMs(over, nonce: nonce) == nil)
        #expect(throws: ProtocolError(.outOfRange)) { try codec.decodeHostMessage(over) }
        // Leading zeros are another spelling: decoded, not matched.
        let seven = codec.encode(Envelope(seq: 0, HostMessage.pong(Probe(nonce: nonce, heldMs: 7)))).dropLast()
        let zeros = Data(
            String(decoding: seven, as: UTF8.self).replacingOccurrences(of: "\"held_ms\":7", with: "\"held_ms\":07")
                .utf8)
        #expect(HeldPongLine.pong.heldMs(Data(seven), nonce: nonce) == 7)
        #expect(HeldPongLine.pong.heldMs(zeros, nonce: nonce) == nil)
    }

    @Test func aPingThatLetsTheHostHoldItsAnswerIsTheCodecs() throws {
        let line = ProbeLine {
            ProtocolCodec().encode(Envelope(seq: 0, SupervisorMessage.ping(Probe(nonce: $0, holdMs: 10_000))))
        }
        .line(nonce: 42)
        #expect(
            try codec.decodeSupervisorMessage(line.dropLast())
                == Envelope(seq: 0, .ping(Probe(nonce: 42, holdMs: 10_000))))
    }
}
