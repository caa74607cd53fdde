import Foundation
import Testing

@testable import BosunConfig

/// BosunConfig runs on FoundationEssentials only (so `bosun` loads neither Foundation nor ICU, issue 10):
/// what it took from Foundation is now its own code, checked here against Foundation itself.
@Suite struct FoundationEquivalenceTests {
    /// The date-time pattern as it was matched before (ICU, through `range(of:options: .regularExpression)`).
    static let pattern =
        #"^(\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?)?|\d{2}:\d{2}:\d{2}(\.\d+)?)$"#

    static func icuDateTime(_ word: String) -> Bool { word.range(of: pattern, options: .regularExpression) != nil }

    static func anyScalar(_ alphabet: [String], _ generator: inout SystemRandomNumberGenerator) -> Unicode.Scalar {
        alphabet.randomElement(using: &generator)?.unicodeScalars.first ?? "0"
    }

    @Test func dateTimeMatchesTheICUPattern() {
        var words = [
            "1979-05-27", "1979-05-27T07:32:00", "1979-05-27t07:32:00Z", "1979-05-27 07:32:00.999999-07:00",
            "1979-05-27T07:32:00+01:30", "07:32:00", "07:32:00.5", "00:00:00.", "07:32", "1979-5-27", "1979-05-27T",
            "1979-05-27T07:32:00Zz", "1979-05-27T07:32:00+0130", "1979-05-27T07:32:00.Z", "", "-", "12345-01-01",
            "１９７９-０５-２７", "07:32:00\u{2028}", "07:32:00\u{85}", "07:32:00\u{0B}", "07:32:00\u{2028}\u{2028}",
            "1979-05-27\u{0301}", "٠٧:٣٢:٠٠", "1979-05-27T07:32:00.1234567890123", "true", "3.14", "1979-05-27 ",
        ]
        // Generated: every short string over the pattern's own alphabet, and mutations of valid ones.
        let alphabet: [String] = ["1", "-", ":", "T", " ", ".", "Z", "+", "x", "٣"]
        for a in alphabet { for b in alphabet { for c in alphabet { words.append(a + b + c) } } }
        var generator = SystemRandomNumberGenerator()
        let seeds = ["1979-05-27T07:32:00.5+01:30", "07:32:00.25", "2024-02-29 23:59:59Z"]
        for _ in 0..<3000 {
            var scalars = Array((seeds.randomElement(using: &generator) ?? "").unicodeScalars)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let position = Int.random(in: 0..<scalars.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: scalars.remove(at: position)
                case 1: scalars.insert(Self.anyScalar(alphabet, &generator), at: position)
                default: scalars[position] = Self.anyScalar(alphabet, &generator)
                }
                if scalars.isEmpty { break }
            }
            words.append(String(String.UnicodeScalarView(scalars)))
        }
        for word in words {
            #expect(TOMLParser.isDateTime(word) == Self.icuDateTime(word), "\(word.debugDescription)")
        }
    }

    /// NSString's path methods, on the paths the loaders build (a directory and a file name).
    @Test func pathsMatchNSString() {
        let directories = [
            "", "/", "//", "ab", "ab/", "ab//", "/a", "/a/", "/a//b", "a/b/", "./x", "../x", "~/x", "/a/./b", "x.toml",
            "/a/b.c/d", "/etc/bosun", "/etc/bosun/", "é/ü", "//a//b//", "/tmp/bosun-explain-1/config",
        ]
        let components = ["", "b", "/b", "b/", "//b", "b//c", ".", "..", "b.toml", "/", "policies", "ü.toml"]
        for directory in directories {
            for component in components {
                #expect(
                    Paths.join(directory, component) == (directory as NSString).appendingPathComponent(component),
                    "\(directory.debugDescription) + \(component.debugDescription)")
            }
        }
        let files = [
            "/etc/bosun/hosts/web-1.toml", "hosts/a.b.toml", "/x/.toml", "/x/y/", "/", "/a/b", "dir/name",
            "/etc/bosun/operators/alice.toml", "relative.toml", "/a/ü.toml", "/a//b.toml",
        ]
        for file in files {
            let ns = file as NSString
            #expect(Paths.lastComponent(file) == ns.lastPathComponent, "\(file)")
            #expect(
                Paths.deletingExtension(Paths.lastComponent(file))
                    == (ns.lastPathComponent as NSString).deletingPathExtension, "\(file)")
            // (NSString's deletingLastPathComponent traps on one-character paths: only longer ones here.)
            #expect(Paths.parent(file) == ns.deletingLastPathComponent, "\(file)")
        }
    }
}
