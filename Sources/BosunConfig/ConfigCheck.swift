import BosunCore
import BosunPolicy
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// One finding of `bosun check`: an error (bosund would refuse to start, or could not do its job)
/// or a warning (it runs, but something is probably not what was meant).
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case error, warning
    }

    public var severity: Severity
    public var problem: ConfigError

    public init(_ severity: Severity, _ problem: ConfigError) {
        self.severity = severity
        self.problem = problem
    }

    public var description: String { "\(severity.rawValue): \(problem)" }
}

/// Everything `bosun check` found in one configuration directory, every file looked at.
public struct ConfigCheck: Sendable {
    /// What loaded (files with errors left out); nil when the directory itself is unusable.
    public var config: SupervisorConfig?
    public var problems: [ConfigProblem]

    public var errors: [ConfigProblem] { problems.filter { $0.severity == .error } }
    public var warnings: [ConfigProblem] { problems.filter { $0.severity == .warning } }
}

extension SupervisorConfig {
    /// Loads `directory` like `load(directory:)`, but reports every problem instead of the first: each
    /// file on its own, then what loads but cannot work (key files, known_hosts, channels, operators).
    public static func check(directory: String) -> ConfigCheck {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory
        else {
            return ConfigCheck(
                config: nil,
                problems: [
                    ConfigProblem(
                        .error,
                        ConfigError(file: directory, key: nil, message: "configuration directory does not exist"))
                ])
        }
        var errors: [ConfigError] = []
        let mainFile = Paths.join(directory, "bosund.toml")
        var config: SupervisorConfig
        var mainLoaded = true
        do throws(ConfigError) {
            let text = FileManager.default.fileExists(atPath: mainFile) ? try read(mainFile) : ""
            config = try parseMain(text, file: mainFile, directory: directory)
        } catch {
            errors.append(error)
            mainLoaded = false
            config =
                (try? parseMain("", file: mainFile, directory: directory))
                ?? SupervisorConfig(
                    directory: directory, stateDir: "/var/lib/bosun", socket: "/run/bosun/bosund.sock", identity: "",
                    knownHosts: "")
        }
        config.hosts = loadHosts(directory: Paths.join(directory, "hosts"), problems: &errors)
        do throws(ConfigError) {
            config.policy = try Policy.load(directory: Paths.join(directory, "policies"))
        } catch {
            errors.append(error)
        }
        let operatorsDirectory = Paths.join(directory, "operators")
        config.operators = OperatorConfig.loadAll(directory: operatorsDirectory, problems: &errors)

        var problems = errors.map { ConfigProblem(.error, $0) }
        // Key files and known_hosts are only judged against a bosund.toml that loaded: with a broken
        // one, the paths would be the defaults, not the ones meant.
        if mainLoaded {
            problems += keyFileProblems(config, mainFile: mainFile)
            problems += notifyProblems(config, mainFile: mainFile)
        }
        problems += channelProblems(config)
        for shadow in config.policy.shadowedRules() {
            let (file, line) = Self.splitSource(shadow.source)
            problems.append(
                ConfigProblem(
                    .warning,
                    ConfigError(
                        file: file, key: "rule \(shadow.rule)" + (line.map { " (line \($0))" } ?? ""),
                        message:
                            "never decides: an earlier rule (\(shadow.by.joined(separator: ", "))) decides every one of its examples.match; delete it or move it before that rule"
                    )))
        }
        if config.operators.isEmpty && !errors.contains(where: { $0.file.hasPrefix(operatorsDirectory + "/") }) {
            problems.append(
                ConfigProblem(
                    .warning,
                    ConfigError(
                        file: operatorsDirectory, key: nil,
                        message:
                            "no operators: nobody can log in at the front door or approve from it; on the socket only root and bosund's own account act (as admins), other local accounts are viewers"
                    )))
        }
        return ConfigCheck(config: config, problems: problems)
    }

    /// A rule's `source` is `file:line`; the line is nil when it does not end in a number.
    static func splitSource(_ source: String) -> (String, Int?) {
        guard let colon = source.lastIndex(of: ":"), let line = Int(source[source.index(after: colon)...]) else {
            return (source, nil)
        }
        return (String(source[..<colon]), line)
    }

    // MARK: Notifications

    /// `[[notify]]` targets that load but cannot work as meant: a program that is not executable, a
    /// host filter naming no configured host, a topic URL sent in cleartext beyond this machine.
    static func notifyProblems(_ config: SupervisorConfig, mainFile: String) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        let known = Set(config.hosts.map(\.name))
        for (index, target) in config.notify.enumerated() {
            let key = "notify[\(index)]"
            if let program = target.command?.first, !FileManager.default.isExecutableFile(atPath: program) {
                problems.append(
                    ConfigProblem(
                        .warning,
                        ConfigError(
                            file: mainFile, key: "\(key).command",
                            message: "\(program) is not an executable file: every delivery to \(target.name) will fail")
                    ))
            }
            for host in target.hosts where !known.contains(host) {
                problems.append(
                    ConfigProblem(
                        .warning,
                        ConfigError(
                            file: mainFile, key: "\(key).hosts",
                            message: "no configured host is named \"\(host)\"; \(target.name) gets nothing about it")))
            }
            if let text = target.url, let url = URL(string: text), url.scheme?.lowercased() == "http",
                let host = url.host, !["127.0.0.1", "::1", "[::1]", "localhost"].contains(host)
            {
                problems.append(
                    ConfigProblem(
                        .warning,
                        ConfigError(
                            file: mainFile, key: "\(key).url",
                            message:
                                "http:// to \(host): messages (and the URL's topic or token) cross the network in cleartext; use https://"
                        )))
            }
        }
        return problems
    }

    // MARK: Key files

    private static func keyFileProblems(_ config: SupervisorConfig, mainFile: String) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        // The supervisor's identity matters to hosts without their own; absent, bosund tries ssh-agent.
        if config.hosts.contains(where: { $0.identity == nil }) {
            problems += identityProblems(config.identity, file: mainFile, key: "identity", agentFallback: true)
        }
        for host in config.hosts {
            if let identity = host.identity {
                problems += identityProblems(identity, file: host.file, key: "identity", agentFallback: false)
            }
        }
        let unpinned = config.hosts.filter { $0.hostKey == nil }.map(\.name)
        var isDirectory = false
        let exists = FileManager.default.fileExists(atPath: config.knownHosts, isDirectory: &isDirectory)
        if exists && isDirectory {
            problems.append(
                ConfigProblem(
                    .error,
                    ConfigError(
                        file: mainFile, key: "known_hosts",
                        message: "\(config.knownHosts) is a directory; expected an OpenSSH known_hosts file")))
        } else if !exists && !unpinned.isEmpty {
            problems.append(
                ConfigProblem(
                    .error,
                    ConfigError(
                        file: mainFile, key: "known_hosts",
                        message:
                            "\(config.knownHosts) does not exist; expected an OpenSSH known_hosts file with the verified key of \(unpinned.joined(separator: ", ")) (hosts without host_key are refused without it)"
                    )))
        } else if exists && !FileManager.default.isReadableFile(atPath: config.knownHosts) {
            problems.append(
                ConfigProblem(
                    .warning,
                    ConfigError(
                        file: mainFile, key: "known_hosts",
                        message: "\(config.knownHosts) is not readable by this account (is bosund's?)")))
        }
        return problems
    }

    /// Up to `count` bytes from the start of `descriptor` (fewer at end of file or on an error).
    static func readHead(_ descriptor: Int32, upTo count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes {
                Glibc.read(descriptor, $0.baseAddress.map { $0 + filled }, count - filled)
            }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { break }
            filled += got
        }
        return Array(bytes[0..<filled])
    }

    /// What is wrong with the private key file `path`, configured at `key` in `file`.
    private static func identityProblems(_ path: String, file: String, key: String, agentFallback: Bool)
        -> [ConfigProblem]
    {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            if agentFallback {
                return [
                    ConfigProblem(
                        .warning,
                        ConfigError(
                            file: file, key: key,
                            message:
                                "\(path) does not exist; expected the supervisor's SSH private key (bosund falls back to ssh-agent through SSH_AUTH_SOCK)"
                        ))
                ]
            }
            return [
                ConfigProblem(
                    .error,
                    ConfigError(
                        file: file, key: key, message: "\(path) does not exist; expected an SSH private key file"))
            ]
        }
        guard !isDirectory else {
            return [
                ConfigProblem(
                    .error,
                    ConfigError(
                        file: file, key: key, message: "\(path) is a directory; expected an SSH private key file"))
            ]
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return [
                ConfigProblem(
                    .warning,
                    ConfigError(
                        file: file, key: key, message: "\(path) is not readable by this account (is bosund's?)"))
            ]
        }
        defer { Glibc.close(descriptor) }
        // A private key's header is in its first bytes; a public key is one short line.
        let head = String(decoding: Self.readHead(descriptor, upTo: 4096), as: UTF8.self)
        let firstLine = head.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        if case .success = OperatorKey.parse(firstLine, channel: "x") {
            return [
                ConfigProblem(
                    .error,
                    ConfigError(
                        file: file, key: key,
                        message:
                            "\(path) is a public key; expected the private key (\"-----BEGIN OPENSSH PRIVATE KEY-----\"), usually the same path without .pub"
                    ))
            ]
        }
        guard head.contains("-----BEGIN ") && head.contains("PRIVATE KEY-----") else {
            return [
                ConfigProblem(
                    .error,
                    ConfigError(
                        file: file, key: key,
                        message:
                            "\(path) is not an SSH private key; expected a file starting with \"-----BEGIN OPENSSH PRIVATE KEY-----\""
                    ))
            ]
        }
        return []
    }

    // MARK: Channels

    /// Operators (who may vote) whose channel no tier's `approve_from` lists: they can never approve.
    private static func channelProblems(_ config: SupervisorConfig) -> [ConfigProblem] {
        let accepted = Set(Tier.allCases.flatMap { config.policy.settings(for: $0).approveFrom })
        let list = accepted.sorted().joined(separator: ", ")
        var problems: [ConfigProblem] = []
        for op in config.operators where op.role >= .operator {
            let channels =
                op.keys.map { ($0.channel, "key.channel") } + op.unixUsers.map { ($0.channel, "socket.channel") }
            var reported: Set<String> = []
            for (channel, key) in channels where !accepted.contains(channel) && !reported.contains(channel) {
                reported.insert(channel)
                problems.append(
                    ConfigProblem(
                        .warning,
                        ConfigError(
                            file: op.file, key: key,
                            message:
                                "channel \"\(channel)\" is accepted by no tier's approve_from (\(list)); expected one of those, or this \(op.role.rawValue) can never approve from it"
                        )))
            }
        }
        return problems
    }
}
