import Foundation
import Testing

@testable import BosunSSH

#if canImport(Glibc)
    import Glibc
#endif

/// The front door against the real OpenSSH client on loopback.
@Suite(.serialized) struct FrontDoorTests {
    let fixture: FrontDoorFixture
    let log = LogRecorder()

    init() throws {
        fixture = try FrontDoorFixture()
    }

    /// Starts a server with an `EchoShell` that authorizes the operator key.
    private func start(_ settings: FrontDoorSettings? = nil) throws -> (FrontDoorServer, EchoShell) {
        let shell = EchoShell(authorized: try fixture.publicKey(fixture.operatorKey))
        let server = try FrontDoorServer(settings: settings ?? fixture.settings(), delegate: shell, logger: log.logger)
        try server.start()
        return (server, shell)
    }

    @Test func execPassesOutputAndExitStatus() throws {
        defer { fixture.remove() }
        let (server, _) = try start()
        defer { server.stop() }
        #expect(server.boundPort > 0)

        let hello = try fixture.ssh(port: server.boundPort, command: "hello front door")
        #expect(hello.status == 0, "\(hello.stderr)")
        #expect(hello.stdout == "HELLO FRONT DOOR\n")

        let exit = try fixture.ssh(port: server.boundPort, command: "exit 7")
        #expect(exit.status == 7, "\(exit.stderr)")

        let who = try fixture.ssh(port: server.boundPort, command: "whoami")
        let fingerprint = try fixture.publicKey(fixture.operatorKey).fingerprint
        #expect(who.stdout == "alice \(fingerprint)\n")

        let warn = try fixture.ssh(port: server.boundPort, command: "warn disk nearly full")
        #expect(warn.stdout == "")
        #expect(warn.stderr.contains("warning: disk nearly full\n"))
    }

    @Test func fingerprintMatchesSSHKeygen() throws {
        defer { fixture.remove() }
        let key = try fixture.publicKey(fixture.operatorKey)
        let listed = try Command.run("/usr/bin/ssh-keygen", ["-l", "-E", "sha256", "-f", fixture.operatorKey + ".pub"])
        #expect(listed.stdout.split(separator: " ").dropFirst().first.map(String.init) == key.fingerprint)
        #expect(key.type == "ssh-ed25519")
        #expect(FrontDoorKey(authorizedKey: "ssh-rsa \(key.base64) mislabeled") == nil)
        #expect(FrontDoorKey(authorizedKey: "garbage") == nil)
    }

    @Test func unknownKeyIsRefused() throws {
        defer { fixture.remove() }
        let (server, shell) = try start()
        defer { server.stop() }

        let result = try fixture.ssh(port: server.boundPort, key: fixture.strangerKey, command: "whoami")
        #expect(result.status == 255)
        #expect(result.stderr.contains("Permission denied (publickey)"), "\(result.stderr)")
        #expect(result.stdout == "")
        let stranger = try fixture.publicKey(fixture.strangerKey)
        #expect(
            shell.refused.contains { $0.key == stranger && $0.user == "alice" && $0.reason == "key not authorized" })

        // The right key under a user name the delegate refuses is refused too.
        let bob = try fixture.ssh(port: server.boundPort, user: "bob", command: "whoami")
        #expect(bob.status == 255)
        #expect(bob.stderr.contains("Permission denied (publickey)"))
    }

    @Test func hostKeyPersistsAcrossRestart() throws {
        defer { fixture.remove() }
        #expect(!FileManager.default.fileExists(atPath: fixture.hostKeyPath))
        let (first, _) = try start()
        let port = first.boundPort
        var info = stat()
        #expect(stat(fixture.hostKeyPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)

        // The first connection records the host key in known_hosts.
        let learned = try fixture.ssh(port: port, strictHostKeyChecking: "accept-new", command: "one")
        #expect(learned.status == 0, "\(learned.stderr)")
        let derived = try Command.run("/usr/bin/ssh-keygen", ["-y", "-f", fixture.hostKeyPath])
        let hostPublic = derived.stdout.split(whereSeparator: \.isWhitespace).prefix(2).joined(separator: " ")
        #expect(hostPublic == first.hostKey.description)
        let knownHosts = try String(contentsOfFile: fixture.knownHosts, encoding: .utf8)
        #expect(knownHosts.contains(hostPublic))
        first.stop()

        let (second, _) = try start(fixture.settings(port: port))
        defer { second.stop() }
        #expect(second.hostKey == first.hostKey)
        let again = try fixture.ssh(port: port, strictHostKeyChecking: "yes", command: "two")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout == "TWO\n")

        // A known_hosts built only from the key file verifies too.
        try "[127.0.0.1]:\(port) \(hostPublic)\n".write(toFile: fixture.knownHosts, atomically: true, encoding: .utf8)
        let pinned = try fixture.ssh(port: port, strictHostKeyChecking: "yes", command: "three")
        #expect(pinned.status == 0, "\(pinned.stderr)")
    }

    @Test func interactiveShellWithPTY() throws {
        defer { fixture.remove() }
        let (server, shell) = try start()
        defer { server.stop() }

        let result = try fixture.ssh(port: server.boundPort, options: ["-tt"], stdin: .text("hello\nexit 3\n"))
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stdout.contains("welcome alice\r\n> "), "\(result.stdout)")
        #expect(result.stdout.contains("hello\r\nHELLO\r\n> "), "\(result.stdout)")
        let pty = try #require(shell.seenPTYs.first ?? nil)
        #expect(pty.term == "xterm-256color")
    }

    @Test func windowChangeUpdatesThePTY() throws {
        defer { fixture.remove() }
        let (server, _) = try start()
        defer { server.stop() }

        // ssh reads the terminal size from its stdin, a pseudo-terminal we own.
        var master: Int32 = -1
        var slave: Int32 = -1
        var size = winsize(ws_row: 40, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0)
        try #require(openpty(&master, &slave, nil, nil, &size) == 0)
        defer { close(master) }
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh")
        process.arguments = [
            "-F", "/dev/null", "-tt", "-p", "\(server.boundPort)", "-i", fixture.operatorKey, "-o",
            "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=\(fixture.knownHosts)",
            "alice@127.0.0.1",
        ]
        process.environment = ["TERM": "xterm-256color", "PATH": "/usr/bin:/bin"]
        let output = Pipe()
        process.standardInput = terminal
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let stream = OutputStream(output.fileHandleForReading)
        try runWithSignalsUnblocked(process)
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        func type(_ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
        }

        #expect(stream.wait(for: "welcome alice"))
        type("size\r")
        #expect(stream.wait(for: "100x40"))
        size = winsize(ws_row: 50, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0)
        #expect(ioctl(master, UInt(TIOCSWINSZ), &size) == 0)
        kill(process.processIdentifier, SIGWINCH)
        type("waitsize 120\r")
        #expect(stream.wait(for: "120x50"), "\(stream.text)")
        type("exit 4\r")
        process.waitUntilExit()
        #expect(process.terminationStatus == 4)
    }

    @Test func pipedCommandsWithoutPTY() throws {
        defer { fixture.remove() }
        let (server, shell) = try start()
        defer { server.stop() }

        let result = try fixture.ssh(port: server.boundPort, options: ["-T"], stdin: .text("one\ntwo\nthree"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "ONE\nTWO\nTHREE\n")
        #expect(shell.seenPTYs == [nil])

        // An exec command reading stdin to EOF.
        let cat = try fixture.ssh(port: server.boundPort, command: "cat", stdin: .text("piped data\nmore\n"))
        #expect(cat.status == 0, "\(cat.stderr)")
        #expect(cat.stdout == "PIPED DATA\nMORE\n")
    }

    @Test func idleSessionIsClosed() throws {
        defer { fixture.remove() }
        let (server, _) = try start(fixture.settings(idleTimeout: 1))
        defer { server.stop() }

        let result = try fixture.ssh(port: server.boundPort, options: ["-T"], stdin: .held, timeout: 15)
        #expect(!result.timedOut)
        #expect(result.stderr.contains("idle timeout, closing"), "\(result.stdout) \(result.stderr)")
        #expect(result.seconds < 10)
    }

    @Test func garbageClientsDoNotHurtTheServer() throws {
        defer { fixture.remove() }
        let (server, _) = try start()
        defer { server.stop() }

        // Not SSH at all, binary noise, a bad packet after a valid banner: each is hung up on at once.
        #expect(RawClient.exchange(port: server.boundPort, send: Array("GET / HTTP/1.0\r\n\r\n".utf8)) != nil)
        #expect(
            RawClient.exchange(port: server.boundPort, send: (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7) })
                != nil)
        #expect(
            RawClient.exchange(
                port: server.boundPort,
                send: Array("SSH-2.0-Bogus\r\n".utf8) + [0xFF, 0xFF, 0xFF, 0xF0] + Array(repeating: 0, count: 28))
                != nil)
        // An immediate hang-up.
        #expect(RawClient.exchange(port: server.boundPort, send: nil) == 0)

        let result = try fixture.ssh(port: server.boundPort, command: "still here")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "STILL HERE\n")
        #expect(waitUntil { server.connectionCount == 0 })
    }

    @Test func clientVanishingMidOutputEndsTheSession() throws {
        defer { fixture.remove() }
        let (server, shell) = try start()
        defer { server.stop() }

        // The client is killed (SIGKILL after the timeout) while output is still streaming.
        let killed = try fixture.ssh(port: server.boundPort, command: "flood", stdin: .held, timeout: 1)
        #expect(killed.timedOut)
        #expect(killed.stdout.hasPrefix("xxxx"))
        #expect(waitUntil { shell.statuses["flood"] == 9 }, "\(shell.statuses)")
        #expect(waitUntil { server.connectionCount == 0 })

        let after = try fixture.ssh(port: server.boundPort, command: "ok")
        #expect(after.stdout == "OK\n")
    }

    @Test func concurrentSessions() throws {
        defer { fixture.remove() }
        let (server, _) = try start()
        defer { server.stop() }

        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 12) { index in
            let result = try? fixture.ssh(port: server.boundPort, command: "session \(index)")
            results.set(index, result)
        }
        for index in 0..<12 {
            let result = results.get(index)
            #expect(result?.status == 0, "\(result?.stderr ?? "no result")")
            #expect(result?.stdout == "SESSION \(index)\n")
        }
    }

    @Test func stalledClientsAreDroppedAfterTheLoginGraceTime() throws {
        defer { fixture.remove() }
        var settings = fixture.settings()
        settings.loginGraceTime = 1
        let (server, _) = try start(settings)
        defer { server.stop() }

        // Silent after connecting, and stalled in the middle of a packet.
        let silent = RawClient.exchange(port: server.boundPort, send: [], wait: 10)
        #expect(silent.map { $0 < 5 } == true)
        let stalled = RawClient.exchange(
            port: server.boundPort, send: Array("SSH-2.0-Bogus\r\n".utf8) + [0, 0, 0xFF, 0xFF, 1, 2, 3], wait: 10)
        #expect(stalled.map { $0 < 5 } == true)
        #expect(waitUntil { server.connectionCount == 0 })
    }

    /// Issue 8.8: 300 idle unauthenticated connections (today: 128 fill the cap for the whole grace
    /// time) must not lock an operator out, and idle connections from another address survive the flood.
    @Test func idleConnectionFloodLeavesRoomForOperators() throws {
        defer { fixture.remove() }
        let (server, _) = try start()
        defer { server.stop() }

        var neighbours: [Int32] = []
        var flood: [Int32] = []
        defer { for fd in neighbours + flood { close(fd) } }
        for _ in 0..<3 {
            if let fd = RawClient.dial(port: server.boundPort, from: "127.0.0.2") { neighbours.append(fd) }
        }
        for _ in 0..<300 {
            if let fd = RawClient.dial(port: server.boundPort) { flood.append(fd) }
        }
        #expect(neighbours.count == 3)
        #expect(flood.count == 300)

        let result = try fixture.ssh(port: server.boundPort, command: "whoami")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("alice SHA256:"), "\(result.stdout)")
        // The flood only competed with itself: its address keeps at most its cap of unauthenticated
        // connections, and the other address's idle connections were left alone.
        #expect(
            waitUntil { server.connectionCount <= server.settings.maxConnectionsPerAddress + neighbours.count },
            "\(server.connectionCount) connections still open")
        #expect(neighbours.allSatisfy { !RawClient.isClosed($0) })
        #expect(flood.filter { !RawClient.isClosed($0) }.count <= server.settings.maxConnectionsPerAddress)
    }

    @Test func repeatedFailuresAreRateLimited() throws {
        defer { fixture.remove() }
        let (server, shell) = try start(fixture.settings(maxFailures: 2))
        defer { server.stop() }

        for _ in 0..<2 {
            let refused = try fixture.ssh(port: server.boundPort, key: fixture.strangerKey, command: "whoami")
            #expect(refused.status == 255)
        }
        // The address is now blocked for a minute, even with the right key.
        let blocked = try fixture.ssh(port: server.boundPort, command: "whoami")
        #expect(blocked.status == 255)
        #expect(blocked.stdout == "")
        #expect(shell.refused.filter { $0.reason == "rate limited" }.count == 2)
        #expect(log.messages.contains { $0.contains("too many failed authentications from 127.0.0.1") })
        #expect(log.messages.contains { $0.contains("refusing connections from 127.0.0.1") })
        // Further refusals in the same minute are not reported again.
        _ = try fixture.ssh(port: server.boundPort, command: "whoami")
        #expect(shell.refused.filter { $0.reason == "rate limited" }.count == 2)
    }

    @Test func stopEndsOpenSessions() throws {
        defer { fixture.remove() }
        let (server, _) = try start()
        let port = server.boundPort
        let finished = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        Thread.detachNewThread {
            outcome.result = try? fixture.ssh(port: port, options: ["-T"], stdin: .held, timeout: 20)
            finished.signal()
        }
        #expect(waitUntil { server.connectionCount == 1 && log.messages.contains { $0.contains("session started") } })
        // A client stuck before login does not hold stop up either.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(silent, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(connected == 0)
        #expect(waitUntil { server.connectionCount == 2 })
        let before = Date()
        server.stop()
        #expect(Date().timeIntervalSince(before) < 5)
        #expect(finished.wait(timeout: .now() + 10) == .success)
        #expect(outcome.result?.timedOut == false)
        #expect(outcome.result?.stderr.contains("server stopping, closing") == true)
        #expect(server.connectionCount == 0)
    }
}

/// The failed-authentication window, without a server.
@Suite struct FrontDoorRateLimiterTests {
    @Test func rateLimiterSlidesOverTheWindow() {
        let limiter = FrontDoorRateLimiter(limit: 3, window: 60)
        #expect(limiter.recordFailure("10.0.0.1", now: 0) == 1)
        #expect(limiter.recordFailure("10.0.0.1", now: 10) == 2)
        #expect(!limiter.isBlocked("10.0.0.1", now: 11))
        #expect(limiter.recordFailure("10.0.0.1", now: 20) == 3)
        #expect(limiter.isBlocked("10.0.0.1", now: 21))
        #expect(!limiter.isBlocked("10.0.0.2", now: 21))
        // The first failure leaves the window at 60 s.
        #expect(limiter.isBlocked("10.0.0.1", now: 59))
        #expect(!limiter.isBlocked("10.0.0.1", now: 61))
        #expect(limiter.recordFailure("10.0.0.1", now: 62) == 3)
    }

    @Test func blockedAddressesAreReportedOncePerWindow() {
        let limiter = FrontDoorRateLimiter(limit: 1, window: 60)
        #expect(limiter.shouldReportBlock("10.0.0.1", now: 0))
        #expect(!limiter.shouldReportBlock("10.0.0.1", now: 30))
        #expect(limiter.shouldReportBlock("10.0.0.2", now: 30))
        #expect(limiter.shouldReportBlock("10.0.0.1", now: 61))
    }
}

/// Starts `process` from a thread with an empty signal mask. A child inherits the spawning thread's
/// mask, and the test runner's worker threads block SIGWINCH, which ssh must receive here.
private func runWithSignalsUnblocked(_ process: Process) throws {
    let done = DispatchSemaphore(value: 0)
    let failure = Outcome()
    Thread.detachNewThread {
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        do { try process.run() } catch { failure.error = error }
        done.signal()
    }
    done.wait()
    if let error = failure.error { throw error }
}

/// Collects a pipe's output on a thread and lets a test wait for a piece of text in it.
private final class OutputStream: @unchecked Sendable {
    private let condition = NSCondition()
    private var buffer = ""

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let data = handle.availableData
                condition.lock()
                buffer += String(decoding: data, as: UTF8.self)
                condition.broadcast()
                condition.unlock()
                if data.isEmpty { return }
            }
        }
    }

    var text: String {
        condition.lock()
        defer { condition.unlock() }
        return buffer
    }

    /// Waits until `text` appeared in the output, up to `seconds`.
    func wait(for text: String, seconds: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while !buffer.contains(text) {
            if !condition.wait(until: deadline) { return buffer.contains(text) }
        }
        return true
    }
}

private final class Outcome: @unchecked Sendable {
    var result: Command.Result?
    var error: (any Error)?
}

private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: Command.Result] = [:]

    func set(_ index: Int, _ result: Command.Result?) { lock.withLock { results[index] = result } }
    func get(_ index: Int) -> Command.Result? { lock.withLock { results[index] } }
}

/// Polls a condition that no event announces (a thread being reaped), with a deadline.
private func waitUntil(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// A plain TCP client that sends bytes and reads until the server hangs up.
private enum RawClient {
    /// Connects from `source` (a loopback address) and returns the open socket, sending nothing.
    static func dial(port: Int, from source: String = "127.0.0.1") -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Whether the server hung up on `fd` (reads what it sent, such as its banner, without waiting).
    static func isClosed(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 { continue }
            return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
        }
    }

    /// Seconds until the server closed the connection, nil when it stayed open for `wait` seconds.
    /// `send: nil` hangs up right after connecting (and returns 0).
    static func exchange(port: Int, send bytes: [UInt8]?, wait: Int = 5) -> Double? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return nil }
        guard let bytes else { return 0 }
        let started = Date()
        if !bytes.isEmpty {
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        var timeout = timeval(tv_sec: wait, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 || (n < 0 && errno == ECONNRESET) { return Date().timeIntervalSince(started) }
            if n < 0 { return nil }
        }
    }
}
