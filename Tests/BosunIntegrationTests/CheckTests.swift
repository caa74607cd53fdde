import Foundation
import Testing

/// Issue 7.14: `bosun check` end to end: several problems in one run, each naming file and key, and
/// exit status 78 (EX_CONFIG, as bosund at start).
@Suite struct CheckTests {
    @Test func reportsEveryProblemAtOnce() throws {
        let dir = "/tmp/bosun-check-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/hosts", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/operators", withIntermediateDirectories: true)
        let key = dir + "/supervisor"
        #expect(Fixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status == 0)
        // The public half given as identity, and a known_hosts that is not there.
        try "state_dir = \"\(dir)/state\"\nidentity = \"supervisor.pub\"\nknown_hosts = \"nowhere/known_hosts\"\n"
            .write(toFile: dir + "/bosund.toml", atomically: true, encoding: .utf8)
        try "address = \"127.0.0.1\"\n".write(toFile: dir + "/hosts/web.toml", atomically: true, encoding: .utf8)
        try "address = \"127.0.0.1\"\nport = \"twenty-two\"\n".write(
            toFile: dir + "/hosts/db.toml", atomically: true, encoding: .utf8)
        let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try "role = \"operator\"\n[[key]]\npublic_key = \"\(publicKey)\"\nchannel = \"phone\"\n".write(
            toFile: dir + "/operators/pat.toml", atomically: true, encoding: .utf8)

        let check = Fixture.run(Fixture.binDirectory + "/bosun", ["check", "--config", dir])
        #expect(check.status == 78, "\(check.stdout) \(check.stderr)")
        #expect(check.stderr.contains("error: \(dir)/bosund.toml: identity: \(dir)/supervisor.pub is a public key"))
        #expect(
            check.stderr.contains("error: \(dir)/bosund.toml: known_hosts: \(dir)/nowhere/known_hosts does not exist"))
        #expect(check.stderr.contains("error: \(dir)/hosts/db.toml: port: expected an integer in 1…65535"))
        #expect(
            check.stderr.contains(
                "warning: \(dir)/operators/pat.toml: key.channel: channel \"phone\" is accepted by no tier"),
            "\(check.stderr)")
        #expect(check.stdout.contains("3 error(s), 1 warning(s)"), "\(check.stdout)")
    }
}
