public import ArgumentParser
import BosunCore
import BosunSupervisor
import BosunTerminal
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Filters shared by the listings.
struct ListingFilters: ParsableArguments {
    @Option(name: .long, help: "Only this host (repeatable).")
    var host: [String] = []

    @Option(
        name: .long, help: ArgumentHelp("Only hosts with this label (repeatable; all must match).", valueName: "k=v"))
    var label: [String] = []

    func validate() throws {
        for item in label where !item.contains("=") {
            throw ValidationError("--label expects k=v, got '\(item)'")
        }
    }

    func matches(host name: HostName, labels: [String: String]) -> Bool {
        if !host.isEmpty && !host.contains(name.rawValue) { return false }
        for item in label {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            if labels[parts[0]] != (parts.count > 1 ? parts[1] : "") { return false }
        }
        return true
    }
}

/// How a listing is shown (kubectl-style): `-o wide|narrow|name|json`, `--json` (= `-o json`),
/// `--no-headers`, and `--width N` for a terminal that reports no width (or the wrong one).
struct OutputOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case wide, narrow, name, json
    }

    @Option(name: [.customShort("o"), .customLong("output")], help: "wide, narrow, name or json.")
    var output: Format?

    @Flag(name: .long, help: "One JSON object per line (the same as -o json).")
    var json = false

    @Flag(name: .customLong("no-headers"), help: "Tables without their title line.")
    var noHeaders = false

    @Option(name: .long, help: "Render for this many columns (default: the terminal's).")
    var width: Int?

    var format: Format? { json ? .json : output }

    /// `--width` when given, else the terminal's (any number: normalized like every width).
    func width(_ context: ShellContext) -> Int? {
        width.map { TerminalWidth.normalized($0) } ?? context.width
    }

    /// Below this many columns a listing is laid out for a phone (cards, fewer columns).
    static let narrowBelow = 70

    func isNarrow(_ context: ShellContext) -> Bool {
        if format == .narrow { return true }
        guard format == nil, let width = width(context) else { return false }
        return width < Self.narrowBelow
    }

    func render(_ table: Table, _ context: ShellContext) -> String {
        let layout: Table.Layout =
            switch format {
            case .wide: .wide
            case .narrow: .narrow
            default: .fit
            }
        return table.render(width: width(context), layout: layout, headers: !noHeaders)
    }

    /// One name per line (`-o name`), escaped.
    static func names(_ names: [String]) -> String {
        names.map { TerminalText.escape($0) + "\n" }.joined()
    }
}

extension Shell {
    /// An unknown `--host` is an error (a typo must not look like an empty fleet).
    static func unknownHost(_ names: [HostName], _ context: ShellContext) async -> ShellResult? {
        let known = await context.fleet.labels()
        guard let unknown = names.first(where: { known[$0] == nil }) else { return nil }
        return ShellResult(
            stderr: "bosun: no host '\(TerminalText.escape(unknown.rawValue))' in the fleet (see 'hosts')\n",
            exit: ExitStatus.usage)
    }

    struct Hosts: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            abstract: "List hosts: link state, last seen, round-trip time, threads.",
            discussion: "Exit status 3 when some listed hosts are not up.")

        @OptionGroup var filters: ListingFilters
        @OptionGroup var output: OutputOptions

        func execute(in context: ShellContext) async throws -> ShellResult {
            if let refusal = await Shell.unknownHost(filters.host.map { HostName($0) }, context) { return refusal }
            let hosts = try await context.fleet.hosts().filter { filters.matches(host: $0.name, labels: $0.labels) }
            let exit = hosts.allSatisfy { $0.state == .up } ? ExitStatus.ok : ExitStatus.partial
            switch output.format {
            case .json: return ShellResult(stdout: JSONLines.encode(hosts.map(HostJSON.init)), exit: exit)
            case .name: return ShellResult(stdout: OutputOptions.names(hosts.map(\.name.rawValue)), exit: exit)
            default: break
            }
            // On a phone: host, state, threads, and why it is down; the rest drops.
            var table = Table([
                .init(title: "HOST"), .init(title: "STATE"), .init(title: "LABELS", flexible: true, priority: 5),
                .init(title: "LAST SEEN", priority: 3), .init(title: "RTT", priority: 4),
                .init(title: "THREADS", priority: 1), .init(title: "VERSION", priority: 7),
                .init(title: "HOOKS", flexible: true, priority: 6),
                .init(title: "REASON", flexible: true, priority: 2),
            ])
            for host in hosts {
                table.append([
                    host.name.rawValue, host.state.rawValue,
                    host.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                    host.lastSeen.map { DurationText.ago($0, now: context.now) } ?? "never",
                    host.rttMs.map { String(format: "%.1fms", $0) } ?? "-",
                    String(host.threads),
                    host.helperVersion ?? "-",
                    host.hooks ?? "-",
                    host.reason ?? "",
                ])
            }
            return ShellResult(stdout: output.render(table, context), exit: exit)
        }
    }

    struct Threads: ShellCommand {
        static var requiredRole: Role { .viewer }
        static let configuration = CommandConfiguration(
            abstract: "List agent threads across hosts.",
            discussion: "Threads of hosts that are not up are marked stale; exit status 3 then.")

        @OptionGroup var filters: ListingFilters
        @OptionGroup var output: OutputOptions

        @Option(name: .long, help: "Only threads in this state (repeatable; paused includes stopped).")
        var state: [ThreadState] = []

        func execute(in context: ShellContext) async throws -> ShellResult {
            if let refusal = await Shell.unknownHost(filters.host.map { HostName($0) }, context) { return refusal }
            let labels = await context.fleet.labels()
            let hosts = try await context.fleet.hosts().filter {
                filters.matches(host: $0.name, labels: $0.labels)
            }
            // With --host or --label, only the matching hosts' threads are read (by index).
            let filtered = !filters.host.isEmpty || !filters.label.isEmpty
            let exit = hosts.allSatisfy { $0.state == .up } ? ExitStatus.ok : ExitStatus.partial
            let states = Set(state)
            func wanted(_ state: ThreadState) -> Bool {
                states.isEmpty || states.contains(state) || (states.contains(.paused) && state == .stopped)
            }
            if output.format == .json {
                // Rendered straight from the rows: ten thousand threads stay a few milliseconds.
                let shown = filtered ? Set(hosts.map(\.name)) : nil
                var out: [UInt8] = []
                out.reserveCapacity(1 << 16)
                let bytes = try await context.fleet.renderThreads(hosts: shown.map { Array($0) }, into: out) {
                    out, row in
                    guard shown?.contains(row.host) ?? true,
                        states.isEmpty || states.contains(row.state)
                            || (states.contains(.paused) && row.state == .stopped)
                    else { return }
                    ThreadJSON.append(row, to: &out)
                }
                return ShellResult(stdout: String(decoding: bytes, as: UTF8.self), exit: exit)
            }
            let threads = try await context.fleet.threads(hosts: filtered ? hosts.map(\.name) : nil).filter { record in
                filters.matches(host: record.host, labels: labels[record.host] ?? [:]) && wanted(record.thread.state)
            }
            if output.format == .name {
                return ShellResult(
                    stdout: OutputOptions.names(threads.map { "\($0.host)/\($0.thread.id)" }), exit: exit)
            }
            // On a phone: the thread and its state, then when it was last active and its repo.
            var table = Table([
                .init(title: "THREAD", flexible: true, minimum: 14), .init(title: "AGENT", priority: 4),
                .init(title: "STATE"), .init(title: "AGE", priority: 5), .init(title: "ACTIVE", priority: 1),
                .init(title: "REPO", flexible: true, priority: 2), .init(title: "BRANCH", flexible: true, priority: 3),
                .init(title: "CWD", flexible: true, priority: 6),
            ])
            for record in threads {
                let thread = record.thread
                table.append([
                    "\(record.host)/\(thread.id)",
                    thread.agent.rawValue,
                    Self.stateCell(record),
                    DurationText.short(context.now.timeIntervalSince(thread.startedAt)),
                    DurationText.ago(thread.lastActivity, now: context.now),
                    thread.repo.map { ($0 as NSString).lastPathComponent } ?? "-",
                    thread.branch ?? "-",
                    thread.cwd,
                ])
            }
            var stdout = output.render(table, context)
            if threads.isEmpty { stdout = "no threads\n" }
            return ShellResult(stdout: stdout, exit: exit)
        }

        /// `paused (soft)`: hooks answer "paused"; `paused (hard)`: the process group is stopped.
        static func stateLabel(_ state: ThreadState) -> String {
            switch state {
            case .paused: "paused (soft)"
            case .stopped: "paused (hard)"
            default: state.rawValue
            }
        }
    }
}

extension Shell.Threads {
    /// `running`, `running, unsupervised` (no hook has passed for it), `running (stale)`, …
    static func stateCell(_ record: ThreadRecord) -> String {
        stateLabel(record.thread.state) + (record.thread.isUnsupervised ? ", unsupervised" : "")
            + (record.stale ? " (stale)" : "")
    }
}

extension ThreadState: ExpressibleByArgument {}

/// `hosts --json` line.
struct HostJSON: Encodable {
    var name: HostName
    var address: String
    var port: Int
    var labels: [String: String]
    var state: String
    var reason: String?
    var lastSeen: Date?
    var rttMs: Double?
    var threads: Int
    var hostKey: String?
    var hostname: String?
    var hostVersion: String?
    var protocolErrors: Int
    var hooks: String?
    var helperVersion: String?
    var dropped: Int
    var dropReason: String?

    init(_ host: HostSummary) {
        name = host.name
        address = host.address
        port = host.port
        labels = host.labels
        state = host.state.rawValue
        reason = host.reason
        lastSeen = host.lastSeen
        rttMs = host.rttMs.map { ($0 * 1000).rounded() / 1000 }
        threads = host.threads
        hostKey = host.hostKey
        hostname = host.hostname
        hostVersion = host.hostVersion
        protocolErrors = host.protocolErrors
        hooks = host.hooks
        helperVersion = host.helperVersion
        dropped = host.dropped
        dropReason = host.dropReason
    }

    enum CodingKeys: String, CodingKey {
        case name, address, port, labels, state, reason, threads, hostname, hooks
        case lastSeen = "last_seen"
        case rttMs = "rtt_ms"
        case hostKey = "host_key"
        case hostVersion = "host_version"
        case protocolErrors = "protocol_errors"
        case dropped
        case dropReason = "drop_reason"
        case helperVersion = "helper_version"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(address, forKey: .address)
        try container.encode(port, forKey: .port)
        try container.encode(labels, forKey: .labels)
        try container.encode(state, forKey: .state)
        try container.encode(reason, forKey: .reason)
        try container.encode(lastSeen, forKey: .lastSeen)
        try container.encode(rttMs, forKey: .rttMs)
        try container.encode(threads, forKey: .threads)
        try container.encode(hostKey, forKey: .hostKey)
        try container.encode(hostname, forKey: .hostname)
        try container.encode(hostVersion, forKey: .hostVersion)
        try container.encode(protocolErrors, forKey: .protocolErrors)
        try container.encode(hooks, forKey: .hooks)
        try container.encode(helperVersion, forKey: .helperVersion)
        try container.encode(dropped, forKey: .dropped)
        try container.encode(dropReason, forKey: .dropReason)
    }
}

/// `threads --json` lines, written byte by byte into one buffer: listings of ten thousand threads
/// spend most of their time here otherwise (keys in sorted order, as everywhere else; strings
/// escaped exactly as `JSONText.string` does).
enum ThreadJSON {
    /// Lines of records already loaded (the reference the row renderer is tested against).
    static func lines(_ records: [ThreadRecord]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(records.count * 360)
        for record in records { append(record, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The line of a row rendered straight from the store: the same bytes `append(record)` writes
    /// for its `ThreadRecord`, without building one (plain text is copied as stored).
    static func append(_ row: ThreadRowView, to out: inout [UInt8]) {
        var line = LineWriter(out: out)
        out = []
        line.write(row)
        out = line.out
    }

    /// Writes one row's line (a struct with mutating methods: no closure captures of the buffer,
    /// so no dynamic exclusivity checks on every append).
    struct LineWriter {
        var out: [UInt8]

        /// `,"name":` (without the comma for the first key), byte by byte: keys are a few bytes,
        /// where a bulk append's call and memmove cost more than the copy (profiled: 14 % of
        /// `threads --json` in bosund went to the bulk append of keys).
        mutating func key(_ name: StaticString, first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { name in
                for byte in name { out.append(byte) }
            }
            out.append(UInt8(ascii: "\""))
            out.append(UInt8(ascii: ":"))
        }

        mutating func raw(_ text: StaticString) { text.withUTF8Buffer { out.append(contentsOf: $0) } }

        mutating func text(_ row: ThreadRowView, _ column: ThreadRowView.Column, empty: Bool = false) {
            if let bytes = row.withBytes(column, { $0 }), JSONText.isPlain(bytes) {
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: bytes)
                out.append(UInt8(ascii: "\""))
            } else {
                JSONText.append(row.text(column) ?? (empty ? "" : nil), to: &out)
            }
        }

        mutating func number(_ row: ThreadRowView, _ column: ThreadRowView.Column) {
            if let value = row.int64(column) {
                out.append(contentsOf: String(Int32(truncatingIfNeeded: value)).utf8)
            } else {
                raw("null")
            }
        }

        mutating func date(_ row: ThreadRowView, _ column: ThreadRowView.Column, nullable: Bool = false) {
            guard let value = row.double(column) ?? (nullable ? nil : 0) else { return raw("null") }
            out.append(UInt8(ascii: "\""))
            JSONText.appendTimestamp(Date(timeIntervalSince1970: value), to: &out)
            out.append(UInt8(ascii: "\""))
        }

        mutating func write(_ row: ThreadRowView) {
            out.append(UInt8(ascii: "{"))
            key("agent", first: true)
            JSONText.append(row.agent.rawValue, to: &out)
            key("argv")
            if let bytes = row.withBytes(.argv, { $0 }), JSONText.isPlainStringArray(bytes) {
                out.append(contentsOf: bytes)
            } else {
                out.append(UInt8(ascii: "["))
                for (index, argument) in row.argv.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    JSONText.append(argument, to: &out)
                }
                out.append(UInt8(ascii: "]"))
            }
            key("branch")
            text(row, .branch)
            key("cwd")
            text(row, .cwd, empty: true)
            key("exit_code")
            number(row, .exitCode)
            key("hooked_at")
            date(row, .hookedAt, nullable: true)
            key("host")
            JSONText.append(row.host.rawValue, to: &out)
            key("id")
            text(row, .id, empty: true)
            key("last_activity")
            date(row, .lastActivity)
            key("pid")
            number(row, .pid)
            key("repo")
            text(row, .repo)
            key("session_id")
            text(row, .sessionID)
            key("stale")
            (row.int64(.stale) ?? 0) != 0 ? raw("true") : raw("false")
            key("started_at")
            date(row, .startedAt)
            key("state")
            JSONText.append(row.state.rawValue, to: &out)
            key("supervised")
            row.state == .running && row.double(.hookedAt) == nil ? raw("false") : raw("true")
            key("title")
            text(row, .title)
            out.append(UInt8(ascii: "}"))
            out.append(UInt8(ascii: "\n"))
        }
    }

    static func append(_ record: ThreadRecord, to out: inout [UInt8]) {
        let thread = record.thread
        func key(_ name: StaticString, first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func raw(_ text: StaticString) { text.withUTF8Buffer { out.append(contentsOf: $0) } }
        func string(_ text: String?) { JSONText.append(text, to: &out) }
        func number(_ value: Int32?) {
            if let value { out.append(contentsOf: String(value).utf8) } else { raw("null") }
        }
        func date(_ value: Date?) {
            guard let value else { return raw("null") }
            out.append(UInt8(ascii: "\""))
            JSONText.appendTimestamp(value, to: &out)
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "{"))
        key("agent", first: true)
        string(thread.agent.rawValue)
        key("argv")
        out.append(UInt8(ascii: "["))
        for (index, argument) in thread.argv.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            string(argument)
        }
        out.append(UInt8(ascii: "]"))
        key("branch")
        string(thread.branch)
        key("cwd")
        string(thread.cwd)
        key("exit_code")
        number(thread.exitCode)
        key("hooked_at")
        date(thread.hookedAt)
        key("host")
        string(record.host.rawValue)
        key("id")
        string(thread.id.rawValue)
        key("last_activity")
        date(thread.lastActivity)
        key("pid")
        number(thread.pid)
        key("repo")
        string(thread.repo)
        key("session_id")
        string(thread.sessionID)
        key("stale")
        record.stale ? raw("true") : raw("false")
        key("started_at")
        date(thread.startedAt)
        key("state")
        string(thread.state.rawValue)
        key("supervised")
        thread.isUnsupervised ? raw("false") : raw("true")
        key("title")
        string(thread.title)
        out.append(contentsOf: [UInt8(ascii: "}"), UInt8(ascii: "\n")])
    }
}

/// JSON string literals (RFC 8259), for the hand-written listings.
enum JSONText {
    static func string(_ text: String?) -> String {
        guard let text else { return "null" }
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || TerminalText.isHidden(scalar): out += unicodeEscape(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `string(text)`, appended as UTF-8.
    static func append(_ text: String?, to out: inout [UInt8]) {
        guard var text else {
            out.append(contentsOf: "null".utf8)
            return
        }
        // Printable ASCII without quotes or backslashes (most of a listing) is copied as it is:
        // no such character is hidden or needs an escape.
        let plain = text.withUTF8 { bytes in
            !bytes.contains { $0 < 0x20 || $0 >= 0x7F || $0 == 0x22 || $0 == 0x5C }
        }
        if plain {
            out.append(UInt8(ascii: "\""))
            text.withUTF8 { out.append(contentsOf: $0) }
            out.append(UInt8(ascii: "\""))
        } else {
            out.append(contentsOf: string(text).utf8)
        }
    }

    /// Printable ASCII without quotes or backslashes: a JSON string's content as it is.
    static func isPlain(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.contains { $0 < 0x20 || $0 >= 0x7F || $0 == 0x22 || $0 == 0x5C }
    }

    /// `["a","b c"]` exactly: an array of plain strings (see `isPlain`), no spaces, no escapes —
    /// what `append` writes for the same strings, byte for byte.
    static func isPlainStringArray(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "["), bytes[bytes.count - 1] == UInt8(ascii: "]") else {
            return false
        }
        var index = 1
        let end = bytes.count - 1
        if index == end { return true }
        while index < end {
            guard bytes[index] == UInt8(ascii: "\"") else { return false }
            index += 1
            while index < end, bytes[index] != UInt8(ascii: "\"") {
                let byte = bytes[index]
                guard byte >= 0x20, byte < 0x7F, byte != 0x5C else { return false }
                index += 1
            }
            guard index < end else { return false }
            index += 1  // the closing quote
            if index == end { return true }
            guard bytes[index] == UInt8(ascii: ","), index + 1 < end else { return false }
            index += 1
        }
        return false
    }

    /// `Timestamp.format(date)` (`2026-11-25T23:40:12.345Z`), appended as UTF-8 without the
    /// intermediate strings; clamped to years 1…9999 alike, so it never traps.
    static func appendTimestamp(_ date: Date, to out: inout [UInt8]) {
        let raw = date.timeIntervalSince1970
        let clamped = raw.isNaN ? 0 : min(max(raw, -62_135_596_800), 253_402_300_799.999)
        let milliseconds = (clamped * 1000).rounded(.down)
        let seconds = Int64((milliseconds / 1000).rounded(.down))
        let millis = Int(milliseconds - Double(seconds) * 1000)
        // The date by arithmetic on the day number (proleptic Gregorian, as gmtime_r; no lock,
        // no time zone state), the time of day likewise (UTC has no leap seconds in POSIX time).
        let (day, second) = seconds.quotientAndRemainder(dividingBy: 86400)
        let (dayNumber, secondOfDay) = second < 0 ? (day - 1, Int(second + 86400)) : (day, Int(second))
        let (year, month, dayOfMonth) = civilDate(daysSinceEpoch: dayNumber)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var rest = max(0, value)
                for position in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
                    rest /= 10
                }
            }
            put(year, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(month, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(dayOfMonth, 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(secondOfDay / 3600, 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(secondOfDay / 60 % 60, 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(secondOfDay % 60, 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(millis, 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            out.append(contentsOf: UnsafeBufferPointer(buffer))
        }
    }

    /// Year, month and day of a day number counted from 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`). `days` is within years 1...9999 here (the caller clamps), far from
    /// any overflow.
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    /// `\uXXXX` (a surrogate pair above the BMP).
    static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        func hex(_ value: UInt32) -> String { "\\u" + String(value, radix: 16).leftPadded(to: 4) }
        guard scalar.value > 0xFFFF else { return hex(scalar.value) }
        let value = scalar.value - 0x10000
        return hex(0xD800 + (value >> 10)) + hex(0xDC00 + (value & 0x3FF))
    }

    /// Escapes what JSONEncoder leaves raw (DEL, C1 controls, format characters, U+2028/U+2029)
    /// so a terminal showing the JSON shows them as `\uXXXX`. Valid on encoded JSON: outside
    /// string literals JSON is ASCII, and inside them the escape decodes to the same scalar.
    /// (C0 controls are left alone: JSONEncoder escapes them inside strings, and outside they are
    /// whitespace.)
    static func escapeHidden(_ json: String) -> String {
        func hidden(_ scalar: Unicode.Scalar) -> Bool { scalar.value >= 0x7F && TerminalText.isHidden(scalar) }
        guard json.unicodeScalars.contains(where: hidden) else { return json }
        var out = ""
        out.reserveCapacity(json.utf8.count)
        for scalar in json.unicodeScalars {
            if hidden(scalar) { out += unicodeEscape(scalar) } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }
}

enum JSONLines {
    static func encode<T: Encodable>(_ items: [T]) -> String {
        let encoder = Timestamp.makeEncoder()
        return items.compactMap { try? encoder.encode($0) }.map {
            JSONText.escapeHidden(String(decoding: $0, as: UTF8.self)) + "\n"
        }.joined()
    }
}
