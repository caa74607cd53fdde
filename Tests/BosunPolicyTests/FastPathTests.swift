import BosunCore
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
        for name in wrappers + ShellReader.wrapperNames + ShellReader.shells.sorted() {
            #expect(ShellReader.mayBeWrapper(name), "\(name)")
        }
        for name in [
            "git", "ls", "rg", "python3", "gh", "x", "", "/usr/bin/env", "verylongname", "cat", "sed", "docker",
        ] {
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

    /// Words and paths to compare the byte-level shortcuts on: every word of the repository's actions
    /// (corpora, rule examples, fuzz corpus) and spellings chosen to differ between bytes and characters.
    static var words: [String] {
        var words = [
            "", "-", "--", "-x", "-o", "-o/etc/x", "-C../other", "-f~/x", "-f$HOME/x", "-f${HOME}/x", "-f$HOMEx",
            "--x=/etc/x", "--x=", "--x=http://h/p", "-x=a=b", "--out=~/.ssh/id", "--=x", "-=", "-o\u{301}/x",
            "-\u{301}o/x", "-o/\u{301}x", "--x=\u{301}a", "--x\u{301}=a", "-\r\n/x", "-o\r\n/x", "--x=\r\n",
            "-o/é", "--é=/x", "file:///etc/x", "f", "file:", "http://x", "a=b", "./x", "/etc/passwd", "~/x",
            "a//b/", "/", "//", ".", "..", "x/*.pem", ".e*", "id_rs?", ".e[n]v", "a/[x/b", "*", "a/*", "é/x",
            "e\u{301}/x", "/\u{301}etc", "a\r\n/b", String(repeating: "ab/", count: 40), "Bash", "BASH", "bash",
            "Edit", "WRITE", "NotebookEdit", "apply_patch", "\u{212A}", "\u{130}", "ß", "Exec_Command", "mcp__X",
        ]
        for action in MatcherDifferentialTests.actions {
            words += action.split(separator: " ").map(String.init)
        }
        return words
    }

    /// The words the shell reader treats specially at a command's start all pass its byte prefilter,
    /// and no word it rejects is one of them.
    @Test func reservedWordsPassThePrefilter() {
        let reserved = [
            "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "{", "}", "!", "for", "select", "case",
            "function", "coproc", "[[",
        ]
        for word in reserved { #expect(ShellReader.mayBeReservedWord(word), "\(word)") }
        for word in Self.words + ["i\u{301}f", "\u{FE5B}", "iff", "functions"]
        where !ShellReader.mayBeReservedWord(word) {
            #expect(!reserved.contains(word), "\(word.debugDescription)")
        }
    }

    /// A command `ProgramParts.isPlain` passes expands to itself alone (so evaluation may skip `expand`),
    /// and each name `expand` looks into is not plain.
    @Test func plainCommandsExpandToThemselves() {
        var plain = 0
        for action in MatcherDifferentialTests.actions {
            for command in ShellParser.script(action).commands where ProgramParts.isPlain(command) {
                #expect(ProgramParts.expand(command) == [command], "\(command.argv)")
                plain += 1
            }
        }
        #expect(plain > 1_000)
        for name in ["git", "gh", "sed", "ps", "export", "declare", "typeset", "local", "readonly"] {
            #expect(!ProgramParts.isPlain(ShellCommand(argv: [name, "x"])), "\(name)")
        }
        #expect(!ProgramParts.isPlain(ShellCommand(argv: ["ls"], assignments: ["A=1"])))
    }

    /// The applicable-rule mask (tool-only conditions matched over the tool's bytes, after a
    /// first-byte check) is each rule's own `applies`, for the repository's policy and many tools.
    @Test func applicableRulesAreEachRulesOwnAnswer() throws {
        let policy = try Fixtures.defaultPolicy.get()
        let tools = [
            "Bash", "bash", "Read", "read", "Grep", "Glob", "LS", "Edit", "MultiEdit", "Write", "apply_patch",
            "WebFetch",
            "fetch", "mcp__github__merge", "mcp_", "MCP__X", "Task", "view_image", "", "x", "*", "é", "\u{212A}",
            "NotebookRead", "TodoWrite", "exec_command", "local_shell", "shell", "unknown_tool",
        ]
        for tool in tools {
            for agent in [AgentKind.generic, .claude, .codex] {
                let context = MatchContext(
                    PolicyInput(tool: tool, command: "ls", agent: agent, labels: ["env": "prod"]))
                let mask = policy.index.applicable(to: context)
                #expect(mask == policy.index.rules.map { $0.applies(to: context) }, "\(tool.debugDescription)")
            }
        }
    }

    /// `pathWord` (options read by bytes, other words only checked for `://`) against the way it was
    /// written before (`pathWordBefore`, main at 586a205).
    @Test func pathWordIsAsBefore() {
        for word in Self.words {
            #expect(Policy.pathWord(word) == Self.pathWordBefore(word), "\(word.debugDescription)")
            let sub = Substring(word)
            #expect(Policy.isURL(sub) == Self.isURLBefore(sub), "\(word.debugDescription)")
        }
    }

    /// `PathSegments` built in one pass for ASCII is what it was built from before: `PathForm.segments`
    /// mapped to `PathSegment`, the glob flag from them and the byte set from the whole path.
    @Test func pathSegmentsAreAsBefore() {
        for path in Self.words {
            let built = PathSegments(path)
            let segments = PathForm.segments(path).map { PathSegment($0) }
            #expect(built.segments == segments, "\(path.debugDescription)")
            #expect(built.hasPattern == segments.contains { $0.pattern != nil }, "\(path.debugDescription)")
            #expect(built.bytes == ByteSet(Array(path.utf8)), "\(path.debugDescription)")
            #expect(built.absolute == path.hasPrefix("/"), "\(path.debugDescription)")
        }
    }

    /// The tool name lowered by bytes for ASCII is `lowercased()`, and the switches are the sets.
    @Test func toolNamesAsBefore() {
        for word in Self.words {
            let lowered = Policy.lowercased(word)
            #expect(lowered == word.lowercased(), "\(word.debugDescription)")
            #expect(Policy.isLowercasedCommandTool(lowered) == Policy.commandTools.contains(lowered))
            #expect(Policy.isLowercasedFileWriteTool(lowered) == Policy.fileWriteTools.contains(lowered))
        }
        for tool in Policy.commandTools { #expect(Policy.isLowercasedCommandTool(tool)) }
        for tool in Policy.fileWriteTools { #expect(Policy.isLowercasedFileWriteTool(tool)) }
    }

    /// `pathWords` (the value after `:`, `=` or `@` found by bytes for ASCII) as it was before.
    @Test func pathWordsAreAsBefore() {
        let extra = [
            "a=b", "a=", "=b", "x:y", "HEAD:.env", "-d@.env", "file=@.env", "@x", "@", "a:b=c@d", "a:b=@", ":", "::",
            "a:", "h:/p", "-o=x:y", "--data=@~/.ssh/id", "a\r\n=b", "é=x", "a=é", "x:\u{301}y", "a=\u{301}b",
            "@\u{301}x",
        ]
        for word in Self.words + extra {
            #expect(Policy.pathWords(word) == Self.pathWordsBefore(word), "\(word.debugDescription)")
        }
    }

    static func pathWordsBefore(_ word: String) -> [String] {
        guard let path = pathWordBefore(word) else { return [] }
        var paths = [path]
        guard
            path.utf8.contains(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "@") })
        else { return paths }
        var value = Substring(path)
        if let colon = value.firstIndex(of: ":") { value = value[value.index(after: colon)...] }
        if let equals = value.lastIndex(of: "=") { value = value[value.index(after: equals)...] }
        if value.hasPrefix("@") { value = value.dropFirst() }
        if !value.isEmpty && value != Substring(path) { paths.append(String(value)) }
        return paths
    }

    static func pathWordBefore(_ word: String) -> String? {
        if word.isEmpty { return nil }
        if word.hasPrefix("file://") { return String(word.dropFirst("file://".count)) }
        if word.hasPrefix("-") {
            guard let equals = word.firstIndex(of: "=") else {
                let value = word.dropFirst(2)
                guard !word.hasPrefix("--"), ["/", "~", "../", "$HOME", "${HOME}"].contains(where: value.hasPrefix)
                else { return nil }
                return String(value)
            }
            let value = word[word.index(after: equals)...]
            return value.isEmpty || isURLBefore(value) ? nil : String(value)
        }
        return isURLBefore(word) ? nil : word
    }

    static func isURLBefore(_ text: some StringProtocol) -> Bool {
        var colon = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: ":") {
                colon = 1
            } else if byte == UInt8(ascii: "/") && colon > 0 {
                if colon == 2 { return true }
                colon = 2
            } else {
                colon = 0
            }
        }
        return false
    }
}
