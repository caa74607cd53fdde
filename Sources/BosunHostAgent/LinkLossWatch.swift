import BosunCore
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Turns "every `serve` has released `link.lock`" into a readable descriptor, so a waiting hook hears
/// of a lost supervisor link as an event, including when `serve` was SIGKILLed and could not clean
/// up (the kernel drops a dead process's flock, but that makes no inotify event).
///
/// A helper thread blocks in `flock(LOCK_EX)` on its own open of `link.lock`; each `serve` holds a
/// shared lock while its link is welcomed, so the exclusive lock is granted exactly when the last
/// one lets go. The thread then releases it at once (a new `serve` must not wait on a hook) and
/// writes a byte to a pipe that the hook polls. One watch reports one release; start a new one
/// after re-checking `Spool.isLinked()`.
final class LinkLossWatch {
    private final class Ends: @unchecked Sendable {
        let read: Int32
        let write: Int32
        let lock: Int32

        init?(lockPath: String) {
            var ends: [Int32] = [-1, -1]
            guard Glibc.pipe(&ends) == 0 else { return nil }
            for end in ends {
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
                _ = fcntl(end, F_SETFL, O_NONBLOCK)
            }
            let lock = open(lockPath, O_RDONLY | O_CLOEXEC)
            guard lock >= 0 else {
                close(ends[0])
                close(ends[1])
                return nil
            }
            (self.read, self.write, self.lock) = (ends[0], ends[1], lock)
        }

        deinit {
            close(read)
            close(write)
            close(lock)
        }
    }

    private let pipe: Ends

    /// The descriptor that becomes readable when the link lock is released.
    var descriptor: Int32 { pipe.read }

    /// nil when the lock file cannot be opened (no `serve` ever linked): nothing to watch.
    init?(spool: Spool) {
        guard let pipe = Ends(lockPath: spool.linkLockPath) else { return nil }
        self.pipe = pipe
        // The thread keeps the descriptors alive until it ends (it may outlive this watch: the
        // process exits with it blocked, which is fine).
        DetachedThread.start(stackSize: 64 * 1024) {
            while flock(pipe.lock, LOCK_EX) != 0 {
                // Cannot wait on the lock (ENOLCK…): report nothing; link.json events still count.
                if errno != EINTR { return }
            }
            flock(pipe.lock, LOCK_UN)
            var byte: UInt8 = 1
            _ = Glibc.write(pipe.write, &byte, 1)
        }
    }
}
