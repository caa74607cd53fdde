#if canImport(Glibc)
    public import Glibc
#endif

/// The few things Foundation gave the host helper that FoundationEssentials does not: the monotonic
/// clock, the standard streams, printf-style number formatting.
public enum MonotonicClock {
    /// Nanoseconds of CLOCK_MONOTONIC (what `DispatchTime.now().uptimeNanoseconds` reads on Linux).
    public static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(max(0, now.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, now.tv_nsec))
    }
}

public enum StandardStream {
    /// Writes all of `text` to stderr (errors are ignored: there is nowhere left to report them).
    public static func writeError(_ text: String) { write(text, to: STDERR_FILENO) }

    /// Writes all of `text` to stdout.
    public static func writeOutput(_ text: String) { write(text, to: STDOUT_FILENO) }

    public static func write(_ text: String, to descriptor: Int32) {
        var text = text
        _ = text.withUTF8 { FileDescriptor.writeAll(descriptor, UnsafeRawBufferPointer($0)) }
    }

    /// Everything readable from `descriptor` until end of file (or an error).
    public static func readToEnd(_ descriptor: Int32 = STDIN_FILENO) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return result }
            result.append(contentsOf: buffer[0..<count])
        }
    }
}

public enum CFormat {
    /// `value` formatted by C's printf with one `double` conversion (`"%017.6f"`), as `String(format:)`.
    public static func double(_ format: String, _ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        let written = withVaList([value]) { arguments in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, format, arguments) }
        }
        guard written >= 0 else { return "" }
        return String(
            decoding: buffer.prefix(min(Int(written), buffer.count - 1)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
