#if canImport(Glibc)
    import Glibc
#endif

/// A parent may start us with signals blocked (Foundation's `Process` does); every executable
/// clears its mask first so SIGINT/SIGTERM behave as an operator expects.
public enum SignalMask {
    public static func unblockAll() {
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
    }
}
