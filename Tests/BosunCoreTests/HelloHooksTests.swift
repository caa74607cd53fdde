import BosunCore
import Foundation
import Testing

/// The `hooks` summary a host sends in `hello`: optional, bounded, untrusted.
@Suite struct HelloHooksTests {
    let codec = ProtocolCodec()

    func line(_ body: String) -> Data {
        Data(#"{"v":1,"type":"hello","seq":0,"host_version":"1","hostname":"h","boot_id":"b","capabilities":[]"#.utf8)
            + Data(body.utf8) + Data("}".utf8)
    }

    @Test func theSummaryRoundTripsAndIsOptional() throws {
        let hello = Hello(hostVersion: "1", hostname: "h", bootID: "b", capabilities: [], hooks: "claude,codex")
        let encoded = codec.encode(Envelope(seq: 0, .hello(hello))).dropLast()
        #expect(try codec.decodeHostMessage(encoded) == Envelope(seq: 0, .hello(hello)))
        // Older hosts send none.
        let old = try codec.decodeHostMessage(line(""))
        guard case .hello(let decoded) = old.message else {
            Issue.record("not a hello: \(old)")
            return
        }
        #expect(decoded.hooks == nil)
    }

    @Test func anOverlongSummaryIsAProtocolError() throws {
        let long = String(repeating: "x", count: Hello.maxHooksBytes + 1)
        #expect(throws: ProtocolError(.invalidMessage)) {
            try codec.decodeHostMessage(line(#","hooks":"\#(long)""#))
        }
        // Multi-byte characters count by bytes.
        let wide = String(repeating: "é", count: Hello.maxHooksBytes / 2 + 1)
        #expect(throws: ProtocolError(.invalidMessage)) {
            try codec.decodeHostMessage(line(#","hooks":"\#(wide)""#))
        }
        let fits = String(repeating: "x", count: Hello.maxHooksBytes)
        #expect(throws: Never.self) { try codec.decodeHostMessage(line(#","hooks":"\#(fits)""#)) }
    }

    @Test func theSenderCutsAtACharacterBoundary() {
        #expect(Hello.boundedHooks("claude") == "claude")
        for text in [String(repeating: "é", count: 500), "broken: " + String(repeating: "🚢", count: 100)] {
            let bounded = Hello.boundedHooks(text)
            #expect(bounded.utf8.count <= Hello.maxHooksBytes)
            #expect(bounded.hasSuffix("…"))
            #expect(text.hasPrefix(bounded.dropLast()))
        }
    }
}
