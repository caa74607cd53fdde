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
