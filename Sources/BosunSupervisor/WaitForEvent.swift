/// Waits for an event or a deadline, whichever comes first: runs `wait` (which returns when its
/// event arrives) and, if `timeout` seconds pass first, calls `expire`, which must make `wait`
/// return (end the stream it reads, resume the continuation it suspends on). The deadline is a
/// timer task, not a poll, cancelled as soon as `wait` returns; `expire` runs at most once (one
/// already under way as the wait ends may still run, so it must be harmless then). `timeout` is
/// clamped to 0…3600 s (not finite: 3600 s), so no duration from a caller can trap.
///
/// `wait` runs on the caller's actor (`isolation`), so it may touch that actor's state.
func waitForEvent<T>(
    orDeadline timeout: Double, isolation: isolated (any Actor)? = #isolation,
    expire: @escaping @Sendable () async -> Void, _ wait: () async -> T
) async -> T {
    let seconds = timeout.isFinite ? min(max(timeout, 0), 3600) : 3600
    let timer = Task {
        try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
        guard !Task.isCancelled else { return }
        await expire()
    }
    defer { timer.cancel() }
    return await wait()
}
