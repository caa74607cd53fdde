import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Path and account helpers that Foundation's NSString and NSHomeDirectory provided.
enum PosixSupport {
    /// The user's home directory from the password database (PosixSupport.homeDirectory() when HOME is unset).
    static func homeDirectory() -> String {
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir {
            let path = String(cString: directory)
            if !path.isEmpty { return path }
        }
        return "/"
    }

    /// `path` without trailing slashes (the root stays `/`).
    private static func trimmingTrailingSlashes(_ path: String) -> Substring {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return trimmed
    }

    /// NSString's `deletingLastPathComponent`: `/a/b` → `/a`, `/a` → `/`, `a` → ``.
    static func deletingLastPathComponent(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard trimmed != "/" else { return "/" }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        var parent = trimmed[..<slash]
        while parent.count > 1 && parent.hasSuffix("/") { parent = parent.dropLast() }
        return parent.isEmpty ? "/" : String(parent)
    }

    /// NSString's `lastPathComponent`: `/a/b/` → `b`, `/` → `/`.
    static func lastPathComponent(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard trimmed != "/" else { return "/" }
        guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// NSString's `padding(toLength:withPad: " ", startingAt: 0)`: cut or space-padded to `length` UTF-16 units.
    static func padded(_ text: String, to length: Int) -> String {
        let units = Array(text.utf16)
        if units.count >= length { return String(decoding: units.prefix(length), as: UTF16.self) }
        return text + String(repeating: " ", count: length - units.count)
    }

    /// Runs `body` on a new detached thread with a `stackSize`-byte stack (Foundation's `Thread`).
    /// False when the thread could not be created.
    @discardableResult
    static func detachThread(stackSize: Int, _ body: @escaping @Sendable () -> Void) -> Bool {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, max(stackSize, 16384))
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, &attributes,
            { raw in
                guard let raw else { return nil }
                let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
                box.body()
                return nil
            }, box)
        if created != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            return false
        }
        return true
    }
}
