import BosunShell
import BosunTerminal
import Testing

@Suite struct TerminalTextTests {
    @Test(arguments: [
        ("plain /srv/app", "plain /srv/app"),
        ("\u{1B}[2J\u{1B}]0;pwned\u{07}", "\\e[2J\\e]0;pwned\\x07"),
        ("a\nb\tc\r", "a\\nb\\tc\\r"),
        ("back\\slash", "back\\\\slash"),
        ("\u{9B}31m", "\\x9b31m"),
        ("abc\u{202E}gpj.exe", "abc\\u{202e}gpj.exe"),
        ("ünïcødé ✓", "ünïcødé ✓"),
    ])
    func escapesControlCharacters(input: String, expected: String) {
        #expect(TerminalText.escape(input) == expected)
    }
}
