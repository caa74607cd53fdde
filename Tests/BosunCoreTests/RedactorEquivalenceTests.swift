import BosunCore
import BosunTestSupport
import Foundation
import Testing

/// Secrets and non-secrets beyond `redactionCorpus`: Unicode that ICU's rules treat specially (case
/// folding, word boundaries, white space, line terminators), shell and JSON shapes, and near misses.
let equivalenceCorpus: [String] = [
    "curl -H 'Authorization: Bearer abc123def456' https://api.x",
    "AUTHORIZATION=token 12345678abc", "proxy-authorization: Basic dXNlcjpwYXNz",
    "authorization: $TOKEN", "Authorization: Bearer [REDACTED]", "authorization:\t\"abcdefgh1\"",
    "\\\"authorization\\\": \\\"Bearer zzz999\\\"", "xauthorization: bearer q1w2e3r4t5",
    "curl -u alice:s3cret https://x", "wget --user=bob:hunter2 http://x", "http -a me:pw example.org",
    "grep -u a:b file", "curl -U proxy:pw --proxy p:1 https://x", "ls; curl -u a:b x | tee -u c:d",
    "postgres://app:p4ss@db:5432/x", "redis://:pw@h", "git+ssh://git:tok@h/r", "1http://a:b@c",
    "{\"api_key\": \"abc123\", \"password\": \"hunter2\"}", "password: String", "- token: abc",
    "  secret_key: 'x y z'", "{'passwd':'p'}", "[\"apiKey\", \"v1\"]", "{\"passphrase\":\"\"}",
    "\"pwd\": \"/home/x\"", "\"no-password\": \"x\"", "credentials: {{ vault }}", "TOKEN: ${X}",
    "DB_PASSWORD=hunter2 ./run", "export API_KEY=\"x y\"", "token=tokens[0]", "pw = os.environ.get('X')",
    "--password=abc", "--api-key abc", "--secret id=x,src=y", "--password -", "PASSWORD_MIN_LENGTH=8",
    "max_tokens=100", "OLDPWD=/x", "no_token=1", "a.b.access-key=Z", "x==y token==z",
    "STRIPE_KEY=sk_test_abc", "  export SENTRY_DSN=https://k@o.ingest", "FOO_PAT=ghp_x", "lower_key=x",
    "AKIAIOSFODNN7EXAMPLE", "xAKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLEX", "ghp_abcdefghijklmnopqrst",
    "github_pat_11ABCDEFG0123456789_abc", "glpat-abcdefghijklmnopqrst", "xoxb-1234567890-abc",
    "sk-ant-api03-abcdefghijklmnopqrstuv", "sk-proj-abcdefghijklmnopqrstuv", "sk-abcdefghijklmnopqrstuv",
    "AIzaSyA-abcdefghijklmnopqrstuvwxyz12345", "rk_live_0123456789abc", "npm_abcdefghijklmnopqrstuvwxyz0123456789",
    "eyJhbGciOi.eyJzdWIiOi.sig-_x", "commit=0123456789abcdef0123456789abcdef01234567",
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "key: Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdo", "x=src/components/widgets/AbcDef1234567890XyzAbcdef",
    "value: aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5", "path: /usr/lib/AbCdEf0123456789AbCdEf0123456789",
    "integrity=sha512-AbCdEf0123456789AbCdEf0123456789AbCdEf==",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Bl\\n-----END OPENSSH PRIVATE KEY-----",
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxcL\n", "a PRIVATE KEY b", "-----BEGIN PRIVATE KEY-----",
    // Unicode that case folding, \b, \s and ^ see differently from ASCII.
    "ſecret=abc", "SECRET=abc", "api_\u{212A}ey=abc", "paßword=hunter2", "PAẞWORD=hunter2",
    "pa\u{FB06}word=x", "acceß_key=x", "ﬁle_token=x", "İ_token=x", "passwor\u{0301}d=x",
    "token\u{0301}=abc", "é_token=abc", "日本_token=abc", "token=日本語の値", "password=\u{00A0}x",
    "password\u{00A0}=x", "password=\u{2028}x", "a\u{2028}SENTRY_DSN=x", "a\u{0085}SENTRY_DSN=x",
    "a\r\nSENTRY_DSN=x", "a\rSENTRY_DSN=x", "x\n", "\nSENTRY_DSN=", "ٱAKIAIOSFODNN7EXAMPLE",
    "AKIAIOSFODNN7EXAMPLE\u{0301}", "\u{0301}AKIAIOSFODNN7EXAMPLE", "é\u{200D}AKIAIOSFODNN7EXAMPLE",
    "_AKIAIOSFODNN7EXAMPLE", "\u{00AD}AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE\u{200B}x",
    "authorization: bearer ١٢٣٤٥٦٧٨abc", "authorization: x١٢٣٤٥٦٧٨", "curl -u 😀:😀 x", "token=😀😀",
    "😀 password=\"😀 x\" 😀", "curl\u{3000}-u\u{3000}a:b x", "curl -u a:b\u{2003}x", "🇫🇷 FOO_TOKEN=abc",
    String(repeating: "é", count: 299) + " curl -u a:b x", String(repeating: "😀", count: 151) + "; curl -u a:b x",
    String(repeating: "a", count: 400) + "=" + String(repeating: "Zx9", count: 20),
    String(repeating: "x", count: 5000) + " password=1",
]

/// Fragments joined at random (seeded) into more inputs: names, separators, quotes, values, shapes.
private let fragments: [String] = [
    "password", "PASSWORD", "token", "api_key", "api-key", "apiKey", "secret", "passwd", "pwd", "credentials",
    "access_key", "X_KEY", "SENTRY_DSN", "export ", "--", "-", "=", ":", ": ", " = ", "==", "\"", "'", "\\\"",
    "`", "{", "}", "[", "]", ",", ";", "|", "&", "(", ")", "\n", "\r\n", "\t", " ", "  ", "$HOME", "{{x}}", "/etc/x",
    "./a", "hunter2", "abc123", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFi", "0123456789abcdef0123456789abcdef",
    "AKIAIOSFODNN7EXAMPLE", "ghp_abcdefghijklmnopqrstuvwxyz", "sk-abcdefghijklmnopqrstuv", "eyJab.eyJcd.ef",
    "curl", "wget", "-u", "--user", "a:b", "https://", "u:p@h", "@", "Authorization", "Bearer ", "Basic ",
    "ſ", "\u{212A}", "ß", "ﬆ", "\u{0301}", "\u{00A0}", "\u{2028}", "\u{0085}", "😀", "日本", "١٢٣", "é", "\u{200D}",
    "String", "null", "(", "os.environ", "sha256", "commit", "id", "[REDACTED]", "-----BEGIN EC PRIVATE KEY-----",
    "-----END EC PRIVATE KEY-----", "PRIVATE KEY", "\\n", "no-", "OLDPWD", "src/", "//", ".", "+", "/",
]

private func generatedInputs(count: Int, seed: UInt64) -> [String] {
    var generator = SeededGenerator(state: seed)
    return (0..<count).map { _ in
        let length = Int.random(in: 1...12, using: &generator)
        return (0..<length).map { _ in fragments.randomElement(using: &generator) ?? "" }.joined()
    }
}

/// The Redactor on ScalarPattern against the same rules on NSRegularExpression (ICU): equal output.
@Suite struct RedactorEquivalenceTests {
    @Test(arguments: equivalenceCorpus + redactionCorpus.flatMap { [$0.0, $0.1] })
    func agreesWithTheICURedactor(input: String) {
        #expect(Redactor.redact(input) == NSRegexRedactor.redact(input), "input: \(input.debugDescription)")
    }

    @Test func agreesOnGeneratedInputs() {
        var differing: [String] = []
        for input in generatedInputs(count: 4000, seed: 42)
        where Redactor.redact(input) != NSRegexRedactor.redact(input) {
            differing.append(input)
        }
        #expect(differing.isEmpty, "\(differing.count) differ, e.g. \(differing.prefix(5).map(\.debugDescription))")
    }

    /// HookInput's exit-code pattern (copied here: it is private there), on both engines.
    @Test func exitCodePatternAgreesWithICU() throws {
        let pattern = try ScalarPattern(
            #"(?i)(?:exit[ _]?code"?\s*[:=]?\s*|process exited with code\s+)(-?\d{1,10})\b"#)
        let inputs = [
            "Exit code: 2", "exit_code=0", "EXITCODE 17", "exit code\" : -1", "Process exited with code 137",
            "process exited with code\n3", "exit code: 12345678901", "exit code: 1234567890", "exit code: 5x",
            "exit code: 5_", "exit code: 5.0", "exıt code: 1", "exit \u{212A}ode: 1", "exit code: ١٢", "no code",
            "Exit Code: 3\nExit code: 4", "exit code:\u{00A0}7", "exit code: 9\u{0301}", "exit code: -", "",
        ]
        for input in inputs {
            let scalars = Array(input.unicodeScalars)
            let ours = pattern.firstMatch(in: scalars).flatMap { match in
                match.groups[1].flatMap { Int32(String(String.UnicodeScalarView(scalars[$0]))) }
            }
            #expect(ours == NSRegexExitCode.exitCode(inText: input), "input: \(input.debugDescription)")
        }
    }

    @Test func unsupportedSyntaxIsAnError() {
        for pattern in ["(?<name>x)", "a++", "(?<=a+)b", "(a*)*", "[a", "a)", "\\p{L}"] {
            #expect(throws: ScalarPattern.SyntaxError.self, "\(pattern)") { try ScalarPattern(pattern) }
        }
    }

    /// Linear in the input: a long run of name characters is a single start for the assignment rules.
    @Test func longInputsDoNotExhaustTheStack() {
        let long = String(repeating: "Ab1+", count: 50_000)
        #expect(Redactor.redact("key=" + long) == NSRegexRedactor.redact("key=" + long))
        #expect(Redactor.redact("\"" + long) == NSRegexRedactor.redact("\"" + long))
    }
}
