import BosunCore
import CLibSSH
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The lines of a known_hosts file that could concern one host, handed to libssh instead of the
/// whole file (issue 10: bring-up at 2,000 hosts).
///
/// libssh reads the known_hosts file line by line four times per connection (the host key
/// algorithms to offer, then the check itself, each in the user and the "global" file, which
/// bosund sets to the same file): with one line per host, bringing up N hosts parses 4·N² lines,
/// ~5 ms of bosund's CPU per connection at 2,000 hosts. The check itself stays libssh's: only lines
/// that can never match the host are left out, so libssh's verdict (known, changed, other type,
/// unknown) is the same as on the whole file.
///
/// A line is left out only when its host field is plain (letters, digits, `.`, `:`, `-`, `_`,
/// `[`, `]`, commas) and none of its names is the host's (compared without case, as
/// `[address]:port`, or also the bare address on port 22). Everything else is kept: hashed names
/// (`|1|…`), patterns (`*`, `?`, `!`), markers (`@…`), anything unusual. The file is read again
/// whenever its identity, size or modification time changes (an operator adding a key after
/// verifying it is seen at the next connection).
enum KnownHostsIndex {
    /// The lines for `[address]:port` and the lines always kept, as one file's contents; nil when
    /// the file cannot be read (libssh then reads the file itself, as before).
    static func lines(for address: String, port: Int, in path: String) -> Data? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let key = Identity(
            device: UInt64(truncatingIfNeeded: info.st_dev), inode: UInt64(truncatingIfNeeded: info.st_ino),
            size: Int64(truncatingIfNeeded: info.st_size), seconds: Int64(truncatingIfNeeded: info.st_mtim.tv_sec),
            nanoseconds: Int64(truncatingIfNeeded: info.st_mtim.tv_nsec))
        let index: Index? = lock.withLock {
            if let cached = cache[path], cached.identity == key { return cached }
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            let built = Index(identity: key, contents: data)
            cache[path] = built
            return built
        }
        guard let index else { return nil }
        var names = ["[\(address)]:\(port)".lowercased()]
        if port == 22 { names.append(address.lowercased()) }
        var result = Data()
        for line in index.kept { result.append(line) }
        for name in names {
            for line in index.byName[name] ?? [] { result.append(line) }
        }
        return result
    }

    /// How many lines of the file at `path` the last read indexed, and how many are always kept
    /// (for tests).
    static func counts(_ path: String) -> (plain: Int, kept: Int)? {
        lock.withLock { cache[path].map { ($0.plainLines, $0.kept.count) } }
    }

    struct Identity: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var seconds: Int64
        var nanoseconds: Int64
    }

    struct Index {
        let identity: Identity
        /// Lines that may match any host (with their newline).
        var kept: [Data] = []
        /// Plain lines by each lowercased name of their host field.
        var byName: [String: [Data]] = [:]
        var plainLines = 0

        init(identity: Identity, contents: Data) {
            self.identity = identity
            for slice in contents.split(separator: 0x0A, omittingEmptySubsequences: true) {
                var line = Data(slice)
                line.append(0x0A)
                guard let names = Self.plainNames(slice) else {
                    kept.append(line)
                    continue
                }
                plainLines += 1
                // A line naming the same host twice is still handed over once.
                for name in Set(names) { byName[name, default: []].append(line) }
            }
        }

        /// The lowercased names of a line's host field when the field is plain; nil when the line
        /// must be kept whatever the host (hashed, a pattern, a marker, a comment, unusual bytes).
        static func plainNames(_ line: Data.SubSequence) -> [String]? {
            var field: [UInt8] = []
            var index = line.startIndex
            while index < line.endIndex, line[index] == 0x20 { index = line.index(after: index) }
            while index < line.endIndex, line[index] != 0x20 {
                let byte = line[index]
                let plain =
                    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2E || byte == 0x3A || byte == 0x2D || byte == 0x5F || byte == 0x5B || byte == 0x5D
                    || byte == 0x2C
                guard plain, field.count < 1024 else { return nil }
                field.append(byte)
                index = line.index(after: index)
            }
            // No key after the host field: libssh would report the line malformed if it matched.
            guard !field.isEmpty, index < line.endIndex else { return nil }
            let names = field.split(separator: 0x2C).map { String(decoding: $0, as: UTF8.self).lowercased() }
            return names.isEmpty ? nil : names
        }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [String: Index] = [:]

    /// An anonymous in-memory file holding `contents`, readable by path (`/proc/self/fd/N`) until
    /// the descriptor is closed; nil when it cannot be made (libssh then reads the whole file).
    static func memoryFile(_ contents: Data) -> Int32? {
        typealias Create = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
        guard let symbol = memfdCreate else { return nil }
        let create = unsafeBitCast(symbol, to: Create.self)
        let fd = create("bosun-known-hosts", 1 /* MFD_CLOEXEC */)
        guard fd >= 0 else { return nil }
        guard contents.withUnsafeBytes({ FileDescriptor.writeAll(fd, $0) }) else {
            close(fd)
            return nil
        }
        return fd
    }

    /// glibc's memfd_create (not in the Swift Glibc module), looked up once.
    nonisolated(unsafe) private static let memfdCreate: UnsafeMutableRawPointer? = dlsym(
        UnsafeMutableRawPointer(bitPattern: 0), "memfd_create")
}
