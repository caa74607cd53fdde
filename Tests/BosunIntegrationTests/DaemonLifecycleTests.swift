import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// bosund's parts run as services in one service group: SIGTERM and SIGINT stop them gracefully in
/// the reverse of their start order, a configuration error exits 78 before anything starts, and a
/// part that cannot start stops the others and exits 1.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DaemonLifecycleTests {
    /// Starts bosund with one host, has one request decided, and stops it with `signal`.
    func decidedAndStopped(by signal: Int32) async throws -> (Fixture, Int32) {
        let fixture = try Fixture(hosts: 1)
        try await fixture.startDaemon()
        try await eventually("host up") { fixture.hostState("h1") == "up" }
        try await eventually("host welcomed") {
            FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json")
        }
        let allowed = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "ls -la")).wait()
        #expect(Payload.specific(allowed)?["permissionDecision"] as? String == "allow")
        try await eventually("the decision delivered") {
            fixture.bosun("audit", "--json").jsonLines.contains { $0["kind"] as? String == "delivered" }
        }
        let process = try #require(fixture.daemon)
        fixture.stopDaemon(signal: signal)
        return (fixture, process.terminationStatus)
    }

    /// The lines `stopped <part>` in the daemon's log, in order.
    func stopOrder(_ log: String) -> [String] {
        log.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "stopped ") else { return nil }
            return String(line[range.upperBound...])
        }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalStopsEveryPartInReverseOrder(signal: Int32) async throws {
        let (fixture, status) = try await decidedAndStopped(by: signal)
        defer { fixture.shutdown() }
        let log = fixture.daemonLog()
        #expect(status == 0, "\(log)")
        #expect(log.contains("bosund stopped"), "\(log)")
        #expect(
            stopOrder(log) == ["ready", "control socket", "host links", "fleet", "notifier", "audit checkpoints"],
            "\(log)")
        // The control socket is gone, and the last checkpoint covers the whole chain.
        #expect(!FileManager.default.fileExists(atPath: fixture.socket))
        let checkpoints = try String(contentsOfFile: fixture.root + "/state/audit-checkpoints", encoding: .utf8)
        let last = try #require(checkpoints.split(separator: "\n").last)
        let anchor = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        let head = Fixture.run(
            "/usr/bin/sqlite3", [fixture.root + "/state/bosun.db", "SELECT MAX(seq) FROM audit"])
        #expect("\(anchor["seq"] ?? "")" == head.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func aConfigurationErrorExits78WithTheReason() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        let toml = fixture.config + "/bosund.toml"
        let text = try String(contentsOfFile: toml, encoding: .utf8)
        try (text + "\n[audit]\ncheckpoint_interval = 0\n").write(toFile: toml, atomically: true, encoding: .utf8)
        let result = Fixture.run(Fixture.binDirectory + "/bosund", ["--config", fixture.config])
        #expect(result.status == 78, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("bosund: configuration error:"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fixture.socket))
    }

    @Test func aPartThatCannotStartStopsTheOthersAndExits1() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        // A second bosund on the same socket: its control socket cannot start.
        let second = Fixture.run(Fixture.binDirectory + "/bosund", ["--config", fixture.config])
        #expect(second.status == 1, "\(second.stderr)")
        #expect(second.stderr.contains("another bosund is already listening"), "\(second.stderr)")
        // The first one still answers.
        #expect(fixture.bosun("version").status == 0)
    }

    /// A command still running when bosund stops (a `watch`) is cancelled and ends with its exit
    /// status, written before bosund exits; it is not cut off as if bosund had crashed (69).
    @Test func aWatchRunningAtStopEndsWithItsExitStatus() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        try await fixture.startDaemon()
        let output = fixture.root + "/watch.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: Fixture.binDirectory + "/bosun")
        watch.arguments = ["--socket", fixture.socket, "watch"]
        watch.standardInput = FileHandle.nullDevice
        watch.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try watch.run()
        defer { Fixture.terminate(watch) }
        try await eventually("watch started") {
            ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("watching")
        }
        fixture.stopDaemon(signal: SIGTERM)
        watch.waitUntilExit()
        #expect(watch.terminationStatus == 0, "\(fixture.daemonLog())")
    }

    /// The checkpoint part writes one every `checkpoint_interval` while bosund runs, not only at stop.
    @Test func aCheckpointIsWrittenEveryIntervalWhileRunning() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        let toml = fixture.config + "/bosund.toml"
        let text = try String(contentsOfFile: toml, encoding: .utf8)
        try (text + "\n[audit]\ncheckpoint_interval = 1\n").write(toFile: toml, atomically: true, encoding: .utf8)
        try await fixture.startDaemon()
        try await eventually("host up") { fixture.hostState("h1") == "up" }
        try await eventually("host welcomed") {
            FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json")
        }
        // Something for the audit chain to hold (a checkpoint is written while the chain grows).
        _ = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "ls -la")).wait()
        let file = fixture.root + "/state/audit-checkpoints"
        try await eventually("a checkpoint written while bosund runs") {
            FileManager.default.fileExists(atPath: file)
        }
        #expect(fixture.daemon?.isRunning == true)
    }
}
