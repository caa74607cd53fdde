#if canImport(Glibc)
    import Glibc
#endif

/// The one write loop over a descriptor (a pipe, a terminal, stdout): the `bosun` client's
/// output and the host's link both write through it. Sockets use ``UnixSocket/sendAll(_:_:)-(Int32,UnsafeRawBufferPointer)``
/// (no SIGPIPE).
public enum FileDescriptor {
    /// Writes every byte, retrying short writes and EINTR, and waiting (poll) while a
    /// non-blocking descriptor is full; false when the descriptor failed.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Bool {
        guard let base = raw.baseAddress else { return true }
        var offset = 0
        while offset < raw.count {
            let n = write(fd, base + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    if poll(&ready, 1, -1) < 0 && errno != EINTR { return false }
                    continue
                }
                return false
            }
            offset += n
        }
        return true
    }

    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }
}
