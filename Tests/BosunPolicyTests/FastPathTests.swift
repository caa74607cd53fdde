import Testing

@testable import BosunPolicy

/// The byte-level shortcuts on the evaluation path (issue 10) against what they stand for.
@Suite struct FastPathTests {
    /// Every name `unwrapCommand` unwraps passes its prefilter (a name added there without a first
    /// byte in `wrapperFirstBytes` would silently stop being unwrapped).
    @Test func everyWrapperPassesThePrefilter() {
        let wrappers = [
            "env", "sudo", "doas", "nohup", "builtin", "setsid", "exec", "command", "time", "nice", "timeout", "stdbuf",
            "ionice", "xargs", "eval", "find",
        ]
        for name in wrappers + ShellReader.shells.sorted() {
            #expect(ShellReader.mayBeWrapper(name), "\(name)")
        }
        for name in ["git", "ls", "rg", "python3", "gh", "x", "", "/usr/bin/env", "verylongname"] {
            #expect(!ShellReader.mayBeWrapper(name), "\(name)")
        }
    }

    /// `startsWithCharacter` is `hasPrefix` for `/` and `~`, combining marks included.
    @Test func startsWithCharacterIsHasPrefix() {
        let texts = [
            "", "/", "~", "/a", "~/a", "a/", "//", "/\u{301}", "/\u{301}a", "~\u{301}/x", "/é", "~é", "/\u{200D}x",
            "\u{FF0F}x", "é/", "/\r\n", "\r\n", "/ ",
        ]
        for text in texts {
            #expect(text.startsWithCharacter(.slash) == text.hasPrefix("/"), "\(text.debugDescription)")
            #expect(text.startsWithCharacter(.tilde) == text.hasPrefix("~"), "\(text.debugDescription)")
            let sub = Substring(text)
            #expect(sub.startsWithCharacter(.slash) == sub.hasPrefix("/"), "\(text.debugDescription)")
        }
    }

    /// `ByteSet` built from a string's contiguous UTF-8 equals the one built byte by byte.
    @Test func byteSetFromUTF8() {
        for text in ["", "git status", "é/ü/.env", "\u{0}\u{7F}\u{80}", String(repeating: "x/y", count: 50)] {
            #expect(ByteSet(text.utf8) == ByteSet(Array(text.utf8)))
        }
    }
}
