import BosunCore
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The git repository and branch a directory belongs to, read from `.git` without running git.
///
/// The repository is the agent's and may be hostile: every file is opened non-blocking and must be
/// a regular file (a FIFO or device named `HEAD` is ignored, not waited on), reads are bounded,
/// and a ref is only looked up when it is a plain `refs/…` name (no `..`, no absolute path).
public struct GitInfo: Sendable, Equatable {
    public var repo: String
    public var branch: String?
    /// The commit HEAD points at, when it can be read from refs or packed-refs.
    public var head: String?

    /// At most this much of `HEAD`, a loose ref, a `.git` file or `commondir` is read.
    static let smallFileBytes = 4096
    /// `packed-refs` beyond this size is not searched (HEAD's commit is then unknown, not guessed).
    static let packedRefsBytes = 8 << 20
    /// At most this many directories are walked up looking for `.git`.
    static let maxDepth = 256

    public init(repo: String, branch: String?, head: String?) {
        self.repo = repo
        self.branch = branch
        self.head = head
    }

    /// Walks up from `directory` to the first folder holding `.git` (a directory or a worktree file).
    public static func find(from directory: String) -> GitInfo? {
        var current = normalized(directory)
        for _ in 0..<maxDepth {
            let dotGit = current == "/" ? "/.git" : current + "/.git"
            var info = stat()
            if stat(dotGit, &info) == 0 {
                let kind = info.st_mode & S_IFMT
                if kind == S_IFDIR || kind == S_IFREG {
                    let gitDir = kind == S_IFDIR ? dotGit : worktreeGitDir(file: dotGit, base: current)
                    let headText = gitDir.flatMap { readSmall($0 + "/HEAD") }
                    return GitInfo(
                        repo: current, branch: headText.flatMap(branch(head:)),
                        head: gitDir.flatMap { dir in headText.flatMap { head(gitDir: dir, headText: $0) } })
                }
            }
            if current == "/" || current.isEmpty { return nil }
            current = parent(of: current)
        }
        return nil
    }

    /// `directory` made absolute (against the working directory) with `.`, `..` and doubled
    /// slashes resolved lexically, as `URL.standardizedFileURL` did.
    static func normalized(_ directory: String) -> String {
        var base = directory
        if !base.hasPrefix("/") { base = FileManager.default.currentDirectoryPath + "/" + base }
        var parts: [Substring] = []
        for part in base.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    private static func worktreeGitDir(file: String, base: String) -> String? {
        guard let text = readSmall(file), let line = text.split(separator: "\n").first, line.hasPrefix("gitdir:")
        else { return nil }
        let path = line.dropFirst("gitdir:".count).trimmingSpaces()
        guard !path.isEmpty, !path.contains("\0") else { return nil }
        return path.hasPrefix("/") ? path : base + "/" + path
    }

    /// The commit HEAD names: a detached hash, or its branch's ref looked up in the git directory,
    /// then in a linked worktree's common directory (`commondir`), loose refs before packed-refs.
    static func head(gitDir: String, headText: String) -> String? {
        let head = headText.trimmingSpacesAndNewlines()
        guard head.hasPrefix("ref: ") else { return isObjectName(head) ? head : nil }
        let ref = String(head.dropFirst(5)).trimmingSpaces()
        guard isPlainRef(ref) else { return nil }
        var directories = [gitDir]
        if let common = readSmall(gitDir + "/commondir")?.trimmingSpacesAndNewlines(),
            !common.isEmpty, !common.contains("\0")
        {
            directories.append(common.hasPrefix("/") ? common : gitDir + "/" + common)
        }
        for directory in directories {
            if let direct = readSmall(directory + "/" + ref)?.trimmingSpacesAndNewlines(),
                isObjectName(direct)
            {
                return direct
            }
        }
        for directory in directories {
            guard let packed = readFile(directory + "/packed-refs", maxBytes: packedRefsBytes) else { continue }
            for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
                let hash = String(line.prefix { $0 != " " })
                return isObjectName(hash) ? hash : nil
            }
        }
        return nil
    }

    /// `refs/…` without `..`, empty components, control characters or a leading `/`.
    static func isPlainRef(_ ref: String) -> Bool {
        guard ref.hasPrefix("refs/"), ref.utf8.count <= 1024 else { return false }
        for component in ref.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty || component == "." || component == ".." { return false }
        }
        return !ref.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// A SHA-1 or SHA-256 object name in hex.
    static func isObjectName(_ text: String) -> Bool {
        (text.utf8.count == 40 || text.utf8.count == 64)
            && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    private static func branch(head: String) -> String? {
        let text = head.trimmingSpacesAndNewlines()
        if text.hasPrefix("ref: refs/heads/") { return String(text.dropFirst("ref: refs/heads/".count)) }
        if text.hasPrefix("ref: ") { return String(text.dropFirst(5)) }
        return text.isEmpty ? nil : "(detached \(text.prefix(12)))"
    }

    static func readSmall(_ path: String) -> String? { readFile(path, maxBytes: smallFileBytes) }

    /// The file's text when it is a regular file of at most `maxBytes` (opened non-blocking, so a
    /// FIFO never blocks); nil otherwise.
    static func readFile(_ path: String, maxBytes: Int) -> String? {
        readBytes(path, maxBytes: maxBytes).map { String(decoding: $0, as: UTF8.self) }
    }

    /// ``readFile(_:maxBytes:)``'s bytes, undecoded.
    static func readBytes(_ path: String, maxBytes: Int) -> ArraySlice<UInt8>? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size >= 0, info.st_size <= maxBytes
        else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { raw in
                read(fd, raw.baseAddress.map { $0 + count }, raw.count - count)
            }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { break }
            count += got
        }
        // The file grew past what fstat said: give up rather than read without bound.
        guard count <= maxBytes else { return nil }
        return bytes[0..<count]
    }

    /// Files with uncommitted changes (`git status --porcelain`), at most `limit`; empty when git
    /// is missing or slow. Runs a subprocess: only for evidence a person will read.
    public static func changedFiles(in directory: String, limit: Int = 200) -> [String] {
        guard let output = Subprocess.capture(["git", "-C", directory, "status", "--porcelain=v1"], timeoutMs: 3000)
        else { return [] }
        return output.split(separator: "\n").prefix(limit).map { line in
            String(line.dropFirst(3))
        }
    }
}
