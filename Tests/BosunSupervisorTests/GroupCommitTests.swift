import BosunConfig
import BosunCore
import BosunPolicy
import BosunTestSupport
import Foundation
import Testing

@testable import BosunStore
@testable import BosunSupervisor

/// Group commit (issue 10): requests that arrive while a transaction is in flight are decided and
/// stored together in the next one, against a real SQLite file with the shipped policy.
@Suite struct GroupCommitTests {
    static let policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("policies").path

    static func request(_ id: RequestID, _ command: String, thread: ThreadID = "t1") -> ApprovalRequest {
        let now = Date()
        return ApprovalRequest(
            id: id, threadID: thread, createdAt: now, deadlineAt: now.addingTimeInterval(600),
            evidence: Evidence(
                tool: "Bash", command: command, purpose: "checking", agent: .claude, cwd: "/srv/app", repo: "/srv/app",
                branch: "main", changedFiles: ["a.swift"]))
    }

    static func requestEvent(_ id: RequestID, seq: UInt64 = 0) -> LinkEvent {
        .message(Envelope(seq: seq, .request(request(id, "git status"))), hostKey: "")
    }

    /// A batch takes the requests at the front and those behind other hosts' events, never one
    /// behind an earlier event (or a waiting ack) of its own host; what stays keeps its order.
    @Test func theEventQueueBatchesRequestsButNeverPastAnEarlierEventOfTheirHost() async {
        let queue = LinkEventQueue()
        queue.push("h1", Self.requestEvent("r1"))
        queue.push("h2", .protocolError("x"))
        queue.push("h2", Self.requestEvent("r2"))
        queue.push("h3", Self.requestEvent("r3"))
        queue.push("h1", .ack(5))  // behind h1's r1: waits in line
        queue.push("h1", Self.requestEvent("r4"))
        queue.push("h3", Self.requestEvent("r5"))
        queue.push("h4", .ack(6))
        queue.finish()
        let steps = await queue.drainedSteps()
        #expect(
            steps == [
                "acks h4:6", "requests h1:r1,h3:r3,h3:r5", "h2 x", "requests h2:r2", "acks h1:5", "requests h1:r4",
            ])
    }

    /// A batch never exceeds its bound; the rest follows in order.
    @Test func aLongRunOfRequestsIsSplitIntoBoundedBatchesInOrder() async {
        let queue = LinkEventQueue()
        let total = LinkEventQueue.maxBatch * 2 + 7
        for index in 0..<total { queue.push("h\(index % 3)", Self.requestEvent("r\(index)")) }
        queue.finish()
        var ids: [String] = []
        while let item = await queue.next() {
            guard case .requests(let requests) = item else {
                Issue.record("not a batch of requests: \(item)")
                continue
            }
            #expect(requests.count <= LinkEventQueue.maxBatch)
            ids += requests.map(\.request.id.rawValue)
        }
        #expect(ids == (0..<total).map { "r\($0)" })
    }

    /// Many hosts send requests at once (allowed, denied and asked, some sent twice, between other
    /// events): every request is stored once, decided at most once, its decision queued once and
    /// delivered once when its host acknowledges it, and the audit chain verifies.
    @Test func manyConcurrentRequestsFromSeveralHostsAreEachStoredDecidedAndDeliveredOnce() async throws {
        let hosts = (1...6).map { "h\($0)" }
        let fixture = try await InProcessFleet.make(hosts: hosts, policy: try Policy.load(directory: Self.policies))
        defer { Task { await fixture.remove() } }
        let fleet = fixture.fleet
        let store = fixture.store
        let commands: [(String, RequestStatus)] = [
            ("git status", .allowed), ("git status && git push origin main", .denied),
            ("npm install left-pad", .pending),
            ("ls -la", .allowed),
        ]
        let perHost = 80
        let queue = fleet.linkEvents
        // Each host pushes its own requests in order, all hosts at once from many threads; every
        // 7th is sent again (a resend after a reconnect), every 5th follows another event.
        DispatchQueue.concurrentPerform(iterations: hosts.count) { hostIndex in
            let host = hosts[hostIndex]
            for index in 0..<perHost {
                let (command, _) = commands[index % commands.count]
                let event = LinkEvent.message(
                    Envelope(seq: UInt64(index + 1), .request(Self.request("\(host)-\(index)", command))), hostKey: "")
                if index % 5 == 0 { queue.push(HostName(host), .protocolError("noise")) }
                queue.push(HostName(host), event)
                if index % 7 == 0 { queue.push(HostName(host), event) }
            }
        }
        let total = hosts.count * perHost
        var records: [RequestRecord] = []
        for _ in 0..<6000 {
            records = try await store.requests()
            if records.count == total { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(records.count == total)
        #expect(Set(records.map { "\($0.host)/\($0.request.id)" }).count == total, "each request stored once")
        for record in records {
            let index = Int(record.request.id.rawValue.split(separator: "-").last ?? "") ?? -1
            #expect(record.status == commands[index % commands.count].1, "\(record.host)/\(record.request.id)")
        }
        #expect(await fleet.largestRequestBatch > 1, "requests were stored in batches")

        // One decision record and one outbox entry per decided request.
        let decided = records.filter { $0.status != .pending }
        var decisions: [Int: Int] = [:]
        for entry in try await store.auditEntries() where entry.kind == "decision" {
            let details = try JSONSerialization.jsonObject(with: Data(entry.details.utf8)) as? [String: Any]
            decisions[try #require(details?["request"] as? Int), default: 0] += 1
        }
        #expect(decisions.count == decided.count && decisions.values.allSatisfy { $0 == 1 })
        var outbox: [String: [Int64]] = [:]
        for host in hosts {
            for (id, message) in try await store.undelivered(host: HostName(host)) {
                guard case .decision(let decision) = message else { continue }
                outbox["\(host)/\(decision.requestID)", default: []].append(id)
            }
        }
        #expect(outbox.count == decided.count && outbox.values.allSatisfy { $0.count == 1 })

        // The hosts acknowledge (twice, all at once): each decision is delivered once.
        let acks = outbox.flatMap { key, ids in ids.map { (String(key.split(separator: "/")[0]), $0) } }
        DispatchQueue.concurrentPerform(iterations: acks.count * 2) { index in
            let (host, id) = acks[index % acks.count]
            queue.push(HostName(host), .ack(UInt64(id)))
        }
        let ids = acks.map(\.1)
        for _ in 0..<6000 {
            if try await store.delivered(ids).count == ids.count { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await store.delivered(ids) == Set(ids))
        var deliveries: [Int: Int] = [:]
        for entry in try await store.auditEntries() where entry.kind == "delivered" {
            let details = try JSONSerialization.jsonObject(with: Data(entry.details.utf8)) as? [String: Any]
            deliveries[try #require(details?["outbox"] as? Int), default: 0] += 1
        }
        #expect(deliveries.count == ids.count && deliveries.values.allSatisfy { $0 == 1 })
        let verification = try await store.verifyAudit()
        #expect(verification.problem == nil)
        #expect(verification.requestsChecked == total)
    }

    /// The audit details writer gives byte for byte what JSONSerialization gave (sorted keys,
    /// unescaped slashes), for every key the code audits and text with every kind of character.
    @Test func auditDetailsAreWrittenExactlyAsJSONSerializationWroteThem() throws {
        let keys = """
            attempts basis behavior breaker bytes command decision event event_name file hard host_claimed_by id key \
            mark message missing_evidence note outbox reason request requests result rules scope source \
            supervisor_policy supervisor_status supersedes previous target text thread tier tool type verdict via vote
            """.split(separator: " ").map(String.init)
        var texts = ["", "plain", "a/b\\c\"d", "tab\there\nnew\r\u{8}\u{C}", "é ü 日本 🚀 \u{2028}\u{2029}\u{7F}\u{85}"]
        texts += (0..<0x20).map { "x\(Character(Unicode.Scalar(UInt8($0))))y" }
        texts.append(String((0..<0x80).map { Character(Unicode.Scalar(UInt8($0))) }))
        var cases: [[String: AuditValue]] = [[:]]
        for (index, key) in keys.enumerated() {
            let text = texts[index % texts.count]
            var details: [String: AuditValue] = [
                "request": .int(Int64(index) - 3), "missing_evidence": .strings([text, "b", ""]), "note": .null,
                "empty": .strings([]), "big": .int(.max), "small": .int(.min),
            ]
            details[key] = .string(text)
            cases.append(details)
        }
        cases.append(Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, .string(texts[$0 % texts.count])) }))
        for details in cases {
            let object = details.mapValues { value -> Any in
                switch value {
                case .string(let text): text
                case .int(let number): number
                case .strings(let list): list
                case .null: NSNull()
                }
            }
            let expected = String(
                decoding: try JSONSerialization.data(
                    withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
            #expect(Store.auditJSON(details) == expected)
        }
    }
}
