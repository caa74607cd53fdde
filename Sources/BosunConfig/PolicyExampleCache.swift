import BosunCore
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Whether loading a policy checks every rule's examples (issue 10: they are most of the cost of
/// `bosun policy explain`).
public enum ExampleChecking: Sendable {
    /// Always (bosund at start-up and reload, `bosun check`): a policy whose examples fail is refused.
    case always
    /// Skipped for policy files this cache has seen pass, checked (and recorded) otherwise. For the
    /// CLI's offline `policy explain` only: bosund never reads the cache, so a forged or stale entry
    /// cannot make it use a policy whose examples fail.
    case cached(PolicyExampleCache)
}

/// The SHA-256 keys of policy file sets whose examples all passed, one per line in `file`. A key
/// covers each file's name and text, and the running executable's identity (path, size, mtime,
/// inode), so a rebuilt matcher checks again.
public struct PolicyExampleCache: Sendable {
    public let file: String
    /// At most this many keys are kept (the newest); the file is never read past 64 KiB.
    static let maxKeys = 64

    public init(file: String) { self.file = file }

    /// `$XDG_CACHE_HOME/bosun/policy-examples`, else `~/.cache/bosun/policy-examples`; nil without either.
    public static func defaultCache(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> PolicyExampleCache?
    {
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") {
            return PolicyExampleCache(file: cache + "/bosun/policy-examples")
        }
        if let home = environment["HOME"], home.hasPrefix("/") {
            return PolicyExampleCache(file: home + "/.cache/bosun/policy-examples")
        }
        return nil
    }

    func key(_ files: [(text: String, file: String)]) -> String? {
        guard let executable = Self.executableIdentity() else { return nil }
        var material = "bosun policy examples v1\u{0}\(executable)\u{0}"
        for (text, file) in files {
            material += "\(file.utf8.count):\(file)\u{0}\(text.utf8.count):\(text)\u{0}"
        }
        return SHA256.hex(material)
    }

    static func executableIdentity() -> String? {
        var info = stat()
        guard stat("/proc/self/exe", &info) == 0 else { return nil }
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return "\(path)\u{0}\(info.st_size)\u{0}\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\u{0}\(info.st_ino)"
    }

    func keys() -> [Substring] {
        let fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return [] }
        var bytes = [UInt8](repeating: 0, count: 64 * 1024)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return [] }
        return String(decoding: bytes[0..<count], as: UTF8.self).split(separator: "\n")
    }

    func contains(_ key: String) -> Bool { keys().contains { $0 == key } }

    /// Adds `key` (best effort: an unwritable cache only means checking again next time).
    func record(_ key: String) {
        let kept = keys().filter { $0.utf8.count == 64 && $0 != key }.suffix(Self.maxKeys - 1)
        let text = (kept.map(String.init) + [key]).joined(separator: "\n") + "\n"
        let directory = Paths.parent(file)
        try? FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = file + ".\(getpid()).tmp"
        guard
            FileManager.default.createFile(
                atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { return }
        if rename(temporary, file) != 0 { unlink(temporary) }
    }
}
