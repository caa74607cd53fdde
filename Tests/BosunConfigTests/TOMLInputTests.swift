import BosunConfig
import Foundation
import Testing

/// TOML text that once reached a trap inside toml++ (found by `scripts/fuzz config-file`): a
/// non-ASCII or control character, or any non-key character, after a table header's `[` aborted
/// `bosun check` and `bosund`. Now read by `TOMLParser`, checked against Python's tomllib.
@Suite struct TOMLInputTests {
    @Test(arguments: [
        "[é]\n", "address = \"x\"\n[labels.é]\n", "ké = 1\n", "[\u{FFFD}\u{FFFD}labels]\n", "[a.\u{202E}]\n",
        "[[[\0y]]\n", "[&r[key]]\n", "a = 1\n  [ ~x]\n", "[\n", "[[\t!]]\n", "a = \"\u{1B}[2J\"\n",
    ])
    func nonASCIIOutsideStringsIsAClearError(_ text: String) {
        #expect {
            _ = try HostConfig.parse(text, file: "/etc/bosun/hosts/a.toml", directory: "/etc/bosun", defaultUser: "u")
        } throws: { error in
            let message = (error as? ConfigError)?.description ?? ""
            return message.contains("/etc/bosun/hosts/a.toml")
                && (message.contains("non-ASCII") || message.contains("control") || message.contains("expected a key"))
                && message.contains("line")
        }
    }

    @Test func nonASCIIInsideStringsAndCommentsIsFine() throws {
        let text = """
            # Büro-Rechner — ein Kommentar mit "Anführungszeichen' und '''
            address = "häuser.example" # ü
            user = 'zoë'
            [labels]
            "région" = "île-de-france"
            note = \"\"\"
            mehrzeilig: "é" \\" ü
            \"\"\"
            other = '''
            wörtlich 'é'
            '''
            """
        let host = try HostConfig.parse(
            text, file: "/etc/bosun/hosts/a.toml", directory: "/etc/bosun", defaultUser: "u")
        #expect(host.address == "häuser.example")
        #expect(host.labels["région"] == "île-de-france")
        // `[` at a line's start inside an array value is not a table header.
        let nested = try ConfigValue.parseTOML("a = [\n  [1, 2],\n  [ \"b\" ], [{ x = 1 }],\n]\n", file: "x.toml")
        #expect(nested["a"] != nil)
    }
}
