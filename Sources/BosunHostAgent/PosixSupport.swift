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

    /// Closes `descriptor` for this process without waiting for the kernel to tear it down.
    ///
    /// Closing the last reference to an inotify instance that has watches waits for an SRCU grace
    /// period (8–25 ms measured here, whatever the CPU load), and a process's exit does the same for
    /// what it still holds, so a hook that closes its watch, or exits with it open, makes the agent
    /// wait that long for an answer already decided (issue 10: the "unattributed" ~15 ms after the
    /// decision). A forked child keeps one reference: it closes `closing` and every other
    /// descriptor it inherited (the hook's stdin, stdout and stderr among them, so the agent's
    /// pipes see EOF when the hook exits), waits until this
    /// process has exited (EOF on a pipe only this process can write), then exits itself, dropping
    /// the last reference off the hook's path. The child only calls `close`, `close_range`, `read`
    /// and `_exit` (async-signal-safe after `fork` in a threaded process). Falls back to a plain close.
    ///
    /// With `thenExec` (an absolute path and its arguments), the child then runs that program
    /// (`execve`, also async-signal-safe; stdin, stdout and stderr on /dev/null, this process's
    /// environment): work that must follow the hook's answer without delaying it (a request's
    /// changed files). Returns whether the child was started (false: nothing will be run).
    @discardableResult
    static func closeInBackground(_ descriptor: Int32, closing: [Int32] = [0, 1, 2], thenExec: [String]? = nil) -> Bool
    {
        var ends: [Int32] = [-1, -1]
        guard Glibc.pipe(&ends) == 0 else {
            close(descriptor)
            return false
        }
        // Everything the child needs is allocated before `fork` (it may not call malloc).
        let program = thenExec?.first.map { strdup($0) } ?? nil
        let argv: [UnsafeMutablePointer<CChar>?] = (thenExec ?? []).map { strdup($0) } + [nil]
        defer {
            free(program)
            argv.forEach { free($0) }
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        // Every other descriptor is closed in the child too (link.lock's, whose pending flock must
        // not outlive the hook; spool files): bounded by the descriptor limit, read before fork.
        var limit = rlimit()
        let highest = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int32(min(limit.rlim_cur, 65_536)) : 1024
        let child = fork()
        if child == 0 {
            for fd in closing { close(fd) }
            // One close_range per gap (Linux 5.9+) instead of a close per possible descriptor:
            // up to 65,536 system calls, 15 % of bosun-host's samples in perf over hook_bench (off the
            // answer's path, but on a CPU the next hook needs). The loop stays as the fallback.
            // (No allocation here: only plain integers after fork.)
            let low = min(descriptor, ends[0])
            let high = max(descriptor, ends[0])
            var ranged = true
            if low > 0 { ranged = closeRange(0, UInt32(clamping: low - 1), 0) == 0 }
            if ranged && high - low > 1 {
                ranged = closeRange(UInt32(clamping: low + 1), UInt32(clamping: high - 1), 0) == 0
            }
            if ranged { ranged = closeRange(UInt32(clamping: high + 1), UInt32.max, 0) == 0 }
            if !ranged {
                for fd in 0..<highest where fd != descriptor && fd != ends[0] { close(fd) }
            }
            var byte: UInt8 = 0
            while read(ends[0], &byte, 1) < 0 && errno == EINTR {}
            if let program {
                // Descriptors 0, 1 and 2 are free: /dev/null takes 0, then is copied to 1 and 2.
                let null = open("/dev/null", O_RDWR)
                if null == 0 {
                    _ = dup2(0, 1)
                    _ = dup2(0, 2)
                    argv.withUnsafeBufferPointer { arguments in
                        if let base = arguments.baseAddress { _ = execve(program, base, environ) }
                    }
                }
            }
            _exit(0)
        }
        close(ends[0])
        close(descriptor)
        if child < 0 { close(ends[1]) }
        // ends[1] stays open until this process exits: that is the child's signal.
        return child > 0
    }
}

/// glibc's `close_range` (2.34+), which the Glibc module does not import; async-signal-safe (one
/// system call). An empty range (first above last) is a no-op that succeeds.
@_silgen_name("close_range")
private func closeRange(_ first: UInt32, _ last: UInt32, _ flags: Int32) -> Int32
