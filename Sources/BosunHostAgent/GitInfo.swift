import Foundation

/// The git repository and branch a directory belongs to, read from `.git` without running git.
public struct GitInfo: Sendable, Equatable {
    public var repo: String
    public var branch: String?
    /// The commit HEAD points at, when it can be read from refs or packed-refs.
    public var head: String?

    /// Walks up from `directory` to the first folder holding `.git` (a directory or a worktree file).
    public static func find(from directory: String) -> GitInfo? {
        let fm = FileManager.default
        var current = URL(fileURLWithPath: directory).standardizedFileURL.path
        while true {
            let dotGit = current == "/" ? "/.git" : current + "/.git"
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: dotGit, isDirectory: &isDirectory) {
                let gitDir = isDirectory.boolValue ? dotGit : worktreeGitDir(file: dotGit, base: current)
                return GitInfo(
                    repo: current, branch: gitDir.flatMap(branch(gitDir:)), head: gitDir.flatMap(head(gitDir:)))
            }
            if current == "/" || current.isEmpty { return nil }
            current = (current as NSString).deletingLastPathComponent
        }
    }

    private static func worktreeGitDir(file: String, base: String) -> String? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
            let line = text.split(separator: "\n").first, line.hasPrefix("gitdir:")
        else { return nil }
        let path = line.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespaces)
        return path.hasPrefix("/") ? path : base + "/" + path
    }

    private static func head(gitDir: String) -> String? {
        guard let text = try? String(contentsOfFile: gitDir + "/HEAD", encoding: .utf8) else { return nil }
        let head = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard head.hasPrefix("ref: ") else { return head.isEmpty ? nil : head }
        let ref = String(head.dropFirst(5))
        if let direct = try? String(contentsOfFile: gitDir + "/" + ref, encoding: .utf8) {
            return direct.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let packed = (try? String(contentsOfFile: gitDir + "/packed-refs", encoding: .utf8)) ?? ""
        for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
            return String(line.prefix { $0 != " " })
        }
        return nil
    }

    /// Files with uncommitted changes (`git status --porcelain`), at most `limit`; empty when git
    /// is missing or slow.
    public static func changedFiles(in directory: String, limit: Int = 200) -> [String] {
        guard let output = Subprocess.capture(["git", "-C", directory, "status", "--porcelain=v1"], timeoutMs: 3000)
        else { return [] }
        return output.split(separator: "\n").prefix(limit).map { line in
            String(line.dropFirst(3))
        }
    }

    private static func branch(gitDir: String) -> String? {
        guard let head = try? String(contentsOfFile: gitDir + "/HEAD", encoding: .utf8) else { return nil }
        let text = head.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("ref: refs/heads/") { return String(text.dropFirst("ref: refs/heads/".count)) }
        if text.hasPrefix("ref: ") { return String(text.dropFirst(5)) }
        return text.isEmpty ? nil : "(detached \(text.prefix(12)))"
    }
}
