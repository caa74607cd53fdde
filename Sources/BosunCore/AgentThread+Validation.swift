public import FoundationEssentials

/// Ranges every number and timestamp from a peer must fall in. Checked at decode, so nothing past
/// the codec can trap on arithmetic or conversion of a peer's value (ARCHITECTURE.md §3).
public enum ProtocolLimits {
    /// The largest `seq` accepted: sequence numbers are stored as SQLite integers (Int64).
    public static let maxSeq = UInt64(Int64.max)
    /// Linux's PID_MAX_LIMIT (2^22): a pid outside 1…this is not a process.
    public static let maxPID: Int32 = 4_194_304
    /// Timestamps are accepted from 2000-01-01 to 2200-01-01 (UTC).
    public static let earliest = Date(timeIntervalSince1970: 946_684_800)
    public static let latest = Date(timeIntervalSince1970: 7_258_118_400)

    public static func isSane(_ date: Date) -> Bool {
        let t = date.timeIntervalSince1970
        return t.isFinite && t >= earliest.timeIntervalSince1970 && t <= latest.timeIntervalSince1970
    }

    /// The largest `action_bytes` a truncated request may claim (2^31).
    public static let maxActionBytes = 1 << 31

    /// Exactly 64 lowercase hexadecimal digits: a SHA-256 as `SHA256.hex` writes it.
    public static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    /// 1–64 ASCII letters, digits, '-' or '_': ids that name files and database keys.
    public static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && text.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
            }
    }

    /// ``isToken(_:)`` of a typed identifier's text.
    public static func isToken<Kind>(_ id: Identifier<Kind>) -> Bool { isToken(id.rawValue) }
}

extension AgentThread {
    /// Why a host-reported thread is unacceptable, or nil. Hosts are untrusted: bound every field.
    public var validationProblem: String? {
        func tooLong(_ text: String?, _ limit: Int) -> Bool { (text?.utf8.count ?? 0) > limit }
        guard ProtocolLimits.isToken(id) else {
            return "thread id must be 1–64 letters, digits, '-' or '_'"
        }
        if argv.count > 4096 || argv.contains(where: { $0.utf8.count > 65536 }) { return "thread argv too large" }
        if tooLong(cwd, 4096) || tooLong(repo, 4096) || tooLong(branch, 1024) { return "thread path too long" }
        if tooLong(title, 4096) || tooLong(sessionID, 256) { return "thread title or session id too long" }
        if let pid, pid < 1 || pid > ProtocolLimits.maxPID { return "thread pid out of range: \(pid)" }
        guard ProtocolLimits.isSane(startedAt), ProtocolLimits.isSane(lastActivity) else {
            return "thread timestamps out of range (2000…2200)"
        }
        return nil
    }
}

extension ApprovalRequest {
    /// Why a host-sent request is unacceptable, or nil. Hosts are untrusted: bound every field.
    public var validationProblem: String? {
        guard ProtocolLimits.isToken(id) else { return "request id must be 1–64 letters, digits, '-' or '_'" }
        guard ProtocolLimits.isToken(threadID) else {
            return "request thread_id must be 1–64 letters, digits, '-' or '_'"
        }
        let e = evidence
        if (e.command?.utf8.count ?? 0) > 65536 || (e.purpose?.utf8.count ?? 0) > 16384 {
            return "request text too long"
        }
        if e.paths.count > 1000 || e.changedFiles.count > 5000 || e.testsRun.count > 1000 {
            return "request evidence lists too long"
        }
        if e.tool.isEmpty || e.tool.utf8.count > 256 { return "request tool must be 1–256 bytes" }
        guard ProtocolLimits.isSane(createdAt), ProtocolLimits.isSane(deadlineAt),
            e.testsRun.allSatisfy({ ProtocolLimits.isSane($0.at) })
        else {
            return "request timestamps out of range (2000…2200)"
        }
        guard deadlineAt >= createdAt else { return "request deadline_at is before created_at" }
        if let digest = actionSHA256, !ProtocolLimits.isSHA256Hex(digest) {
            return "request action_sha256 must be 64 lowercase hex digits"
        }
        if let bytes = actionBytes, bytes < 0 || bytes > ProtocolLimits.maxActionBytes {
            return "request action_bytes out of range (0…2^31)"
        }
        return nil
    }
}

extension Decision {
    /// Why a decision from a peer is unacceptable, or nil.
    public var validationProblem: String? {
        guard ProtocolLimits.isToken(requestID) else { return "decision request_id must be a 1–64 character id" }
        guard reason.utf8.count <= 16384, decidedBy.encoded.utf8.count <= 256, (rule?.utf8.count ?? 0) <= 256 else {
            return "decision text too long"
        }
        guard ProtocolLimits.isSane(decidedAt) else { return "decision timestamp out of range (2000…2200)" }
        return nil
    }
}

extension AgentThread: MessageBody {}
extension ApprovalRequest: MessageBody {}

extension Decision: MessageBody {
    /// A host applies a decision once, by its request id.
    public var idempotencyKey: String? { requestID.rawValue }
}

// The bounds of the other host-sent bodies (``MessageBody/validationProblem``, checked at decode).

extension Hello {
    public var validationProblem: String? {
        guard hostVersion.utf8.count <= 256, hostname.utf8.count <= 1024, bootID.utf8.count <= 256,
            capabilities.count <= 64, capabilities.allSatisfy({ $0.utf8.count <= 64 })
        else { return "hello fields too long" }
        return nil
    }
}

extension Outcome {
    public var validationProblem: String? {
        guard ProtocolLimits.isToken(threadID) else { return "outcome thread_id must be a 1–64 character id" }
        if let id = requestID, !ProtocolLimits.isToken(id) { return "outcome request_id must be a 1–64 character id" }
        guard tool.utf8.count <= 256, (command?.utf8.count ?? 0) <= 65536 else { return "outcome fields too long" }
        guard ProtocolLimits.isSane(finishedAt) else { return "outcome timestamp out of range (2000…2200)" }
        return nil
    }
}

extension LocalDecision {
    public var validationProblem: String? {
        if let problem = request.validationProblem ?? decision.validationProblem { return problem }
        guard decision.requestID == request.id else { return "local_decision for another request" }
        return nil
    }
}

extension ChangedFiles {
    public var validationProblem: String? {
        guard ProtocolLimits.isToken(threadID), ProtocolLimits.isToken(requestID) else {
            return "changed_files thread_id and request_id must be 1–64 character ids"
        }
        guard files.count <= Self.maxFiles, files.allSatisfy({ $0.utf8.count <= Self.maxFileBytes }) else {
            return "changed_files: more than \(Self.maxFiles) files or a name over \(Self.maxFileBytes) bytes"
        }
        return nil
    }
}

extension ThreadEvent {
    public var validationProblem: String? {
        guard threadID.rawValue.utf8.count <= 64, kind.utf8.count <= 64, text.utf8.count <= 4096 else {
            return "event fields too long"
        }
        return nil
    }
}
