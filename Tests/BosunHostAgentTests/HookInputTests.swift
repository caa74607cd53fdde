import BosunCore
import BosunHostAgent
import Foundation
import Testing

/// Payload shapes as AGENTS.md records them from Claude Code 2.1 and Codex 0.163.
enum Payloads {
    static let claudePreToolUse = """
        {"session_id":"abc123","transcript_path":"/home/dev/.claude/projects/-srv-app/abc123.jsonl",\
        "cwd":"/srv/app","permission_mode":"default","hook_event_name":"PreToolUse","prompt_id":"p-1",\
        "tool_name":"Bash","tool_input":{"command":"git push origin main","description":"Push the fix to main"},\
        "tool_use_id":"toolu_01ABCdef"}
        """

    static let claudePermissionRequest = """
        {"session_id":"abc123","transcript_path":"/home/dev/.claude/projects/-srv-app/abc123.jsonl",\
        "cwd":"/srv/app","permission_mode":"default","hook_event_name":"PermissionRequest","prompt_id":"p-1",\
        "tool_name":"Bash","tool_input":{"description":"Publish the fix","command":"git push origin main"},\
        "permission_suggestions":[{"type":"addRules","rules":[{"toolName":"Bash","ruleContent":"git push:*"}],\
        "behavior":"allow","destination":"localSettings"}]}
        """

    static let codexPreToolUse = """
        {"session_id":"019a6e3c-0c1d-7c52-a4f0-6f1d2c3b4a59","transcript_path":"/home/dev/.codex/sessions/rollout.jsonl",\
        "cwd":"/srv/app","hook_event_name":"PreToolUse","permission_mode":"default","model":"gpt-5-codex",\
        "turn_id":"turn-7","tool_name":"Bash","tool_input":{"command":"git status"},"tool_use_id":"call_Q1w2E3"}
        """

    static let codexPermissionRequest = """
        {"session_id":"019a6e3c-0c1d-7c52-a4f0-6f1d2c3b4a59","transcript_path":"/home/dev/.codex/sessions/rollout.jsonl",\
        "cwd":"/srv/app","hook_event_name":"PermissionRequest","permission_mode":"default","model":"gpt-5-codex",\
        "turn_id":"turn-7","tool_name":"Bash","tool_input":{"command":"git status"}}
        """

    static let codexApplyPatch = """
        {"session_id":"s1","cwd":"/srv/app","hook_event_name":"PreToolUse","model":"gpt-5-codex","turn_id":"t1",\
        "tool_name":"apply_patch","tool_use_id":"call_9","tool_input":{"command":"*** Begin Patch\\n\
        *** Update File: Sources/App/main.swift\\n@@\\n-print(1)\\n+print(2)\\n*** Add File: docs/notes.md\\n+hello\\n\
        *** Delete File: old/legacy.txt\\n*** Update File: a.txt\\n*** Move to: b.txt\\n@@\\n-x\\n+y\\n*** End Patch\\n"}}
        """

    static func json(_ text: String) -> Data { Data(text.utf8) }
}

@Suite struct HookInputTests {
    @Test func claudePreToolUseBash() throws {
        let input = try HookInput.parse(Payloads.json(Payloads.claudePreToolUse), agent: .claude)
        #expect(input.agent == .claude)
        #expect(input.event == "PreToolUse")
        #expect(input.sessionID == "abc123")
        #expect(input.cwd == "/srv/app")
        #expect(input.transcriptPath == "/home/dev/.claude/projects/-srv-app/abc123.jsonl")
        #expect(input.permissionMode == "default")
        #expect(input.toolName == "Bash")
        #expect(input.toolUseID == "toolu_01ABCdef")
        #expect(input.command == "git push origin main")
        #expect(input.description == "Push the fix to main")
        #expect(input.paths.isEmpty)
        #expect(input.exitCode == nil)
        #expect(input.turnID == nil)
        #expect(input.raw["prompt_id"]?.stringValue == "p-1")
    }

    @Test func codexPreToolUseCarriesTurnAndModel() throws {
        let input = try HookInput.parse(Payloads.json(Payloads.codexPreToolUse), agent: .codex)
        #expect(input.agent == .codex)
        #expect(input.turnID == "turn-7")
        #expect(input.model == "gpt-5-codex")
        #expect(input.command == "git status")
        #expect(input.description == nil)
        #expect(input.toolUseID == "call_Q1w2E3")
        #expect(input.toolInput == .object(["command": .string("git status")]))
    }

    @Test func codexArgvCommandIsJoinedShellEscaped() throws {
        let payload = """
            {"hook_event_name":"PreToolUse","session_id":"s","tool_name":"Bash",\
            "tool_input":{"command":["bash","-lc","git status && echo 'it''s'",""]}}
            """
        let input = try HookInput.parse(Payloads.json(payload), agent: .codex)
        #expect(input.command == #"bash -lc 'git status && echo '\''it'\'''\''s'\''' ''"#)
    }

    @Test func applyPatchPathsComeFromThePatch() throws {
        let input = try HookInput.parse(Payloads.json(Payloads.codexApplyPatch), agent: .codex)
        #expect(input.toolName == "apply_patch")
        #expect(input.paths == ["Sources/App/main.swift", "docs/notes.md", "old/legacy.txt", "a.txt", "b.txt"])
    }

    @Test(arguments: ["input", "patch"])
    func applyPatchTextInOtherKeys(key: String) throws {
        let payload = """
            {"hook_event_name":"PreToolUse","tool_name":"apply_patch",\
            "tool_input":{"\(key)":"*** Begin Patch\\n*** Add File: x/y.md\\n+a\\n*** End Patch"}}
            """
        let input = try HookInput.parse(Payloads.json(payload), agent: .codex)
        #expect(input.paths == ["x/y.md"])
    }

    @Test func claudeFileToolPaths() throws {
        let edit = """
            {"hook_event_name":"PreToolUse","tool_name":"Edit","tool_input":{"file_path":"/srv/app/a.swift",\
            "old_string":"a","new_string":"b"}}
            """
        #expect(try HookInput.parse(Payloads.json(edit), agent: .claude).paths == ["/srv/app/a.swift"])
        let notebook = """
            {"hook_event_name":"PreToolUse","tool_name":"NotebookEdit","tool_input":{"notebook_path":"/n.ipynb"}}
            """
        #expect(try HookInput.parse(Payloads.json(notebook), agent: .claude).paths == ["/n.ipynb"])
        let grep = """
            {"hook_event_name":"PreToolUse","tool_name":"Grep","tool_input":{"pattern":"x","path":"src"}}
            """
        #expect(try HookInput.parse(Payloads.json(grep), agent: .claude).paths == ["src"])
    }

    @Test func permissionRequestCorrelatesWithItsPreToolUse() throws {
        let pre = try HookInput.parse(Payloads.json(Payloads.claudePreToolUse), agent: .claude)
        let permission = try HookInput.parse(Payloads.json(Payloads.claudePermissionRequest), agent: .claude)
        #expect(permission.toolUseID == nil)
        #expect(permission.description == "Publish the fix")
        #expect(pre.correlationKey == permission.correlationKey)
        // Independently: sha256(b'abc123\0Bash\0{"command":"git push origin main"}') in Python.
        #expect(pre.correlationKey == "6a7d5f32adfe9475b10a36a1f8c3cc1d871c0c42ae9edbcc8bfd208a3aabd002")

        let codexPre = try HookInput.parse(Payloads.json(Payloads.codexPreToolUse), agent: .codex)
        let codexPermission = try HookInput.parse(Payloads.json(Payloads.codexPermissionRequest), agent: .codex)
        #expect(codexPre.correlationKey == codexPermission.correlationKey)
        #expect(codexPre.correlationKey != pre.correlationKey)
    }

    @Test func correlationKeyDependsOnSessionToolAndInput() throws {
        func key(session: String, tool: String, input: String) throws -> String {
            let payload = """
                {"hook_event_name":"PreToolUse","session_id":"\(session)","tool_name":"\(tool)","tool_input":\(input)}
                """
            return try HookInput.parse(Payloads.json(payload), agent: .claude).correlationKey
        }
        let base = try key(session: "s", tool: "Bash", input: #"{"command":"ls","timeout":5}"#)
        #expect(try key(session: "s", tool: "Bash", input: #"{"timeout":5,"command":"ls"}"#) == base)
        #expect(
            try key(session: "s", tool: "Bash", input: #"{"timeout":5.0,"command":"ls","description":"x"}"#) == base)
        #expect(try key(session: "t", tool: "Bash", input: #"{"command":"ls","timeout":5}"#) != base)
        #expect(try key(session: "s", tool: "Shell", input: #"{"command":"ls","timeout":5}"#) != base)
        #expect(try key(session: "s", tool: "Bash", input: #"{"command":"ls -a","timeout":5}"#) != base)
        // Only the top-level description is ignored.
        let nested = try key(session: "s", tool: "mcp__x__y", input: #"{"args":{"description":"a"}}"#)
        #expect(try key(session: "s", tool: "mcp__x__y", input: #"{"args":{"description":"b"}}"#) != nested)
    }

    @Test func correlationKeyMatchesAnIndependentHash() throws {
        let payload = """
            {"hook_event_name":"PermissionRequest","session_id":"s1","tool_name":"apply_patch",\
            "tool_input":{"timeout_ms":1000,"description":"edit","command":"*** Begin Patch\\n\
            *** Update File: a/b.swift\\n*** End Patch"}}
            """
        let input = try HookInput.parse(Payloads.json(payload), agent: .codex)
        // hashlib.sha256('s1\0apply_patch\0{"command":"*** Begin Patch\n*** Update File: a/b.swift\n*** End Patch",
        // "timeout_ms":1000}') with the JSON escaped as serde_json writes it.
        #expect(input.correlationKey == "f3b5528fc22a8b62db6a15b47b7c6ca2d8daf189ffa3cd05b937ed61dc515817")
    }

    @Test func claudePostToolUseObjectResponse() throws {
        func exitCode(_ response: String) throws -> Int32? {
            let payload = """
                {"session_id":"abc123","cwd":"/srv/app","hook_event_name":"PostToolUse","tool_name":"Bash",\
                "tool_input":{"command":"swift test"},"tool_use_id":"toolu_1","duration_ms":1520,\
                "tool_response":\(response)}
                """
            return try HookInput.parse(Payloads.json(payload), agent: .claude).exitCode
        }
        #expect(try exitCode(#"{"stdout":"ok","stderr":"","interrupted":false,"isImage":false}"#) == 0)
        #expect(try exitCode(#"{"stdout":"","stderr":"","interrupted":true,"isImage":false}"#) == -1)
        #expect(try exitCode(#"{"stdout":"","stderr":"boom","interrupted":false,"exit_code":3}"#) == 3)
        #expect(try exitCode(#"{"stdout":"","stderr":"","returnCode":2}"#) == 2)
        #expect(try exitCode(#"{"error":"Command failed"}"#) == HookInput.unknownFailureExitCode)
        #expect(try exitCode(#"{"filePath":"/srv/app/a.swift","success":true}"#) == nil)
    }

    @Test func codexPostToolUseStringResponse() throws {
        func exitCode(_ response: String) throws -> Int32? {
            let payload: JSONValue = .object([
                "session_id": .string("s"), "hook_event_name": .string("PostToolUse"), "turn_id": .string("t"),
                "tool_name": .string("Bash"), "tool_input": .object(["command": .string("make test")]),
                "tool_response": .string(response),
            ])
            return try HookInput.parse(Payloads.json(payload.canonicalJSON), agent: .codex).exitCode
        }
        #expect(try exitCode("Exit code: 1\nWall time: 0.2 seconds\nOutput:\nFAIL") == 1)
        #expect(try exitCode("Exit code: 0\nWall time: 0 seconds\nOutput:\n") == 0)
        #expect(try exitCode("Process exited with code 127\nOutput:\nbash: nope: command not found") == 127)
        #expect(try exitCode(#"{"output":"ok","metadata":{"exit_code":2,"duration_seconds":0.1}}"#) == 2)
        #expect(try exitCode("Chunk ID: 1\nProcess running with session ID 4") == nil)
        #expect(try exitCode("just text") == nil)
    }

    @Test func stopSessionAndPromptEvents() throws {
        let stop = try HookInput.parse(
            Payloads.json(
                #"{"session_id":"s","cwd":"/w","hook_event_name":"Stop","stop_hook_active":true,"last_assistant_message":"Done."}"#
            ), agent: .codex)
        #expect(stop.event == "Stop")
        #expect(stop.stopHookActive == true)
        #expect(stop.lastAssistantMessage == "Done.")
        #expect(stop.toolName == nil)

        let start = try HookInput.parse(
            Payloads.json(#"{"session_id":"s","cwd":"/w","hook_event_name":"SessionStart","source":"startup"}"#),
            agent: .claude)
        #expect(start.source == "startup")

        let prompt = try HookInput.parse(
            Payloads.json(
                #"{"session_id":"s","cwd":"/w","hook_event_name":"UserPromptSubmit","prompt":"fix the build ✓"}"#),
            agent: .claude)
        #expect(prompt.prompt == "fix the build ✓")

        let end = try HookInput.parse(
            Payloads.json(
                #"{"session_id":"s","cwd":"/w","hook_event_name":"SessionEnd","reason":"prompt_input_exit"}"#),
            agent: .claude)
        #expect(end.reason == "prompt_input_exit")
        #expect(end.sessionID == "s")
    }

    @Test(arguments: [
        ("not json at all", HookInputError.Code.malformedJSON),
        ("", .malformedJSON),
        ("{\"hook_event_name\":", .malformedJSON),
        ("[1,2,3]", .notAnObject),
        ("\"PreToolUse\"", .notAnObject),
        ("{}", .missingEventName),
        ("{\"hook_event_name\":5}", .missingEventName),
        ("{\"hook_event_name\":\"\"}", .missingEventName),
        ("{\"session_id\":\"s\",\"tool_name\":\"Bash\"}", .missingEventName),
    ])
    func malformedInputThrowsAClearError(text: String, code: HookInputError.Code) {
        #expect(throws: HookInputError(code)) {
            try HookInput.parse(Data(text.utf8), agent: .claude)
        }
        do {
            _ = try HookInput.parse(Data(text.utf8), agent: .claude)
        } catch {
            #expect(String(describing: error).hasPrefix("hook input: \(code)"))
        }
    }

    @Test func missingOptionalFieldsAreNil() throws {
        let input = try HookInput.parse(
            Data(#"{"hook_event_name":"Notification","extra":[1,null]}"#.utf8), agent: .claude)
        #expect(input.sessionID == nil)
        #expect(input.cwd == nil)
        #expect(input.command == nil)
        #expect(input.paths.isEmpty)
        #expect(input.raw["extra"] == .array([.number(1), .null]))
    }
}

@Suite struct JSONValueTests {
    @Test func canonicalJSONIsCompactSortedAndUnescaped() throws {
        let value = try JSONValue(
            parsing: Data(#"{"b":[1,2.5,-3,true,null],"a":{"z":"x/y","é":"ü\n\t\"\\","A":1e3},"c":"\u0001"}"#.utf8))
        #expect(
            value.canonicalJSON == #"{"a":{"A":1000,"z":"x/y","é":"ü\n\t\"\\"},"b":[1,2.5,-3,true,null],"c":"\u0001"}"#)
    }

    @Test func roundTripsThroughFoundation() throws {
        let value: JSONValue = .object([
            "s": .string("a/b ✓"), "n": .number(42), "f": .number(0.5), "t": .bool(true), "z": .null,
            "l": .array([.string(""), .object([:])]),
        ])
        let reparsed = try JSONValue(parsing: Data(value.canonicalJSON.utf8))
        #expect(reparsed == value)
        let pretty = try JSONValue(parsing: Data(value.prettyJSON.utf8))
        #expect(pretty == value)
        #expect(try JSONSerialization.jsonObject(with: Data(value.canonicalJSON.utf8)) is [String: Any])
    }
}
