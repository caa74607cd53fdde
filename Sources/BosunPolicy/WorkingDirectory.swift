/// Where a command's relative paths lead: `cd` and `pushd` earlier in the same command line move it.
enum WorkingDirectory: Sendable, Equatable {
    /// The agent's working directory: relative paths are workspace paths.
    case workspace
    /// A known directory: absolute and normalised, under the home directory (`~`, `~/src`), or relative
    /// to the workspace when its root is not known.
    case known(String)
    /// A directory the static reading cannot know (`cd -`, `cd "$DIR"`, `popd` of an empty stack).
    case unknown
}

/// Follows `cd`, `pushd` and `popd` through the simple commands of one command line, in order, and
/// resolves each command's paths against the directory it runs in. After `cd /`, `etc/cron.d/job` is
/// `/etc/cron.d/job`; after `cd "$X"`, a relative path is outside the workspace (`/…/path`), so it is
/// never taken for a workspace path. A subshell's `cd` is assumed to last (the stricter reading).
struct DirectoryTracker: Sendable {
    let root: String?
    private(set) var current: WorkingDirectory = .workspace
    private var stack: [WorkingDirectory] = []

    init(root: String?) { self.root = root }

    /// The form rules match for `path` as a command in the current directory sees it.
    func resolve(_ path: String) -> String { PathForm.resolve(path, root: root, directory: current) }

    /// `resolve(path)`, plus its `~` form when it is an absolute path in a home directory.
    func forms(_ path: String) -> [String] { PathForm.forms(PathForm.resolve(path, root: root, directory: current)) }

    /// Appends `forms(path)`, split into segments, to `list`.
    func appendForms(_ path: String, to list: inout [PathSegments]) {
        let resolved = PathForm.resolve(path, root: root, directory: current)
        list.append(PathSegments(resolved))
        guard resolved.startsWithCharacter(.slash) else { return }
        let home = PathForm.homeForm(resolved)
        if home != resolved { list.append(PathSegments(home)) }
    }

    /// The current directory when a `cd` moved it away from the workspace root, as an absolute or `~` path
    /// (`/…` when unknown); nil in the workspace root.
    var elsewhere: String? {
        switch current {
        case .workspace: return nil
        case .unknown: return PathForm.unknownDirectory
        case .known(let directory):
            return PathForm.resolve(directory, root: root, directory: .workspace) == "." ? nil : directory
        }
    }

    /// Updates the directory after a simple command has run.
    mutating func observe(_ argv: [String]) {
        guard let name = argv.first else { return }
        switch name {
        case "cd", "pushd", "chdir":
            var operands = argv.dropFirst()[...]
            while let first = operands.first, first.hasPrefix("-"), first != "-", first.count > 1 {
                operands.removeFirst()
                if first == "--" { break }
            }
            let previous = current
            if name == "pushd" {
                guard let target = operands.first else {
                    current = stack.popLast() ?? .unknown
                    stack.append(previous)
                    return
                }
                if target.hasPrefix("+") || (target.hasPrefix("-") && target.count > 1) {
                    current = .unknown
                    return
                }
                stack.append(previous)
            }
            guard let target = operands.first else {
                current = .known("~")
                return
            }
            current = target == "-" ? .unknown : directory(target)
        case "popd":
            current = stack.popLast() ?? .unknown
        default:
            break
        }
    }

    private func directory(_ target: String) -> WorkingDirectory {
        let resolved = resolve(target)
        if resolved.utf8.contains(where: { $0 == .dollar || $0 == .backquote }) { return .unknown }
        if resolved.hasPrefix("/") || resolved.hasPrefix("~") { return .known(resolved) }
        // Relative after resolving: inside the workspace, or relative to it when there is no root.
        if resolved == "." { return .workspace }
        guard let root else { return .known(resolved) }
        return .known(PathForm.normalize(root + "/" + resolved))
    }
}

extension PathForm {
    /// The segment that stands for a directory the static reading cannot know.
    static let unknownDirectory = "/…"

    /// `path` in the form rules match: `$HOME/x`, `${HOME}/x` and `~user/x` spelled `~/x`, `.`/`..`
    /// resolved, paths in the workspace relative to it, other paths absolute.
    static func resolve(_ path: String, root: String?, directory: WorkingDirectory) -> String {
        var path = homeSpelling(path)
        if path.startsWithCharacter(.tilde) { return normalizeHome(path) }
        if !path.startsWithCharacter(.slash) {
            switch directory {
            case .workspace:
                return relative(path, root: root)
            case .unknown:
                path = unknownDirectory + "/" + path
            case .known(let directory):
                path = directory + "/" + path
                if directory.hasPrefix("~") { return normalizeHome(path) }
            }
        }
        return relative(path, root: root)
    }

    /// A `~` path normalised: `~/a/../b` is `~/b`; one that climbs out of home (`~/../dev/x`) becomes the
    /// absolute path under `/home` it names (`/home/dev/x`), which `forms` also spells `~/x`.
    static func normalizeHome(_ path: String) -> String {
        let marker = "/home/~"
        let absolute = normalize(marker + path.dropFirst())
        if absolute == marker { return "~" }
        if absolute.hasPrefix(marker + "/") { return "~" + absolute.dropFirst(marker.count) }
        return absolute
    }

    /// A resolved path and, for an absolute path in a home directory (`/home/NAME/x`, `/Users/NAME/x`,
    /// `/root/x`), also its `~/x` form: `/**` globs see the first, `~/…` globs the second.
    static func forms(_ resolved: String) -> [String] {
        guard resolved.hasPrefix("/") else { return [resolved] }
        let home = homeForm(resolved)
        return home == resolved ? [resolved] : [resolved, home]
    }

    /// `$HOME`, `${HOME}` and `~user` at the start of `path` spelled `~`; other paths as they are.
    static func homeSpelling(_ path: String) -> String {
        // Every spelling below starts with `$` or `~`.
        guard let first = path.utf8.first, first == .dollar || first == UInt8(ascii: "~") else { return path }
        for prefix in ["$HOME", "${HOME}"] where path.hasPrefix(prefix) {
            let rest = path.dropFirst(prefix.count)
            if rest.isEmpty || rest.hasPrefix("/") { return "~" + rest }
        }
        if path.hasPrefix("~+") || path.hasPrefix("~-") {
            // $PWD and $OLDPWD: not followed.
            return unknownDirectory + path.dropFirst(2)
        }
        if path.hasPrefix("~") {
            let name = path.dropFirst().prefix { $0 != "/" }
            if !name.isEmpty && name.utf8.allSatisfy({ ShellReader.isNameChar($0) || $0 == .dash || $0 == .dot }) {
                return "~" + path.dropFirst(1 + name.count)
            }
        }
        return path
    }

    /// An absolute path in a home directory (`/home/NAME/x`, `/Users/NAME/x`, `/root/x`) as `~/x`;
    /// other paths as they are.
    static func homeForm(_ path: String) -> String {
        guard path.startsWithCharacter(.slash) else { return path }
        let segments = segments(path)
        let skip: Int
        switch segments.first {
        case "root": skip = 1
        case "home", "Users": skip = segments.count >= 2 ? 2 : 0
        default: skip = 0
        }
        guard skip > 0 else { return path }
        let rest = segments.dropFirst(skip)
        return rest.isEmpty ? "~" : "~/" + rest.joined(separator: "/")
    }
}
