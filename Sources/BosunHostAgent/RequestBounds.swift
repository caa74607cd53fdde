public import BosunCore
import FoundationEssentials

/// Bounds what a hook sends to the supervisor, so a model's own huge tool call cannot make a line
/// the link refuses (HostLink rejects a request whose command is over 64 KiB, and any line over
/// `HostProtocol.maxLineBytes`, as protocol errors; the host would resend it on every reconnect).
///
/// The action (command, paths) is cut for display and the request marked `truncated` with the
/// SHA-256 and length of the whole; the hook still evaluates its policy snapshot on the whole.
/// Other evidence is cut without marking (it describes, it does not run).
public enum RequestBounds {
    /// Longest command text sent, in bytes (the rest is summarised by its digest).
    public static let commandBytes = 16 * 1024
    public static let reasonBytes = 4096
    public static let pathBytes = 4096
    public static let maxPaths = 200
    public static let maxChangedFiles = 500
    public static let maxListEntries = 100
    public static let entryBytes = 1024
    /// Longest request as JSON, in bytes; lists are cut further beyond this.
    public static let requestBytes = 256 * 1024

    /// `text` cut to at most `limit` UTF-8 bytes at a character boundary.
    public static func prefix(_ text: String, _ limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            if used + size > limit { break }
            result.append(character)
            used += size
        }
        return result
    }

    /// `request` with every evidence field bounded; `truncated` when the action itself was cut.
    public static func bound(_ request: ApprovalRequest) -> ApprovalRequest {
        var bounded = request
        var e = request.evidence
        var truncated = false
        let whole = action(of: request.evidence)
        if let command = e.command, command.utf8.count > commandBytes {
            e.command =
                prefix(command, commandBytes)
                + " … [cut by bosun-host: \(command.utf8.count) bytes in all, sha256 \(SHA256.hex(command))]"
            truncated = true
        }
        if e.paths.count > maxPaths || e.paths.contains(where: { $0.utf8.count > pathBytes }) {
            e.paths = e.paths.prefix(maxPaths).map { prefix($0, pathBytes) }
            truncated = true
        }
        e.purpose = e.purpose.map { prefix($0, reasonBytes) }
        e.nextStep = e.nextStep.map { prefix($0, reasonBytes) }
        e.tool = prefix(e.tool, 256)
        e.hookEvent = prefix(e.hookEvent, 64)
        e.sessionID = e.sessionID.map { prefix($0, 256) }
        e.cwd = prefix(e.cwd, pathBytes)
        e.repo = e.repo.map { prefix($0, pathBytes) }
        e.branch = e.branch.map { prefix($0, entryBytes) }
        e.head = e.head.map { prefix($0, 256) }
        e.changedFiles = e.changedFiles.prefix(maxChangedFiles).map { prefix($0, pathBytes) }
        e.testsRun = e.testsRun.suffix(50).map {
            var run = $0
            run.command = prefix(run.command, pathBytes)
            return run
        }
        e.sideEffects = e.sideEffects.prefix(maxListEntries).map { prefix($0, entryBytes) }
        e.network = e.network.prefix(maxListEntries).map { prefix($0, entryBytes) }
        e.credentials = e.credentials.prefix(maxListEntries).map { prefix($0, entryBytes) }
        bounded.evidence = e
        if encodedSize(bounded) > requestBytes {
            // Still too big (many long paths): keep a handful of each list.
            if e.paths.count > 20 { truncated = true }
            e.paths = Array(e.paths.prefix(20))
            e.changedFiles = Array(e.changedFiles.prefix(20))
            e.testsRun = Array(e.testsRun.suffix(5))
            bounded.evidence = e
        }
        if truncated {
            bounded.truncated = true
            bounded.actionSHA256 = SHA256.hex(whole)
            bounded.actionBytes = whole.utf8.count
        }
        return bounded
    }

    /// The action a digest covers: the command, else the paths one per line.
    static func action(of evidence: Evidence) -> String {
        evidence.command ?? evidence.paths.joined(separator: "\n")
    }

    static func encodedSize(_ request: ApprovalRequest) -> Int {
        // The spool file's bytes (``SpoolRecord``: the same as `Timestamp.makeEncoder()`'s).
        request.encoded.count
    }
}
