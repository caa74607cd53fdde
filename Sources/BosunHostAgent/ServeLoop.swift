import BosunCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `bosun-host serve`: speaks host protocol v1 on stdin/stdout for one supervisor link.
///
/// On start it says `hello` and reports every thread in the spool (the resend after a reconnect:
/// each link gets a fresh `serve`); then it reports each thread file as it changes (inotify), answers
/// pings, and marks threads whose process vanished as exited. It ends when stdin closes.
public final class ServeLoop {
    public static let version = "0.1.0"

    private let spool: Spool
    private let input: Int32
    private let output: Int32
    private let codec = ProtocolCodec()
    private var framer = LineFramer()
    private var nextSeq: UInt64 = 1
    /// Numbered messages not yet acknowledged, by seq.
    private(set) var unacked: [UInt64: Envelope<HostMessage>] = [:]
    private var protocolErrors = 0
    /// How often live-looking threads are checked for a vanished process, in milliseconds.
    private let livenessIntervalMs: Int32

    public init(
        spool: Spool, input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO, livenessIntervalMs: Int32 = 2000
    ) {
        self.spool = spool
        self.input = input
        self.output = output
        self.livenessIntervalMs = livenessIntervalMs
    }

    /// Runs until the supervisor closes the channel. Returns the process exit status.
    public func run() throws(SpoolError) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        try spool.prepare()
        let watch = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard watch >= 0 else { throw .errno(spool.threadsDirectory, "inotify_init1") }
        defer { close(watch) }
        let mask = UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE)
        guard inotify_add_watch(watch, spool.threadsDirectory, mask) >= 0 else {
            throw .errno(spool.threadsDirectory, "inotify_add_watch")
        }

        guard send(.hello(Self.hello())) else { return 0 }
        reapVanished()
        for thread in spool.readThreads() {
            guard send(.thread(thread)) else { return 0 }
        }

        var fds = [
            pollfd(fd: input, events: Int16(POLLIN), revents: 0),
            pollfd(fd: watch, events: Int16(POLLIN), revents: 0),
        ]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, livenessIntervalMs)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .errno("poll", "poll failed")
            }
            if ready == 0 {
                reapVanished()
                continue
            }
            if fds[1].revents & Int16(POLLIN) != 0 {
                for name in drainInotify(watch, &buffer) where name.hasSuffix(".json") {
                    let id = String(name.dropLast(5))
                    if let thread = spool.readThread(id: id), !send(.thread(thread)) { return 0 }
                }
            }
            if fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = read(input, &buffer, buffer.count)
                if n == 0 { return 0 }
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return 0
                }
                for item in framer.append(Data(buffer[0..<n])) {
                    guard handle(item) else { return 2 }
                }
            }
        }
    }

    // MARK: Messages

    /// Handles one framed item from the supervisor; false when the link should end.
    private func handle(_ item: LineFramer.Item) -> Bool {
        switch item {
        case .oversized(let size):
            return protocolError(ProtocolError(.lineTooLong, "\(size) bytes"))
        case .line(let line):
            do {
                let envelope = try codec.decodeSupervisorMessage(line)
                switch envelope.message {
                case .welcome: break
                case .ack(let seq): unacked[seq] = nil
                case .ping(let probe): return send(.pong(probe))
                }
                return true
            } catch {
                return protocolError(error)
            }
        }
    }

    private func protocolError(_ error: ProtocolError) -> Bool {
        protocolErrors += 1
        log("protocol error from supervisor: \(error)")
        return protocolErrors < 3
    }

    /// Writes one message; false when the supervisor is gone.
    @discardableResult
    private func send(_ message: HostMessage) -> Bool {
        var envelope = Envelope(seq: 0, message)
        if case .thread = message {
            envelope.seq = nextSeq
            nextSeq += 1
            unacked[envelope.seq] = envelope
        }
        return writeAll(codec.encode(envelope))
    }

    private func writeAll(_ data: Data) -> Bool {
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(output, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    // MARK: Host facts

    static func hello() -> Hello {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        let bootID =
            (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return Hello(
            hostVersion: version,
            hostname: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
            bootID: bootID, capabilities: ["threads"])
    }

    /// Marks threads whose process no longer exists as exited (their `run` was killed before it could).
    private func reapVanished() {
        for thread in spool.readThreads() where thread.state != .exited {
            guard let pid = thread.pid, !Self.isAlive(pid) else { continue }
            _ = try? spool.updateThread(id: thread.id) {
                guard $0.state != .exited else { return }
                $0.state = .exited
                $0.lastActivity = Date()
            }
        }
    }

    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // Field 3, after the parenthesised command name, is the state; Z is a zombie, X dead.
        guard let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    private func drainInotify(_ fd: Int32, _ buffer: inout [UInt8]) -> [String] {
        var names: [String] = []
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= n {
                let (length, name) = buffer.withUnsafeBytes { raw -> (Int, String) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    let start = offset + MemoryLayout<inotify_event>.size
                    let bytes = raw[start..<(start + Int(event.len))].prefix { $0 != 0 }
                    return (Int(event.len), String(decoding: bytes, as: UTF8.self))
                }
                if !name.isEmpty { names.append(name) }
                offset += MemoryLayout<inotify_event>.size + length
            }
        }
        return names
    }

    private func log(_ message: String) {
        FileHandle.standardError.write(Data("bosun-host: \(message)\n".utf8))
    }
}
