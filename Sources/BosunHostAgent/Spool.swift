public import BosunCore
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// A spool failure: which path and what went wrong (errno text).
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String

    public var description: String { "\(path): \(message)" }

    static func errno(_ path: String, _ what: String) -> SpoolError {
        SpoolError(path: path, message: "\(what): \(String(cString: strerror(Glibc.errno)))")
    }
}

/// The host's durable state (ARCHITECTURE.md §4), written maildir-style: every file is written to a
/// temporary (in `tmp/`, or hidden in its own directory for pause files) and renamed into place, so
/// readers never see a partial file.
public struct Spool: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// `--state DIR`, else `BOSUN_HOST_STATE`, else `~/.local/state/bosun-host`.
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["BOSUN_HOST_STATE"], !dir.isEmpty { return dir }
        let home = environment["HOME"] ?? PosixSupport.homeDirectory()
        return home + "/.local/state/bosun-host"
    }

    public var threadsDirectory: String { root + "/threads" }
    var tmpDirectory: String { root + "/tmp" }

    /// Creates the spool's directories (mode 0700) if missing.
    public func prepare() throws(SpoolError) {
        for dir in [root, tmpDirectory, threadsDirectory]
            + (Self.approvalDirectories + Self.controlDirectories).map({ root + "/" + $0 })
        {
            var info = stat()
            if stat(dir, &info) == 0 { continue }
            if mkdirP(dir) != 0 { throw .errno(dir, "cannot create directory") }
        }
    }

    private func mkdirP(_ path: String) -> Int32 {
        var current = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && Glibc.errno != EEXIST { return -1 }
        }
        return 0
    }

    // MARK: Threads

    public func threadPath(_ id: ThreadID) -> String { threadsDirectory + "/" + id.rawValue + ".json" }

    /// `durable: false` skips the fsync (a hook's activity refresh: losing it in a crash loses nothing).
    /// The temporary is made in tmp/. (Making it in threads/ itself took the cross-directory rename
    /// lock off the thread writes after a pause, 21-69 ms → 2-4 ms each, but with it 8 of 80 pause
    /// or resume commands at 100 hosts left one host unacknowledged for the whole 3 s wait, against
    /// 0 of 40 with tmp/ on the same fleet; the cause is not found yet: BENCHMARKS.md, issue 10.)
    public func writeThread(_ thread: AgentThread, durable: Bool = true) throws(SpoolError) {
        try writeAtomically(thread.encoded, to: threadPath(thread.id), durable: durable)
    }

    public func readThread(id: ThreadID) -> AgentThread? {
        readThread(path: threadPath(id))
    }

    func readThread(path: String) -> AgentThread? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? AgentThread.decode(data)
    }

    /// Every readable thread file, oldest first.
    public func readThreads() -> [AgentThread] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: threadsDirectory)) ?? []
        return names.filter { $0.hasSuffix(".json") }
            .compactMap { readThread(path: threadsDirectory + "/" + $0) }
            .sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
    }

    /// Re-reads a thread, applies `change` and writes it back. Returns the written value.
    @discardableResult
    public func updateThread(id: ThreadID, durable: Bool = true, _ change: (inout AgentThread) -> Void)
        throws(SpoolError) -> AgentThread?
    {
        guard var thread = readThread(id: id) else { return nil }
        change(&thread)
        try writeThread(thread, durable: durable)
        return thread
    }

    // MARK: Atomic files

    /// Directories whose atomic writes make their temporaries in place (hidden `.….tmp` names).
    var temporaryDirectories: [String] { [tmpDirectory, root + "/pauses"] }

    /// Removes temporaries a writer left behind when it died between creating and renaming them
    /// (tmp/'s files, and the hidden `.….tmp` files in pauses/) once older than
    /// `age` seconds: no write takes that long. Returns how many were removed.
    @discardableResult
    public func pruneTemporaries(now: Date = Date(), age: TimeInterval = 3600) -> Int {
        var removed = 0
        for directory in temporaryDirectories {
            let inPlace = directory != tmpDirectory
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            where name.hasSuffix(".tmp") && (!inPlace || name.hasPrefix(".")) {
                let path = directory + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
                if now.timeIntervalSince1970 - modified > age, unlink(path) == 0 { removed += 1 }
            }
        }
        return removed
    }

    /// Writes `data` to `tmp/` (or to `temporaryDirectory`, as a hidden `.tmp` file no reader of
    /// `*.json` names sees), fsyncs it (unless not `durable`: a record nothing depends on after a
    /// crash) and renames it to `path`.
    ///
    /// A rename between two directories takes the file system's one rename lock (Linux's
    /// `s_vfs_rename_mutex`), shared by every process on that file system; a rename within one
    /// directory takes only that directory's lock. Pass the target's own directory when the write
    /// is on a path something waits for (a pause, before its acknowledgement).
    ///
    /// `nameDurable`: the fsync comes after the rename instead of before it (with `durable`), so
    /// that once this returns the new name survives a crash too, not only the data: on ext4 (and
    /// XFS, btrfs) an fsync commits the journal up to the inode's last change, which the rename
    /// is. Before, the rename was left to the next journal commit (up to 5 s on ext4). A crash
    /// before the fsync returns may leave the name with partial data, which readers reject; the
    /// caller has promised nothing yet.
    public func writeAtomically(
        _ data: Data, to path: String, durable: Bool = true, temporaryDirectory: String? = nil,
        nameDurable: Bool = false
    ) throws(SpoolError) {
        let temporary =
            temporaryDirectory.map { $0 + "/." + ShortID.make(bytes: 8) + ".tmp" }
            ?? tmpDirectory + "/" + ShortID.make(bytes: 8) + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .errno(temporary, "cannot create") }
        var ok = data.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        let syncAfter = durable && nameDurable
        ok = ok && (!durable || syncAfter || fsync(fd) == 0)
        guard ok else {
            let error = SpoolError.errno(temporary, "cannot write")
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = SpoolError.errno(path, "cannot rename into place")
            close(fd)
            unlink(temporary)
            throw error
        }
        defer { close(fd) }
        // Left in place on failure: readers obey it (fail closed), the caller reports the error.
        guard !syncAfter || fsync(fd) == 0 else { throw .errno(path, "cannot sync") }
    }
}
