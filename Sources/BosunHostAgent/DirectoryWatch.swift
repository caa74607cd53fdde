import BosunCore
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// inotify on a few directories: wait for files to be created, renamed into them or deleted.
///
/// When the kernel refuses an inotify instance (the per-user limit, `fs.inotify.max_user_instances`,
/// 128 by default, is reached on hosts with many agents: `inotify_init1` fails with EMFILE), the
/// watch degrades to a bounded poll: every `fallbackIntervalMs` (100 ms) it lists the watched
/// directories and reports what appeared, changed or disappeared since the last look. This is the
/// one place Bosun polls; `bosun-host doctor` reports it through `isInotifyAvailable()`.
public final class DirectoryWatch {
    /// How often the fallback re-checks the directories, in milliseconds.
    public static let fallbackIntervalMs: Int32 = 100

    /// The inotify descriptor to poll, or -1 when the watch is polling.
    let descriptor: Int32
    private var directories: [Int32: String] = [:]
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    /// Fallback only: what each watched directory held at the last look (name → identity).
    private var listings: [String: [String: FileStamp]] = [:]
    private var lastScan = MonotonicClock.nanoseconds()

    private struct FileStamp: Equatable {
        var inode: UInt
        var modified: Int
        var modifiedNs: Int
        var size: Int
    }

    /// True when this watch uses the bounded poll instead of inotify.
    public var isPolling: Bool { descriptor < 0 }

    /// `polling` forces the fallback (for tests); otherwise it is used only when inotify is refused.
    init(polling: Bool = false) {
        descriptor = polling ? -1 : inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if descriptor < 0 && !polling {
            StandardStream.writeError(
                "bosun-host: inotify unavailable (\(String(cString: strerror(errno)))); re-checking every \(Self.fallbackIntervalMs) ms instead\n"
            )
        }
    }

    /// Let go of the inotify instance without waiting for the kernel's teardown
    /// (``PosixSupport/closeInBackground(_:closing:)``): for a hook process, never in tests.
    var closesInBackground = false
    /// A program the background close runs once the hook has exited (see
    /// ``PosixSupport/closeInBackground(_:closing:thenExec:)``); only with ``closesInBackground``.
    var execAfterRelease: [String]?

    /// Whether ``execAfterRelease`` will be run: the descriptor is closed in the background.
    var releasesInBackground: Bool { closesInBackground && descriptor >= 0 }

    deinit {
        guard descriptor >= 0 else { return }
        if closesInBackground {
            PosixSupport.closeInBackground(descriptor, thenExec: execAfterRelease)
        } else {
            close(descriptor)
        }
    }

    /// Whether this process can get an inotify instance right now (false at the per-user limit);
    /// without one, hooks and `serve` fall back to re-checking every `fallbackIntervalMs`.
    public static func isInotifyAvailable() -> Bool {
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    func add(_ directory: String) throws(SpoolError) {
        guard descriptor >= 0 else {
            listings[directory] = Self.list(directory)
            return
        }
        let watch = inotify_add_watch(descriptor, directory, UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE))
        guard watch >= 0 else { throw .errno(directory, "inotify_add_watch") }
        directories[watch] = directory
    }

    /// The longest a caller's own poll may block before calling `drain()`: unbounded (`timeoutMs`)
    /// with inotify, the fallback interval when polling.
    func boundedTimeout(_ timeoutMs: Int32) -> Int32 {
        guard isPolling else { return timeoutMs }
        return timeoutMs < 0 ? Self.fallbackIntervalMs : min(timeoutMs, Self.fallbackIntervalMs)
    }

    /// Blocks up to `timeoutMs` for an event; returns (directory, file name) pairs seen.
    func wait(timeoutMs: Int32) -> [(directory: String, name: String)] {
        wait(timeoutMs: timeoutMs, watching: -1).events
    }

    /// The same, also watching `output` (the write end of a pipe to the agent): `readerGone` when
    /// nobody reads it any more, i.e. the agent that called the hook has gone away; and `extra`
    /// (a descriptor that becomes readable on some other event): `extraReady`.
    func wait(timeoutMs: Int32, watching output: Int32, extra: Int32 = -1) -> (
        events: [(directory: String, name: String)], readerGone: Bool, extraReady: Bool
    ) {
        var fds = [
            pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: output, events: 0, revents: 0),
            pollfd(fd: extra, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&fds, 3, boundedTimeout(timeoutMs))
        let gone = ready > 0 && output >= 0 && fds[1].revents & Int16(POLLERR | POLLHUP) != 0
        let extraReady = ready > 0 && extra >= 0 && fds[2].revents != 0
        if isPolling { return (drain(), gone, extraReady) }
        return (ready > 0 && fds[0].revents & Int16(POLLIN) != 0 ? drain() : [], gone, extraReady)
    }

    /// Reads whatever events are queued, without blocking. When polling, compares the directories
    /// with the last look (at most once per `fallbackIntervalMs`).
    func drain() -> [(directory: String, name: String)] {
        guard descriptor >= 0 else { return scan() }
        var events: [(String, String)] = []
        while true {
            let n = read(descriptor, &buffer, buffer.count)
            if n <= 0 { break }
            var offset = 0
            let header = MemoryLayout<inotify_event>.size
            while offset + header <= n {
                let (watch, length, name) = buffer.withUnsafeBytes { raw -> (Int32, Int, String) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    let start = offset + header
                    let bytes = raw[start..<min(n, start + Int(event.len))].prefix { $0 != 0 }
                    return (event.wd, Int(event.len), String(decoding: bytes, as: UTF8.self))
                }
                if !name.isEmpty, let directory = directories[watch] { events.append((directory, name)) }
                offset += header + length
            }
        }
        return events
    }

    // MARK: Fallback

    private func scan() -> [(directory: String, name: String)] {
        let now = MonotonicClock.nanoseconds()
        guard now - lastScan >= UInt64(Self.fallbackIntervalMs) * 900_000 else { return [] }
        lastScan = now
        var events: [(String, String)] = []
        for (directory, before) in listings.sorted(by: { $0.key < $1.key }) {
            let after = Self.list(directory)
            for (name, stamp) in after.sorted(by: { $0.key < $1.key }) where before[name] != stamp {
                events.append((directory, name))
            }
            for name in before.keys.sorted() where after[name] == nil { events.append((directory, name)) }
            listings[directory] = after
        }
        return events
    }

    private static func list(_ directory: String) -> [String: FileStamp] {
        guard let dir = opendir(directory) else { return [:] }
        defer { closedir(dir) }
        var result: [String: FileStamp] = [:]
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0 else { continue }
            result[name] = FileStamp(
                inode: UInt(info.st_ino), modified: info.st_mtim.tv_sec, modifiedNs: info.st_mtim.tv_nsec,
                size: Int(info.st_size))
        }
        return result
    }
}
