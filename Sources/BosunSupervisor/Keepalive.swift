import BosunCore

/// When a link pings its host and when it gives the host up, as a pure value: times are monotonic
/// nanoseconds, no I/O.
///
/// Anything read from the host is liveness, so a ping goes out only when the link has been quiet
/// for an interval in one direction: the host has said nothing (the ping draws a pong), or the
/// supervisor has written nothing (`bosun-host serve` gives a supervisor up after 3 × interval +
/// 2 s without a byte from it, so a host that talks while bosund has nothing to say still hears
/// from it every interval). An idle link costs one ping and one pong per interval, as it always
/// did; a link busy both ways costs none. A host silent past `timeout` is given up, whatever
/// else happens (fail closed): the same deadline as when every link pinged on a fixed rhythm.
/// The first ping goes out as soon as the host has said hello, so `hosts` shows a round trip
/// from the start.
struct Keepalive: Sendable, Equatable {
    let interval: UInt64
    let timeout: UInt64
    private(set) var lastInbound: UInt64
    private(set) var lastOutbound: UInt64
    /// The ping not answered yet; none is sent while one is pending.
    private(set) var pending: Ping?
    /// The last nonce sent; 0 before the first ping.
    private var nonce: UInt64 = 0

    struct Ping: Sendable, Equatable {
        var nonce: UInt64
        var sentAt: UInt64
    }

    /// `interval` and `timeout` in seconds (the configuration bounds them; out-of-range values
    /// are clamped, never trapped on).
    init(interval: Double, timeout: Double, now: UInt64) {
        self.interval = Self.nanoseconds(interval)
        self.timeout = Self.nanoseconds(timeout)
        lastInbound = now
        lastOutbound = now
    }

    static func nanoseconds(_ seconds: Double) -> UInt64 {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return UInt64(min(seconds, 1e9) * 1e9)
    }

    /// Something came from the host.
    mutating func heard(now: UInt64) { lastInbound = max(lastInbound, now) }

    /// Something was written to the host.
    mutating func wrote(now: UInt64) { lastOutbound = max(lastOutbound, now) }

    /// True once the host has been silent for longer than `timeout`: the link ends.
    func timedOut(now: UInt64) -> Bool { now > lastInbound && now - lastInbound > timeout }

    /// When the next ping is due: an interval after the older of the last byte in and the last
    /// byte out. Nil while a ping is pending or before the host said hello.
    func nextPing(helloSeen: Bool) -> UInt64? {
        guard helloSeen, pending == nil else { return nil }
        if nonce == 0 { return 0 }
        let (due, overflow) = min(lastInbound, lastOutbound).addingReportingOverflow(interval)
        return overflow ? .max : due
    }

    /// The nonce of the ping to send now, if one is due; it is then pending (and counts as written).
    mutating func ping(now: UInt64, helloSeen: Bool) -> UInt64? {
        guard let due = nextPing(helloSeen: helloSeen), now >= due else { return nil }
        nonce = nonce == .max ? 1 : nonce + 1
        pending = Ping(nonce: nonce, sentAt: now)
        wrote(now: now)
        return nonce
    }

    /// How long the host may hold its answer to a ping (ms), or nil for an answer at once.
    ///
    /// A host that holds its pong for an interval answers when the next ping is due (an interval
    /// after the last one), so the link writes the next ping in the wake-up that reads the pong:
    /// one wake-up of the link per idle interval instead of two (the ping's deadline, the pong).
    /// Both liveness bounds hold: the host hears a ping every interval plus a round trip (it gives
    /// the supervisor up after 3 × interval + 2 s), and a host silent for `timeout` is given up
    /// as before; a held pong only ever arrives an interval and a round trip after the last
    /// inbound byte, so holding is asked for only when `timeout` is at least twice the interval.
    /// The first ping of a link is answered at once (a round trip in `hosts` from the start).
    func holdMilliseconds(forNonce nonce: UInt64) -> UInt64? {
        guard nonce > 1, interval > 0, timeout / 2 >= interval else { return nil }
        return min(interval / 1_000_000, Probe.maxHoldMs)
    }

    /// The pending ping's round trip in milliseconds when `nonce` answers it (it is then no longer
    /// pending); nil for any other nonce. `heldMs` is the time the host says it held the ping,
    /// taken off (bounded by the time that passed: a host's number never makes it negative).
    mutating func answered(nonce: UInt64, now: UInt64, heldMs: UInt64? = nil) -> Double? {
        guard let ping = pending, ping.nonce == nonce else { return nil }
        pending = nil
        let elapsed = now > ping.sentAt ? now - ping.sentAt : 0
        let held = min(heldMs ?? 0, Probe.maxHoldMs) * 1_000_000
        return Double(elapsed - min(elapsed, held)) / 1e6
    }

    /// How long the link may sleep (poll timeout, ms): until the keepalive timeout (the last
    /// inbound traffic plus `timeout`) or the next ping, whichever is first; rounded up so it does
    /// not wake just before a deadline, and at most a minute (a bounded Int32).
    func waitMilliseconds(now: UInt64, helloSeen: Bool) -> Int32 {
        HostLink.waitMilliseconds(
            now: now, lastInbound: lastInbound, timeout: timeout, nextPing: nextPing(helloSeen: helloSeen))
    }
}
