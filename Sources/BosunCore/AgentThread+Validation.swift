extension AgentThread {
    /// Why a host-reported thread is unacceptable, or nil. Hosts are untrusted: bound every field.
    public var validationProblem: String? {
        func tooLong(_ text: String?, _ limit: Int) -> Bool { (text?.utf8.count ?? 0) > limit }
        guard !id.isEmpty, id.utf8.count <= 64,
            id.unicodeScalars.allSatisfy({
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
            })
        else {
            return "thread id must be 1–64 letters, digits, '-' or '_'"
        }
        if argv.count > 4096 || argv.contains(where: { $0.utf8.count > 65536 }) { return "thread argv too large" }
        if tooLong(cwd, 4096) || tooLong(repo, 4096) || tooLong(branch, 1024) { return "thread path too long" }
        if tooLong(title, 4096) || tooLong(sessionID, 256) { return "thread title or session id too long" }
        return nil
    }
}

extension ApprovalRequest {
    /// Why a host-sent request is unacceptable, or nil. Hosts are untrusted: bound every field.
    public var validationProblem: String? {
        func isToken(_ text: String) -> Bool {
            !text.isEmpty && text.utf8.count <= 64
                && text.unicodeScalars.allSatisfy {
                    $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
                }
        }
        guard isToken(id) else { return "request id must be 1–64 letters, digits, '-' or '_'" }
        guard isToken(threadID) else { return "request thread_id must be 1–64 letters, digits, '-' or '_'" }
        let e = evidence
        if (e.command?.utf8.count ?? 0) > 65536 || (e.reason?.utf8.count ?? 0) > 16384 {
            return "request text too long"
        }
        if e.paths.count > 1000 || e.changedFiles.count > 5000 || e.testsRun.count > 1000 {
            return "request evidence lists too long"
        }
        if e.tool.isEmpty || e.tool.utf8.count > 256 { return "request tool must be 1–256 bytes" }
        guard deadlineAt >= createdAt else { return "request deadline_at is before created_at" }
        return nil
    }
}
