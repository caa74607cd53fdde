import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The front door under hostile input, through the real bosund and the real OpenSSH client.
@Suite(.serialized, .timeLimit(.minutes(10))) struct FrontDoorLimitsTests {
    /// Issue 8.8: 8 MiB piped without a newline (today a quadratic newline scan costs a core for
    /// about 30 s, then runs it as one command) ends the session with a bounded-line error, and the
    /// daemon answers at once afterwards.
    @Test func pipedInputWithoutNewlineEndsWithABoundedLineError() async throws {
        let door = try await FrontDoorFixture()
        defer { door.fixture.shutdown() }

        let pid = door.fixture.daemon?.processIdentifier ?? 0
        let cpuBefore = cpuSeconds(pid)
        let started = Date()
        let flood = try door.ssh("alice", input: "whoami\n" + String(repeating: "x", count: 8 << 20), tty: false)
        let seconds = Date().timeIntervalSince(started)
        // Measured, not asserted (speed belongs to benchmarks): visible in the test log.
        print(
            "8 MiB without a newline: session ended after \(String(format: "%.2f", seconds)) s, bosund used \(String(format: "%.2f", cpuSeconds(pid) - cpuBefore)) s of CPU"
        )
        #expect(flood.stdout.contains("alice (operator) via channel desk"), "the line before still ran")
        #expect(flood.status == 2, "\(flood.stderr)")
        #expect(
            flood.stderr.contains("input line longer than 65536 bytes without a newline; closing the session"),
            "\(flood.stderr)")

        let after = door.ssh("alice", "whoami")
        #expect(after.status == 0, "\(after.stderr)")
        #expect(after.stdout.contains("alice (operator) via channel desk"))
        #expect(door.fixture.bosun("version").status == 0)
    }

    /// Issue 8.8 through bosund's configuration: `[front_door]` limits are read and a flood of idle
    /// connections from one address still leaves an operator room to log in.
    @Test func idleConnectionFloodDoesNotLockOperatorsOut() async throws {
        let door = try await FrontDoorFixture()
        defer { door.fixture.shutdown() }

        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for _ in 0..<300 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { break }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(door.port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if connected == 0 { idle.append(fd) } else { close(fd) }
        }
        #expect(idle.count == 300)
        let whoami = door.ssh("alice", "whoami")
        #expect(whoami.status == 0, "\(whoami.stderr)")
        #expect(whoami.stdout.contains("alice (operator) via channel desk"))
    }
}

/// User plus system CPU seconds of process `pid` so far (from /proc/PID/stat), for measurements.
private func cpuSeconds(_ pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let end = text.lastIndex(of: ")")
    else { return 0 }
    // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
    let fields = text[text.index(after: end)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
