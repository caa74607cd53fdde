import BosunConfig
import BosunCore
import BosunTestSupport
import Foundation
import Testing

@testable import BosunShell
@testable import BosunStore
@testable import BosunSupervisor
@testable import BosunTerminal

/// The pure measures (`ReviewReport.compute`) on hand-made rows, and the `stats` view and roles
/// on a real store.
@Suite struct ReviewReportTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func row(
        _ number: Int64, thread: ThreadID = "t1", host: HostName = "h1", command: String? = "frob x", status: String,
        decidedBy: String?, channel: String?, response: Double? = nil, voter: String? = nil, voteChannel: String? = nil,
        exit: Int64? = nil, created: Double = 0, decided: Double? = nil, tier: Tier = .expand,
        verdict: Verdict = .ask, missing: Bool = false
    ) -> AnalyticsRequest {
        AnalyticsRequest(
            number: number, host: host, threadID: thread, tool: "Bash", command: command,
            createdAt: t0.addingTimeInterval(created), receivedAt: t0.addingTimeInterval(created),
            deadlineAt: t0.addingTimeInterval(created + 600), decidedAt: decided.map { t0.addingTimeInterval($0) },
            tier: tier, policyVerdict: verdict, status: status, decidedBy: decidedBy, channel: channel, local: false,
            missingEvidence: missing, firstVoteAt: response.map { t0.addingTimeInterval(created + $0) },
            firstVoter: voter, firstVoteChannel: voteChannel, outcomeExit: exit)
    }

    @Test func percentilesAreNearestRank() {
        let summary = ReviewReport.Summary((1...10).map(Double.init).shuffled())
        #expect(summary.count == 10 && summary.p50 == 5 && summary.p90 == 9 && summary.max == 10)
        let one = ReviewReport.Summary([7])
        #expect(one.p50 == 7 && one.p90 == 7 && one.max == 7)
        #expect(ReviewReport.Summary([]).p50 == nil)
        let three = ReviewReport.Summary([3, 1, 2])
        #expect(three.p50 == 2 && three.p90 == 3)
    }

    @Test func everyMeasureFromRows() {
        let rows = [
            Self.row(1, status: "allowed", decidedBy: "policy:git-read", channel: "policy", exit: 0, verdict: .allow),
            Self.row(
                2, status: "allowed", decidedBy: "operator:alice", channel: "desk", response: 10, voter: "alice",
                voteChannel: "desk", exit: 1, created: 0, decided: 10),
            Self.row(
                3, status: "allowed", decidedBy: "operator:bob", channel: "mobile", response: 30, voter: "bob",
                voteChannel: "mobile", exit: 0, created: 100, decided: 130),
            Self.row(
                4, thread: "t2", status: "denied", decidedBy: "operator:alice", channel: "desk", response: 20,
                voter: "alice", voteChannel: "desk", created: 200, decided: 220),
            Self.row(5, status: "expired", decidedBy: "timeout", channel: "timer", created: 300, decided: 900),
            Self.row(6, status: "pending", decidedBy: nil, channel: nil, created: 1000),
            Self.row(
                7, status: "denied", decidedBy: "policy:default", channel: "policy", created: 0, decided: 0,
                missing: true),
            Self.row(
                8, status: "denied", decidedBy: "policy:git-push", channel: "policy", tier: .commit, verdict: .deny,
                missing: true),
        ]
        let snapshot = AnalyticsSnapshot(
            requests: rows,
            threads: [
                AnalyticsThread(
                    host: "h1", id: "t1", startedAt: Self.t0, lastActivity: Self.t0.addingTimeInterval(7200))
            ], files: [:], marks: [])
        let now = Self.t0.addingTimeInterval(1100)
        let report = ReviewReport.compute(snapshot, since: nil, now: now)
        #expect(report.requests == 8 && report.queued == 5)
        #expect(report.response.overall == ReviewReport.Summary([10, 30, 20]))
        #expect(report.response.overall.p50 == 20 && report.response.overall.max == 30)
        #expect(report.response.byChannel.map(\.key) == ["desk", "mobile"])
        #expect(report.response.byOperator.map { $0.summary.count } == [2, 1])
        #expect(report.response.unanswered == 2)
        // 10 + 30 + 20 + 600 (expired at its deadline) + 100 (pending, to now) seconds.
        #expect(report.response.agentWait == 760)
        #expect(report.volume.asks == 5 && report.volume.threads == 2)
        #expect(report.volume.top.first?.thread == "h1/t1" && report.volume.top.first?.asks == 4)
        #expect(report.volume.top.first?.perHour == 2)
        #expect(report.volume.perHour == 2, "only threads with a known runtime count in hours")
        #expect(report.failures.overall.approved == 2 && report.failures.overall.failed == 1)
        #expect(report.failures.overall.rate == 0.5)
        #expect(report.failures.policyAllowed.outcomes == 1 && report.failures.policyAllowed.failed == 0)
        #expect(report.decisions.decided == 7 && report.decisions.policy == 3 && report.decisions.person == 3)
        #expect(report.decisions.timeout == 1 && report.decisions.denied == 3)
        #expect(
            report.decisions.queuedDecided == 4 && report.decisions.expired == 1 && report.decisions.expiryRate == 0.25)
        #expect(report.decisions.deniedMissingEvidence == 1, "a rule's own deny is not a missing-evidence denial")
        #expect(report.noisiest.first?.action == "frob x" && report.noisiest.first?.count == 5)
        #expect(report.noisiest.first?.approvalRate == 0.5)
    }

    @Test func reworkFollowsFilesWithinTheWindow() {
        let rows = [
            Self.row(1, status: "allowed", decidedBy: "operator:bob", channel: "mobile", created: 0, decided: 5),
            Self.row(2, status: "allowed", decidedBy: "policy:edit", channel: "policy", created: 10, decided: 10),
            Self.row(3, status: "allowed", decidedBy: "operator:bob", channel: "mobile", created: 20, decided: 25),
            // Changes a.swift again, but after the window of #3 (2 h): not rework of #3.
            Self.row(
                4, status: "allowed", decidedBy: "policy:edit", channel: "policy", created: 20 + 7300, decided: 7320),
        ]
        let files: [Int64: AnalyticsFiles] = [
            1: AnalyticsFiles(paths: ["/repo/a.swift"], changedFiles: [], repo: "/repo"),
            2: AnalyticsFiles(paths: [], changedFiles: ["a.swift"], repo: "/repo"),
            3: AnalyticsFiles(paths: ["/repo/b.swift"], changedFiles: ["a.swift"], repo: "/repo"),
            4: AnalyticsFiles(paths: ["b.swift"], changedFiles: ["a.swift"], repo: "/repo"),
        ]
        // Files changed: #1 a.swift (its path), #2 none (nothing new by #3), #3 b.swift, #4 b.swift.
        let snapshot = AnalyticsSnapshot(requests: rows, threads: [], files: files, marks: [])
        let report = ReviewReport.compute(snapshot, since: nil, now: Self.t0, reworkWindow: 7200)
        #expect(report.rework.mobileApproved == 2)
        #expect(report.rework.withFiles == 2)
        // #1 (a.swift) is not changed again by #2 (its files are empty) nor #3 (b.swift), nor #4 (b.swift).
        #expect(report.rework.requests == [])
        let wide = ReviewReport.compute(snapshot, since: nil, now: Self.t0, reworkWindow: 8000)
        #expect(wide.rework.requests == [3], "#4 changes b.swift within 8000 s of #3's approval")
    }

    /// `stats` reads the files of only the requests `reworkReads` names; the rework figures from
    /// those are the ones from every request's files, and both match the README's definition
    /// written again here (a generated history: several threads, overlapping windows, some
    /// requests stored out of creation order, absolute and relative paths).
    @Test func reworkFromTheFilesItReadsMatchesTheDefinition() {
        var random = SeededGenerator(state: 12)
        let names = ["a.swift", "b.swift", "c.swift", "d.swift", "e.swift", "f.swift"]
        var rows: [AnalyticsRequest] = []
        var files: [Int64: AnalyticsFiles] = [:]
        for number in Int64(1)...600 {
            let created = Double(number) * 400 + Double.random(in: -900...900, using: &random)
            let roll = Int.random(in: 0..<10, using: &random)
            let (status, decidedBy, channel): (String, String?, String?) =
                switch roll {
                case 0..<3: ("allowed", "operator:bob", "mobile")
                case 3: ("denied", "operator:bob", "mobile")
                case 4: ("allowed", "operator:alice", "desk")
                case 5: ("expired", "timeout", "timer")
                default: ("allowed", "policy:edit", "policy")
                }
            rows.append(
                Self.row(
                    number, thread: "t\(Int.random(in: 0..<4, using: &random))",
                    host: Bool.random(using: &random) ? "h1" : "h2", status: status, decidedBy: decidedBy,
                    channel: channel, created: created,
                    decided: status == "allowed" ? created + Double.random(in: 0...600, using: &random) : nil))
            let paths = names.filter { _ in Int.random(in: 0..<8, using: &random) == 0 }.map {
                Bool.random(using: &random) ? "/repo/" + $0 : $0
            }
            let changed = names.filter { _ in Int.random(in: 0..<4, using: &random) == 0 }
            files[number] = AnalyticsFiles(paths: paths, changedFiles: changed, repo: "/repo")
        }

        // The definition: each mobile approval's thread, from the thread's first one on, by number.
        func expected(window: TimeInterval) -> [Int64] {
            let approvals = rows.filter {
                $0.status == "allowed" && $0.channel == "mobile" && $0.decidedBy?.hasPrefix("operator:") == true
            }
            func changed(_ list: [AnalyticsRequest], _ position: Int) -> Set<String> {
                let own = files[list[position].number]
                var result = Set(
                    (own?.paths ?? []).map { $0.hasPrefix("/repo/") ? String($0.dropFirst(6)) : $0 })
                if position + 1 < list.count {
                    result.formUnion(
                        Set(files[list[position + 1].number]?.changedFiles ?? []).subtracting(own?.changedFiles ?? []))
                }
                return result
            }
            var reworked: [Int64] = []
            for approval in approvals {
                let same = approvals.filter { $0.host == approval.host && $0.threadID == approval.threadID }
                let start = same.map(\.createdAt).min() ?? approval.createdAt
                let list = rows.filter {
                    $0.host == approval.host && $0.threadID == approval.threadID && $0.createdAt >= start
                }.sorted { $0.number < $1.number }
                guard let position = list.firstIndex(where: { $0.number == approval.number }) else { continue }
                let mine = changed(list, position)
                guard !mine.isEmpty else { continue }
                let approvedAt = approval.decidedAt ?? approval.createdAt
                for later in list.indices where later > position {
                    guard list[later].createdAt.timeIntervalSince(approvedAt) <= window else { break }
                    if list[later].status == "allowed", !changed(list, later).isDisjoint(with: mine) {
                        reworked.append(approval.number)
                        break
                    }
                }
            }
            return reworked
        }

        let windows: [TimeInterval] = [600, 3600, 24 * 3600]
        for window in windows {
            let reads = Set(ReviewReport.reworkReads(rows, window: window))
            let every = ReviewReport.compute(
                AnalyticsSnapshot(requests: rows, threads: [], files: files, marks: []), since: nil, now: Self.t0,
                reworkWindow: window)
            let read = ReviewReport.compute(
                AnalyticsSnapshot(
                    requests: rows, threads: [], files: files.filter { reads.contains($0.key) }, marks: []),
                since: nil, now: Self.t0, reworkWindow: window)
            let reference = expected(window: window)
            #expect(!reference.isEmpty, "the history has rework within \(window) s")
            #expect(every.rework.requests == reference)
            #expect(read.rework == every.rework)
            #expect(
                every.rework.mobileApproved == rows.filter { $0.channel == "mobile" && $0.status == "allowed" }.count)
            if window < 24 * 3600 { #expect(reads.count < rows.count, "only the windows' requests are read") }
        }
    }

    @Test func normalizedActions() {
        #expect(ReviewReport.normalizedAction(tool: "Bash", command: "git push origin main") == "git push")
        #expect(ReviewReport.normalizedAction(tool: "Bash", command: "/usr/bin/npm install x") == "npm install")
        #expect(ReviewReport.normalizedAction(tool: "Bash", command: "FOO=1 make -j8") == "make")
        #expect(ReviewReport.normalizedAction(tool: "Bash", command: "ls; rm -rf /") == "ls")
        #expect(ReviewReport.normalizedAction(tool: "Bash", command: "curl -s https://x") == "curl")
        #expect(ReviewReport.normalizedAction(tool: "Edit", command: nil) == "Edit")
        #expect(ReviewReport.normalizedAction(tool: "Bash", command: "") == "Bash")
    }
}

@Suite(.serialized) struct StatsViewTests {
    @Test func statsFitFortyColumnsEscapeHostTextAndRolesHold() async throws {
        let setup = try await InProcessFleet.make()
        defer { Task { await setup.remove() } }
        let hostile = "frob\u{1B}[31m\u{202E}evil --flag"
        for index in 0..<3 {
            try await setup.request(
                "r\(index)", host: "h1", thread: "t\u{1B}]0;x\u{07}", command: hostile, reason: "why")
        }
        let queue = await setup.run(["queue", "--json"], width: nil)
        let numbers = queue.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["number"] as? Int
        }
        #expect(numbers.count == 3)
        #expect(await setup.run(["approve", "\(numbers[0])"], width: nil).exit == 0)
        #expect(await setup.run(["deny", "\(numbers[1])", "no"], width: nil).exit == 0)
        #expect(await setup.run(["mark", "\(numbers[1])", "near-miss", "caught \u{1B}[2J it"], width: nil).exit == 0)

        let view = await setup.run(["stats"], width: 40)
        #expect(view.exit == 0, "\(view.stderr)")
        for line in view.stdout.split(separator: "\n") {
            #expect(line.count <= 40, "too wide: \(line)")
            #expect(!line.unicodeScalars.contains { $0.value == 0x1B || $0 == "\u{202E}" }, "raw control: \(line)")
        }
        #expect(view.stdout.contains("3 requests, 3 asked a person"))
        #expect(view.stdout.contains("noisiest prompts"))
        #expect(view.stdout.contains("near-miss"))

        let json = await setup.run(["stats", "--json"], width: nil)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["queued"] as? Int == 3)

        // Viewers read; marking and replaying (bosund reads the file) are for operators.
        #expect(await setup.run(["stats"], width: nil, role: .viewer).exit == 0)
        #expect(await setup.run(["export", "evalset"], width: nil, role: .viewer).exit == 0)
        #expect(await setup.run(["policy", "suggest"], width: nil, role: .viewer).exit == 0)
        #expect(await setup.run(["mark", "\(numbers[0])", "incident", "x"], width: nil, role: .viewer).exit == 77)
        #expect(await setup.run(["policy", "replay", "/etc"], width: nil, role: .viewer).exit == 77)
        #expect(
            await setup.run(["policy", "suggest", "--write", "/tmp/x.toml"], width: nil, role: .viewer).exit == 77)
        #expect(await setup.run(["stats", "--rework-hours", "nan"], width: nil).exit == 2)
        #expect(await setup.run(["stats", "--since", "1e300d"], width: nil).exit == 2)
    }
}
