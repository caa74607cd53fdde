import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A local account made for one test (`useradd`, primary group `nogroup`, no home, no new group),
/// removed with `userdel` afterwards. Commands run as it through `setpriv`.
final class TemporaryAccount {
    let name: String

    init() throws {
        name = "bosuntest-\(UUID().uuidString.prefix(6).lowercased())"
        let made = Fixture.run(
            "/usr/sbin/useradd",
            ["--no-create-home", "--no-user-group", "--gid", "nogroup", "--shell", "/usr/sbin/nologin", name])
        guard made.status == 0 else { throw FixtureError(description: "useradd \(name) failed: \(made.stderr)") }
    }

    /// Runs `bosun --socket SOCKET arguments…` as this account, with `environment` (`NAME=value`) added.
    func bosun(socket: String, environment: [String] = [], _ arguments: String...) -> CommandResult {
        Fixture.run(
            "/usr/bin/setpriv",
            ["--reuid", name, "--regid", "nogroup", "--clear-groups", "--", "/usr/bin/env"] + environment
                + [Fixture.binDirectory + "/bosun", "--socket", socket] + arguments)
    }

    func remove() {
        _ = Fixture.run("/usr/sbin/userdel", [name])
    }
}

/// Issue 8.9: who a local account is on the control socket.
@Suite(.serialized, .timeLimit(.minutes(10))) struct SocketIdentityTests {
    /// Today any account that reaches the socket is an operator named after itself on channel `cli`,
    /// and `cli` counts for the commit quorum. Uses no new configuration: the test opens the socket up
    /// itself, as a too-permissive deployment would.
    @Test func anUnmappedAccountIsAViewer() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        let stranger = try TemporaryAccount()
        defer { stranger.remove() }
        // Let the account reach the socket (mkdtemp made the fixture's root 0700).
        chmod(fixture.root, 0o711)
        try await fixture.startDaemon()
        chmod(fixture.socket, 0o666)

        let who = stranger.bosun(socket: fixture.socket, "whoami")
        #expect(who.status == 0, "\(who.stderr)")
        #expect(who.stdout.contains("unix:\(stranger.name) (viewer) via channel cli"), "\(who.stdout)")
        let approve = stranger.bosun(socket: fixture.socket, "approve", "1")
        #expect(approve.status == 77, "\(approve.stdout) \(approve.stderr)")
        let pause = stranger.bosun(socket: fixture.socket, "pause", "all")
        #expect(pause.status == 77, "\(pause.stdout) \(pause.stderr)")
        // Nor may it claim to be an operator (the OpenSSH forced-command path).
        try fixture.addOperator("carol", role: "operator", channel: "desk")
        let claim = stranger.bosun(
            socket: fixture.socket, environment: ["SSH_ORIGINAL_COMMAND=whoami"], "shell", "--operator", "carol",
            "--channel", "desk")
        #expect(claim.status == 77, "\(claim.stdout) \(claim.stderr)")

        // Root (this test) stays an admin.
        let root = fixture.bosun("whoami")
        #expect(root.stdout.contains("root (admin) via channel cli"), "\(root.stdout)")
    }

    /// A `[[socket]]` entry makes a local account that operator, on that entry's channel; the socket
    /// is 0660 and belongs to `socket_group`.
    @Test func aMappedAccountIsItsOperatorOnItsChannel() async throws {
        let fixture = try Fixture(hosts: 1)
        defer { fixture.shutdown() }
        let mapped = try TemporaryAccount()
        defer { mapped.remove() }

        let main = fixture.config + "/bosund.toml"
        let trusted = try TemporaryAccount()
        defer { trusted.remove() }
        let settings = "socket_group = \"nogroup\"\nsocket_trusted_users = [\"\(trusted.name)\"]\n"
        try (settings + String(contentsOfFile: main, encoding: .utf8)).write(
            toFile: main, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            atPath: fixture.config + "/operators", withIntermediateDirectories: true)
        try "role = \"operator\"\n[[socket]]\nunix_user = \"\(mapped.name)\"\nchannel = \"desk\"\n".write(
            toFile: fixture.config + "/operators/carol.toml", atomically: true, encoding: .utf8)
        chmod(fixture.root, 0o711)
        try await fixture.startDaemon()

        var info = stat()
        #expect(stat(fixture.socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
        #expect(info.st_gid == 65534, "the socket belongs to socket_group")

        let carol = mapped.bosun(socket: fixture.socket, "whoami")
        #expect(carol.status == 0, "\(carol.stderr)")
        #expect(carol.stdout.contains("carol (operator) via channel desk"), "\(carol.stdout)")

        // An account in socket_trusted_users may assert an operator (the OpenSSH forced-command front door).
        let asserted = trusted.bosun(
            socket: fixture.socket, environment: ["SSH_ORIGINAL_COMMAND=whoami"], "shell", "--operator", "carol",
            "--channel", "desk")
        #expect(asserted.status == 0, "\(asserted.stderr)")
        #expect(asserted.stdout.contains("carol (operator) via channel desk"), "\(asserted.stdout)")
    }
}
