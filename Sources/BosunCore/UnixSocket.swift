import FoundationEssentials

#if canImport(Glibc)
    public import Glibc
#endif

/// The control socket's two halves (bosund's server, the `bosun` client) share these: one address
/// builder and one send loop.
public enum UnixSocket {
    /// The address of `path`, or nil when it does not fit `sun_path` (with its NUL): a path that
    /// long must be refused, never silently cut (that would bind or reach another path).
    public static func address(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// Sends every byte with MSG_NOSIGNAL (a closed peer is an error, not SIGPIPE), retrying short
    /// sends and EINTR; false when the socket failed.
    public static func sendAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Bool {
        guard let base = raw.baseAddress else { return true }
        var offset = 0
        while offset < raw.count {
            let n = send(fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    public static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { sendAll(fd, $0) }
    }
}
