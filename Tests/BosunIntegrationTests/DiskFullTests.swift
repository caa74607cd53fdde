import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// bosund's state directory on a small tmpfs the test mounts (and unmounts), filled up while a
/// host asks: the ask is refused at once with the reason, nothing stored is lost, `hosts` shows
/// the condition, and bosund recovers by itself when space returns.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DiskFullTests {
    @Test func aFullStateDirectoryRefusesAsksAtOnceAndRecoversByItself() async throws {
        let fixture = try Fixture(hosts: 1)
        let mountPoint = fixture.root + "/statefs"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = Fixture.run("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint])
        try #require(mounted.status == 0, "mount tmpfs: \(mounted.stderr)")
        defer {
            fixture.shutdown()
            _ = Fixture.run("/bin/umount", [mountPoint])
            try? FileManager.default.removeItem(atPath: fixture.root)
        }
        let configFile = fixture.config + "/bosund.toml"
        let text = try String(contentsOfFile: configFile, encoding: .utf8)
        let moved = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("state_dir =") ? "state_dir = \"\(mountPoint)\"" : String(line)
        }.joined(separator: "\n")
        try moved.write(toFile: configFile, atomically: true, encoding: .utf8)
        try await fixture.startDaemon()
        try await eventually("host up and welcomed") {
            fixture.hosts().values.allSatisfy { $0["state"] as? String == "up" }
                && FileManager.default.fileExists(atPath: fixture.spool(1) + "/link.json")
        }
        let before = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "ls -la")).wait()
        #expect(Payload.specific(before)?["permissionDecision"] as? String == "allow")

        // Fill the filesystem (dd stops at ENOSPC).
        _ = Fixture.run("/bin/dd", ["if=/dev/zero", "of=\(mountPoint)/filler", "bs=64k"])
        let asked = Date()
        let refused = try fixture.hook(
            on: 1, "claude", Payload.claude("PreToolUse", "npm install left-pad", description: "need it"),
            deadline: 60
        ).wait()
        let answer = Payload.specific(refused)
        #expect(answer?["permissionDecision"] as? String == "deny", "\(refused.stdout)")
        let reason = answer?["permissionDecisionReason"] as? String ?? ""
        #expect(reason.contains("cannot store requests (disk full)"), "\(refused.stdout)")
        // Refused at once, not at the hook's 60 s deadline (a behaviour bound, far from the deadline).
        #expect(Date().timeIntervalSince(asked) < 30, "\(refused.stdout)")
        let during = fixture.hosts()["h1"]?["reason"] as? String ?? ""
        #expect(during.contains("cannot store"), "hosts reason: \(during)")

        // Space returns: the next request is stored and decided; what was stored before is intact.
        try FileManager.default.removeItem(atPath: mountPoint + "/filler")
        try await eventually("a request stored again") {
            let call = try fixture.hook(on: 1, "claude", Payload.claude("PreToolUse", "git status")).wait()
            return Payload.specific(call)?["permissionDecision"] as? String == "allow"
                && fixture.bosun("queue", "--all", "--json").jsonLines.count >= 2
        }
        #expect((fixture.hosts()["h1"]?["reason"] as? String ?? "").contains("cannot store") == false)
        // What the refused agent was told reaches the store too: serve reports the unstored answer
        // and writes it again until the supervisor can store it.
        try await eventually("the refused request stored with the answer its agent got", timeout: 60) {
            fixture.bosun("queue", "--all", "--json").jsonLines.contains {
                let evidence = $0["evidence"] as? [String: Any]
                return (evidence?["command"] as? String ?? "").contains("left-pad")
                    && $0["status"] as? String == "denied"
            }
        }
        let verify = fixture.bosun("audit", "verify")
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(fixture.daemon?.isRunning == true)
    }

    /// A host's spool on a small tmpfs the test mounts, filled up: `pause all --hard` says the host
    /// signalled its agents but could not record the pause (not "not reachable"), and once space
    /// returns the host writes it and acknowledges it on the same link; `resume all` then reaches
    /// it. Fails before: the pause was reported queued for a reconnect that never came.
    @Test func aHostThatCannotRecordAPauseSaysSoAndRecordsItWhenSpaceReturns() async throws {
        let fixture = try Fixture(hosts: 1)
        let spool = fixture.spool(1)
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let mounted = Fixture.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", spool])
        try #require(mounted.status == 0, "mount tmpfs: \(mounted.stderr)")
        defer {
            fixture.shutdown()
            _ = Fixture.run("/bin/umount", [spool])
            try? FileManager.default.removeItem(atPath: fixture.root)
        }
        try await fixture.startDaemon()
        try await eventually("host up and welcomed") {
            fixture.hostState("h1") == "up" && FileManager.default.fileExists(atPath: spool + "/link.json")
        }
        _ = Fixture.run("/bin/dd", ["if=/dev/zero", "of=\(spool)/filler", "bs=64k"])

        let pause = fixture.bosun("pause", "all", "--hard", "incident 9")
        #expect(pause.status == 3, "\(pause.stdout)\(pause.stderr)")
        #expect(pause.stdout.contains("h1: signalled, not recorded"), "\(pause.stdout)")
        #expect(!pause.stdout.contains("not reachable"), "\(pause.stdout)")

        try FileManager.default.removeItem(atPath: spool + "/filler")
        try await eventually("the pause recorded on the host after all") {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: spool + "/pauses")) ?? []
            return names.contains { $0.hasPrefix("breaker-") && $0.hasSuffix(".json") }
        }
        let resume = fixture.bosun("resume", "all")
        #expect(resume.status == 0, "\(resume.stdout)\(resume.stderr)")
        #expect(resume.stdout.contains("h1: resumed"), "\(resume.stdout)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: spool + "/pauses")) ?? []
        #expect(!left.contains { $0.hasPrefix("breaker-") }, "\(left)")
        #expect(fixture.daemon?.isRunning == true)
    }
}
