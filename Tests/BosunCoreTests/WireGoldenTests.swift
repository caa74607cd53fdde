import BosunCore
import Foundation
import Testing

/// The wire bytes of every message type, as the codec wrote them before the message table (issue 9):
/// the table must keep host protocol v1 byte for byte.
@Suite struct WireGoldenTests {
    static let at = Date(timeIntervalSince1970: 1_700_000_000.25)
    static let thread = AgentThread(
        id: "ab12cd34", agent: .codex, argv: ["codex", "exec", "fix"], cwd: "/srv/app", repo: "/srv/app",
        branch: "main", pid: 4242, state: .running, startedAt: at, lastActivity: at.addingTimeInterval(10),
        title: "fix", sessionID: "s1", exitCode: nil)
    static let request = ApprovalRequest(
        id: "r1", threadID: "ab12cd34", createdAt: at, deadlineAt: at.addingTimeInterval(270),
        evidence: Evidence(
            tool: "Bash", command: "git push", paths: ["a/b"], purpose: "ship it", hookEvent: "PreToolUse",
            agent: .claude, sessionID: "s1", cwd: "/srv/app", repo: "/srv/app", branch: "main", head: "abc",
            changedFiles: ["x.swift"], testsRun: [TestRun(command: "swift test", exitCode: 0, at: at)],
            sideEffects: ["network"], network: ["github.com"], credentials: []),
        truncated: true, actionSHA256: String(repeating: "ab", count: 32), actionBytes: 70000)
    static let decision = Decision(
        requestID: "r1", verdict: .deny, tier: .commit, rule: "push", reason: "no \"push\"",
        decidedBy: DecidedBy(encoded: "policy:push"),
        decidedAt: at)

    static let hostMessages: [Envelope<HostMessage>] = [
        Envelope(
            seq: 0,
            .hello(
                Hello(hostVersion: "0.1.0", hostname: "web-1", bootID: "b", capabilities: ["threads"], hooks: "none"))),
        Envelope(seq: 7, .thread(thread)),
        Envelope(seq: 8, .request(request)),
        Envelope(
            seq: 9,
            .outcome(
                Outcome(
                    threadID: "ab12cd34", requestID: "r1", tool: "Bash", command: "ls", exitCode: 2, finishedAt: at))),
        Envelope(seq: 10, .localDecision(LocalDecision(request: request, decision: decision))),
        Envelope(seq: 11, .event(ThreadEvent(threadID: "ab12cd34", kind: "steer_delivered", text: "m1"))),
        Envelope(seq: 0, .ack(12)),
        Envelope(seq: 0, .pong(Probe(nonce: 99))),
        // Probes travel with seq 0, an ack with the number it acknowledges, hello as given.
        Envelope(seq: 5, .pong(Probe(nonce: 7))),
        Envelope(seq: 9, .ack(4)),
        Envelope(seq: 3, .hello(Hello(hostVersion: "1", hostname: "h", bootID: "b", capabilities: []))),
        Envelope(seq: 13, .changedFiles(ChangedFiles(requestID: "r1", threadID: "ab12cd34", files: ["a.txt", "b/c"]))),
    ]

    static let supervisorMessages: [Envelope<SupervisorMessage>] = [
        Envelope(
            seq: 0,
            .welcome(
                Welcome(
                    supervisorVersion: "0.1.0", policySnapshot: "{}", labels: ["env": "prod"], keepaliveInterval: 10))),
        Envelope(seq: 5, .decision(decision)),
        Envelope(seq: 6, .steer(Steer(messageID: "m1", threadID: "ab12cd34", text: "focus", from: "alice"))),
        Envelope(seq: 7, .pause(Pause(scope: .all, threadID: nil, breakerID: "b-1", hard: true, reason: "stop"))),
        Envelope(seq: 8, .resume(Resume(scope: .thread, threadID: "ab12cd34", breakerID: nil))),
        Envelope(seq: 0, .ack(3)),
        Envelope(seq: 0, .ping(Probe(nonce: 1))),
        Envelope(seq: 4, .ping(Probe(nonce: 2))),
        Envelope(seq: 2, .welcome(Welcome(supervisorVersion: "x"))),
    ]

    /// Written by the codec before the message table (main at c438b57), one line per message above
    /// (`changed_files`, added later for issue 10, as written when it was added).
    static let golden = #"""
        {"boot_id":"b","capabilities":["threads"],"hooks":"none","host_version":"0.1.0","hostname":"web-1","seq":0,"type":"hello","v":1}
        {"agent":"codex","argv":["codex","exec","fix"],"branch":"main","cwd":"/srv/app","id":"ab12cd34","last_activity":"2023-11-14T22:13:30.250Z","pid":4242,"repo":"/srv/app","seq":7,"session_id":"s1","started_at":"2023-11-14T22:13:20.250Z","state":"running","title":"fix","type":"thread","v":1}
        {"action_bytes":70000,"action_sha256":"abababababababababababababababababababababababababababababababab","created_at":"2023-11-14T22:13:20.250Z","deadline_at":"2023-11-14T22:17:50.250Z","evidence":{"agent":"claude","branch":"main","changed_files":["x.swift"],"command":"git push","credentials":[],"cwd":"/srv/app","head":"abc","hook_event":"PreToolUse","network":["github.com"],"paths":["a/b"],"reason":"ship it","repo":"/srv/app","session_id":"s1","side_effects":["network"],"tests_run":[{"at":"2023-11-14T22:13:20.250Z","command":"swift test","exit_code":0}],"tool":"Bash"},"id":"r1","seq":8,"thread_id":"ab12cd34","truncated":true,"type":"request","v":1}
        {"command":"ls","exit_code":2,"finished_at":"2023-11-14T22:13:20.250Z","request_id":"r1","seq":9,"thread_id":"ab12cd34","tool":"Bash","type":"outcome","v":1}
        {"decision":{"decided_at":"2023-11-14T22:13:20.250Z","decided_by":"policy:push","reason":"no \"push\"","request_id":"r1","rule":"push","tier":"commit","verdict":"deny"},"request":{"action_bytes":70000,"action_sha256":"abababababababababababababababababababababababababababababababab","created_at":"2023-11-14T22:13:20.250Z","deadline_at":"2023-11-14T22:17:50.250Z","evidence":{"agent":"claude","branch":"main","changed_files":["x.swift"],"command":"git push","credentials":[],"cwd":"/srv/app","head":"abc","hook_event":"PreToolUse","network":["github.com"],"paths":["a/b"],"reason":"ship it","repo":"/srv/app","session_id":"s1","side_effects":["network"],"tests_run":[{"at":"2023-11-14T22:13:20.250Z","command":"swift test","exit_code":0}],"tool":"Bash"},"id":"r1","thread_id":"ab12cd34","truncated":true},"seq":10,"type":"local_decision","v":1}
        {"kind":"steer_delivered","seq":11,"text":"m1","thread_id":"ab12cd34","type":"event","v":1}
        {"seq":12,"type":"ack","v":1}
        {"nonce":99,"seq":0,"type":"pong","v":1}
        {"nonce":7,"seq":0,"type":"pong","v":1}
        {"seq":4,"type":"ack","v":1}
        {"boot_id":"b","capabilities":[],"host_version":"1","hostname":"h","seq":3,"type":"hello","v":1}
        {"files":["a.txt","b/c"],"request_id":"r1","seq":13,"thread_id":"ab12cd34","type":"changed_files","v":1}
        {"keepalive_interval":10,"labels":{"env":"prod"},"policy_snapshot":"{}","seq":0,"supervisor_version":"0.1.0","type":"welcome","v":1}
        {"decided_at":"2023-11-14T22:13:20.250Z","decided_by":"policy:push","reason":"no \"push\"","request_id":"r1","rule":"push","seq":5,"tier":"commit","type":"decision","v":1,"verdict":"deny"}
        {"from":"alice","message_id":"m1","seq":6,"text":"focus","thread_id":"ab12cd34","type":"steer","v":1}
        {"breaker_id":"b-1","hard":true,"reason":"stop","scope":"all","seq":7,"type":"pause","v":1}
        {"scope":"thread","seq":8,"thread_id":"ab12cd34","type":"resume","v":1}
        {"seq":3,"type":"ack","v":1}
        {"nonce":1,"seq":0,"type":"ping","v":1}
        {"nonce":2,"seq":0,"type":"ping","v":1}
        {"labels":{},"seq":2,"supervisor_version":"x","type":"welcome","v":1}
        """#

    /// The spool outbox files (`{"type", "body"}`) of an outcome, a local decision and an event, as
    /// `SpoolMessage` wrote them before the message table.
    static let goldenOutbox = #"""
        {"body":{"command":"ls","exit_code":2,"finished_at":"2023-11-14T22:13:20.250Z","request_id":"r1","thread_id":"ab12cd34","tool":"Bash"},"type":"outcome"}
        {"body":{"decision":{"decided_at":"2023-11-14T22:13:20.250Z","decided_by":"policy:push","reason":"no \"push\"","request_id":"r1","rule":"push","tier":"commit","verdict":"deny"},"request":{"action_bytes":70000,"action_sha256":"abababababababababababababababababababababababababababababababab","created_at":"2023-11-14T22:13:20.250Z","deadline_at":"2023-11-14T22:17:50.250Z","evidence":{"agent":"claude","branch":"main","changed_files":["x.swift"],"command":"git push","credentials":[],"cwd":"/srv/app","head":"abc","hook_event":"PreToolUse","network":["github.com"],"paths":["a/b"],"reason":"ship it","repo":"/srv/app","session_id":"s1","side_effects":["network"],"tests_run":[{"at":"2023-11-14T22:13:20.250Z","command":"swift test","exit_code":0}],"tool":"Bash"},"id":"r1","thread_id":"ab12cd34","truncated":true}},"type":"local_decision"}
        {"body":{"kind":"steer_delivered","text":"m1","thread_id":"ab12cd34"},"type":"event"}
        """#

    func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    @Test func everyMessageTypeEncodesAsBefore() {
        let codec = ProtocolCodec()
        let lines =
            Self.hostMessages.map { text(codec.encode($0)) } + Self.supervisorMessages.map { text(codec.encode($0)) }
        #expect(lines.joined() == Self.golden + "\n")
    }

    @Test func everyLineDecodesToWhatEncodesItAgain() throws {
        let codec = ProtocolCodec()
        let lines = Self.golden.split(separator: "\n").map { Data($0.utf8) }
        let host = lines.prefix(Self.hostMessages.count)
        let supervisor = lines.dropFirst(Self.hostMessages.count)
        for line in host {
            #expect(try text(codec.encode(codec.decodeHostMessage(line))) == text(line) + "\n")
        }
        for line in supervisor {
            #expect(try text(codec.encode(codec.decodeSupervisorMessage(line))) == text(line) + "\n")
        }
        // Probes decode with seq 0, an ack as the number it acknowledges, hello with its seq.
        #expect(try codec.decodeHostMessage(host[host.startIndex + 8]) == Envelope(seq: 0, .pong(Probe(nonce: 7))))
        #expect(try codec.decodeHostMessage(host[host.startIndex + 9]) == Envelope(seq: 0, .ack(4)))
        #expect(try codec.decodeHostMessage(host[host.startIndex + 10]).seq == 3)
    }

    @Test func spoolOutboxFilesKeepTheirShape() throws {
        let messages: [HostMessage] = [
            Self.hostMessages[3].message, Self.hostMessages[4].message, Self.hostMessages[5].message,
        ]
        let encoded = try messages.map { text(try Timestamp.makeEncoder().encode(OutboxEntry($0))) + "\n" }
        #expect(encoded.joined() == Self.goldenOutbox + "\n")
        for (line, message) in zip(Self.goldenOutbox.split(separator: "\n"), messages) {
            #expect(
                try Timestamp.makeDecoder().decode(OutboxEntry<HostMessage>.self, from: Data(line.utf8)).message
                    == message)
        }
    }
}
