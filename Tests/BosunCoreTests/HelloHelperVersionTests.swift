import BosunCore
import Foundation
import Testing

/// The `helper_version` a host sends in `hello` (the bosun-host release): optional, bounded.
@Suite struct HelloHelperVersionTests {
    let codec = ProtocolCodec()

    func line(_ body: String) -> Data {
        Data(#"{"v":1,"type":"hello","seq":0,"host_version":"1","hostname":"h","boot_id":"b","capabilities":[]"#.utf8)
            + Data(body.utf8) + Data("}".utf8)
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
