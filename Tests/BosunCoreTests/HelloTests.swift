import BosunCore
import Foundation
import Testing

/// The optional fields a host sends in `hello`, each bounded and untrusted: the `hooks` summary
/// and the `helper_version` (the bosun-host release).
@Suite struct HelloTests {
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

    @Test func theVersionRoundTripsAndOlderHostsStillSayHello() throws {
        let hello = Hello(hostVersion: "1", hostname: "h", bootID: "b", capabilities: [], helperVersion: "0.1.0")
        let encoded = codec.encode(Envelope(seq: 0, .hello(hello))).dropLast()
        #expect(String(decoding: encoded, as: UTF8.self).contains(#""helper_version":"0.1.0""#))
        #expect(try codec.decodeHostMessage(encoded) == Envelope(seq: 0, .hello(hello)))
        guard case .hello(let old) = try codec.decodeHostMessage(line("")).message else {
            Issue.record("not a hello")
            return
        }
        #expect(old.helperVersion == nil)
    }

    @Test func anOverlongVersionIsAProtocolError() {
        let long = String(repeating: "9", count: Hello.maxHelperVersionBytes + 1)
        #expect(throws: ProtocolError(.invalidMessage)) {
            try codec.decodeHostMessage(line(#","helper_version":"\#(long)""#))
        }
    }
}
