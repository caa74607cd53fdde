public import FoundationEssentials

/// Short human durations for tables: 45s, 12m, 3h, 2d. (Not `Duration`: that is Swift's.)
public enum DurationText {
    public static func short(_ seconds: TimeInterval) -> String {
        // Times come from hosts: any Double, NaN and infinities included (no trapping conversion).
        let s = seconds.isNaN ? 0 : Int(min(max(seconds, 0), 1e15))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }

    public static func ago(_ date: Date, now: Date) -> String {
        short(now.timeIntervalSince(date)) + " ago"
    }
}
