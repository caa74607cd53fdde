import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// inotify on a few directories: wait for files to be created, renamed into them or deleted.
final class DirectoryWatch {
    let descriptor: Int32
    private var directories: [Int32: String] = [:]
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    init() throws(SpoolError) {
        descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard descriptor >= 0 else { throw .errno("inotify", "inotify_init1") }
    }

    deinit {
        close(descriptor)
    }

    func add(_ directory: String) throws(SpoolError) {
        let watch = inotify_add_watch(descriptor, directory, UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE))
        guard watch >= 0 else { throw .errno(directory, "inotify_add_watch") }
        directories[watch] = directory
    }

    /// Blocks up to `timeoutMs` for an event; returns (directory, file name) pairs seen.
    func wait(timeoutMs: Int32) -> [(directory: String, name: String)] {
        wait(timeoutMs: timeoutMs, watching: -1).events
    }

    /// The same, also watching `output` (the write end of a pipe to the agent): `readerGone` when
    /// nobody reads it any more, i.e. the agent that called the hook has gone away.
    func wait(timeoutMs: Int32, watching output: Int32) -> (
        events: [(directory: String, name: String)], readerGone: Bool
    ) {
        var fds = [
            pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: output, events: 0, revents: 0),
        ]
        guard poll(&fds, output >= 0 ? 2 : 1, timeoutMs) > 0 else { return ([], false) }
        let gone = output >= 0 && fds[1].revents & Int16(POLLERR | POLLHUP) != 0
        return (fds[0].revents & Int16(POLLIN) != 0 ? drain() : [], gone)
    }

    /// Reads whatever events are queued, without blocking.
    func drain() -> [(directory: String, name: String)] {
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
}
