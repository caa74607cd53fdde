import BosunCore
import FoundationEssentials

/// Evidence derived from a shell command, in short human strings (deduplicated, in reading order).
public struct CommandFacts: Sendable, Equatable {
    /// Writes, deletes, installs, history changes, process and service control: `rm -rf build`, `writes out.txt`.
    public var sideEffects: [String]
    /// Network tools and their destinations: `curl example.com`, `git push origin`, `pip install requests`.
    public var network: [String]
    /// Credential files, secret variables and credential commands: `~/.ssh/id_rsa`, `$GITHUB_TOKEN`, `printenv`.
    public var credentials: [String]

    public init(sideEffects: [String] = [], network: [String] = [], credentials: [String] = []) {
        self.sideEffects = sideEffects
        self.network = network
        self.credentials = credentials
    }
}

/// Derives `CommandFacts` from a command line through `ShellParser`, for the evidence a person sees.
public enum CommandAnalysis {
    public static func analyze(_ command: String) -> CommandFacts {
        var facts = Collector()
        let script = ShellParser.script(command)
        // The same parts policy evaluation sees: `git -C d push` is `git push`, `gh -R o/r pr merge` is `gh pr merge`.
        for part in script.commands.flatMap(ProgramParts.expand) {
            analyze(part, into: &facts)
        }
        for variable in secretVariables(in: command) { facts.credential(variable) }
        return facts.result
    }

    private struct Collector {
        var result = CommandFacts()
        private var seen: [Set<String>] = [[], [], []]

        mutating func sideEffect(_ text: String) {
            if seen[0].insert(text).inserted { result.sideEffects.append(text) }
        }

        mutating func network(_ text: String) {
            if seen[1].insert(text).inserted { result.network.append(text) }
        }

        mutating func credential(_ text: String) {
            if seen[2].insert(text).inserted { result.credentials.append(text) }
        }
    }

    // MARK: - One simple command

    private static func analyze(_ command: ShellCommand, into facts: inout Collector) {
        for target in command.writes { facts.sideEffect("writes \(target)") }
        let paths =
            command.reads + command.mentions.flatMap(Policy.pathWords)
            + command.argv.dropFirst().flatMap(Policy.pathWords)
        for path in paths where isCredentialPath(path) {
            facts.credential(path)
        }
        let argv = command.argv
        guard let name = argv.first else { return }
        let operands = argv.dropFirst().filter { !$0.hasPrefix("-") }
        let sub = operands.first ?? ""
        let summary = summarize(argv)

        switch name {
        case "rm", "rmdir", "unlink", "shred", "mv", "cp", "ln", "mkdir", "touch", "truncate", "dd", "tee", "install",
            "chmod", "chown", "chgrp", "patch", "rsync", "scp":
            facts.sideEffect(summary)
        case "sed", "perl":
            if argv.contains(where: { $0.hasPrefix("-i") || $0.hasPrefix("--in-place") || $0 == "-pi" }) {
                facts.sideEffect(summary)
            }
        case "kill", "pkill", "killall", "systemctl", "service", "launchctl", "reboot", "shutdown", "halt", "crontab",
            "mount", "umount", "useradd", "userdel", "usermod", "passwd":
            facts.sideEffect(summary)
        case "sudo", "doas":
            facts.sideEffect(summary)
        default:
            break
        }

        switch name {
        case "curl", "wget", "http", "https", "xh", "httpie":
            facts.network(hostSummary(name, operands: urlOperands(argv)))
        case "ssh", "mosh":
            let target = sshTarget(argv)
            facts.network(target.map { "\(name) \($0)" } ?? name)
            if let target, target.lowercased().contains("prod") { facts.sideEffect("\(name) \(target)") }
        case "scp", "rsync", "sftp":
            let remotes = operands.compactMap(remoteHost)
            facts.network(remotes.isEmpty ? name : "\(name) \(remotes.joined(separator: " "))")
        case "nc", "ncat", "netcat", "telnet", "socat", "ftp", "ping", "dig", "nslookup", "host", "nmap":
            facts.network(operands.isEmpty ? name : "\(name) \(operands.prefix(2).joined(separator: " "))")
        case "git":
            analyzeGit(argv, into: &facts)
        case "gh":
            facts.network(summarize(argv, words: 3))
            if sub == "auth" { facts.credential(summarize(argv, words: 3)) }
            if ["merge", "create", "close", "delete", "edit", "comment", "review"].contains(
                operands.dropFirst().first ?? "")
                || sub == "release" || sub == "workflow"
            {
                facts.sideEffect(summarize(argv, words: 3))
            }
        case "docker", "podman":
            switch sub {
            case "pull", "push", "login", "search":
                facts.network(summarize(argv, words: 3))
                if sub == "push" || sub == "login" { facts.sideEffect(summarize(argv, words: 3)) }
                if sub == "login" { facts.credential(summarize(argv, words: 2)) }
            case "run", "exec", "rm", "rmi", "kill", "stop", "start", "restart", "build", "compose", "volume",
                "network", "system", "tag":
                facts.sideEffect(summarize(argv, words: 3))
            default: break
            }
        case "kubectl", "helm", "terraform", "tofu", "pulumi", "aws", "gcloud", "az", "vault", "ansible-playbook",
            "fly", "flyctl", "vercel", "heroku":
            facts.network(summarize(argv, words: 3))
            if !isReadOnlyInfra(argv) { facts.sideEffect(summarize(argv, words: 3)) }
            if name == "vault" || (name == "kubectl" && operands.contains(where: { $0.hasPrefix("secret") })) {
                facts.credential(summarize(argv, words: 3))
            }
        case "printenv", "env", "security", "pass", "op", "ssh-add", "keyring":
            facts.credential(summarize(argv, words: 2))
        case "export", "set", "declare":
            if argv.count == 1 || argv == [name, "-p"] || argv == [name, "-x"] { facts.credential(summary) }
        default:
            break
        }

        if let install = installSummary(argv) {
            facts.network(install)
            facts.sideEffect(install)
        }
        if ["npm", "yarn", "pnpm", "cargo", "twine", "gem", "poetry", "uv"].contains(name),
            sub == "publish" || sub == "upload"
                || (name == "gem" && sub == "push")
        {
            facts.network(summary)
            facts.sideEffect(summary)
        }
    }

    private static func analyzeGit(_ argv: [String], into facts: inout Collector) {
        // Skip git's global options: -C dir, -c key=value, --no-pager, --git-dir=…
        var i = 1
        while i < argv.count, argv[i].hasPrefix("-") {
            i += argv[i] == "-C" || argv[i] == "-c" ? 2 : 1
        }
        guard i < argv.count else { return }
        let sub = argv[i]
        let rest = Array(argv[(i + 1)...])
        let short = (["git", sub] + rest.filter { !$0.hasPrefix("-") }.prefix(2)).joined(separator: " ")
        switch sub {
        case "push", "fetch", "pull", "ls-remote":
            facts.network(short)
        case "clone":
            let host = rest.first(where: { !$0.hasPrefix("-") }).flatMap(remoteHost)
            facts.network(host.map { "git clone \($0)" } ?? "git clone")
        case "submodule" where rest.contains("update"):
            facts.network("git submodule update")
        case "remote" where rest.first == "update":
            facts.network("git remote update")
        default:
            break
        }
        switch sub {
        case "push":
            facts.sideEffect(summarize(argv))
        case "commit", "merge", "rebase", "cherry-pick", "revert", "am", "apply", "tag", "stash", "add", "rm", "mv",
            "restore", "switch", "pull", "clean", "init", "worktree":
            facts.sideEffect(summarize(argv))
        case "reset" where rest.contains("--hard"):
            facts.sideEffect(summarize(argv))
        case "reset":
            facts.sideEffect(summarize(argv))
        case "checkout" where !rest.isEmpty:
            facts.sideEffect(summarize(argv))
        case "branch" where rest.contains(where: { ["-d", "-D", "--delete", "-m", "-M", "--move", "-f"].contains($0) }):
            facts.sideEffect(summarize(argv))
        case "config" where rest.contains(where: { !$0.hasPrefix("-") }) && rest.count >= 2 && !rest.contains("--get"):
            facts.sideEffect(summarize(argv))
        default:
            break
        }
    }

    // MARK: - Helpers

    /// `pip install x`, `npm install`, `apt-get install y`, …: the install, summarised; nil otherwise.
    static func installSummary(_ argv: [String]) -> String? {
        guard let name = argv.first else { return nil }
        let operands = argv.dropFirst().filter { !$0.hasPrefix("-") }
        let sub = operands.first ?? ""
        let installs: Bool
        switch name {
        case "pip", "pip3", "pipx", "gem", "brew", "apt", "apt-get", "dnf", "yum", "apk", "snap", "conda", "mamba",
            "port", "zypper", "pacman":
            installs =
                ["install", "add", "upgrade", "update", "reinstall", "-S", "-Syu"].contains(sub)
                || argv.contains("-S")
        case "npm", "pnpm", "bun":
            installs = ["install", "i", "add", "ci", "update", "upgrade"].contains(sub)
        case "yarn":
            installs = operands.isEmpty || ["install", "add", "upgrade"].contains(sub)
        case "cargo":
            installs = ["install", "add", "fetch", "update"].contains(sub)
        case "go":
            installs = ["get", "install"].contains(sub) || (sub == "mod" && operands.dropFirst().first == "download")
        case "uv":
            installs = ["add", "sync", "pip", "tool"].contains(sub)
        case "poetry", "composer", "bundle", "bundler":
            installs = ["install", "add", "require", "update"].contains(sub)
        case "npx", "bunx", "pnpx", "uvx":
            installs = true
        case "python", "python3":
            installs = argv.count > 3 && argv[1] == "-m" && argv[2].hasPrefix("pip") && argv[3] == "install"
        default:
            installs = false
        }
        return installs ? summarize(argv) : nil
    }

    static func isReadOnlyInfra(_ argv: [String]) -> Bool {
        let readVerbs: Set<String> = [
            "get", "describe", "logs", "top", "explain", "version", "list", "ls", "show", "status", "plan", "init",
            "validate", "fmt", "output", "history", "search", "template", "lint", "whoami", "view",
        ]
        return argv.dropFirst().contains { word in
            readVerbs.contains(word) || word.hasPrefix("describe-") || word.hasPrefix("list-") || word.hasPrefix("get-")
        }
    }

    /// The first words of a command, shortened for display.
    static func summarize(_ argv: [String], words: Int = 4) -> String {
        var text = argv.prefix(words).joined(separator: " ")
        if argv.count > words { text += " …" }
        if text.count > 80 { text = String(text.prefix(79)) + "…" }
        return text.replacingScalar("\n", with: " ")
    }

    /// Options of curl/wget that take a value, so their value is not mistaken for a URL.
    private static let valueOptions: Set<String> = [
        "-o", "-H", "-d", "-X", "-u", "-A", "-e", "-b", "-c", "-T", "-F", "-w", "-x", "-m", "-O", "-P", "-U",
        "--output", "--header", "--data", "--data-raw", "--data-binary", "--data-urlencode", "--request", "--user",
        "--user-agent", "--referer", "--cookie", "--cookie-jar", "--form", "--upload-file", "--write-out", "--proxy",
        "--max-time", "--connect-timeout", "--retry", "--output-document", "--directory-prefix",
    ]

    private static func urlOperands(_ argv: [String]) -> [String] {
        var operands: [String] = []
        var i = 1
        while i < argv.count {
            let word = argv[i]
            if valueOptions.contains(word) {
                i += 2
                continue
            }
            if !word.hasPrefix("-") { operands.append(word) }
            i += 1
        }
        return operands
    }

    private static func hostSummary(_ name: String, operands: [String]) -> String {
        let hosts = operands.compactMap(urlHost)
        var unique: [String] = []
        for host in hosts where !unique.contains(host) { unique.append(host) }
        return unique.isEmpty ? name : "\(name) \(unique.joined(separator: " "))"
    }

    /// The host of a URL or host-like operand (`https://user@example.com:8443/x` → `example.com`).
    static func urlHost(_ text: String) -> String? {
        var rest = Substring(text)
        if let scheme = rest.firstRange(of: "://") {
            rest = rest[scheme.upperBound...]
        } else if !rest.contains(".") && !rest.hasPrefix("localhost") {
            return nil
        }
        if let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if !rest.hasPrefix("["), let colon = rest.lastIndex(of: ":") { rest = rest[..<colon] }
        return rest.isEmpty ? nil : String(rest)
    }

    /// `host:path` or `user@host:path` (scp/rsync) → `host`.
    private static func remoteHost(_ text: String) -> String? {
        if text.contains("://") { return urlHost(text) }
        guard let colon = text.firstIndex(of: ":"), !text.hasPrefix("/"), !text.hasPrefix(".") else { return nil }
        var host = text[..<colon]
        if let at = host.lastIndex(of: "@") { host = host[host.index(after: at)...] }
        return host.isEmpty ? nil : String(host)
    }

    private static func sshTarget(_ argv: [String]) -> String? {
        let withValue: Set<Character> = [
            "p", "i", "l", "o", "F", "J", "L", "R", "D", "W", "b", "c", "E", "e", "m", "O",
            "Q", "S", "w", "B", "I",
        ]
        var i = 1
        while i < argv.count {
            let word = argv[i]
            if word.hasPrefix("-") && word.count > 1 {
                if let last = word.last, word.count == 2, withValue.contains(last) { i += 2 } else { i += 1 }
                continue
            }
            var host = Substring(word)
            if let at = host.lastIndex(of: "@") { host = host[host.index(after: at)...] }
            return String(host)
        }
        return nil
    }

    /// Credential files: keys, `.env`, cloud and tool credentials.
    static func isCredentialPath(_ path: String) -> Bool {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        if name == ".env" || (name.hasPrefix(".env.") && !exampleEnvSuffixes.contains(String(name.dropFirst(5)))) {
            return true
        }
        if name.hasSuffix(".pem") || name.hasSuffix(".p12") || name.hasSuffix(".pfx") || name.hasSuffix(".key") {
            return true
        }
        if ["id_rsa", "id_ed25519", "id_ecdsa", "id_dsa"].contains(where: { name.hasPrefix($0) })
            && !name.hasSuffix(".pub")
        {
            return true
        }
        if [".netrc", ".git-credentials", ".pypirc", ".npmrc", ".vault-token", "credentials.json"].contains(name) {
            return true
        }
        let components = path.split(separator: "/")
        if components.contains(".ssh") || components.contains(".aws") || components.contains(".gnupg") { return true }
        if path.hasSuffix(".kube/config") || path.hasSuffix(".docker/config.json") || path.hasSuffix("gh/hosts.yml") {
            return true
        }
        return false
    }

    private static let exampleEnvSuffixes: Set<String> = ["example", "sample", "template", "dist", "defaults"]

    /// `$NAME` / `${NAME…}` references whose name says secret (TOKEN, SECRET, PASSWORD, KEY, …).
    static func secretVariables(in command: String) -> [String] {
        let bytes = Array(command.utf8)
        var found: [String] = []
        var i = 0
        while i < bytes.count {
            guard bytes[i] == .dollar, i + 1 < bytes.count else {
                i += 1
                continue
            }
            var start = i + 1
            if bytes[start] == .openBrace { start += 1 }
            var end = start
            while end < bytes.count && ShellReader.isNameChar(bytes[end]) { end += 1 }
            if end > start, ShellReader.isNameStart(bytes[start]) {
                let name = String(decoding: bytes[start..<end], as: UTF8.self)
                let upper = name.uppercased()
                if secretMarkers.contains(where: { upper.contains($0) }) && !found.contains("$" + name) {
                    found.append("$" + name)
                }
            }
            i = max(end, i + 1)
        }
        return found
    }

    private static let secretMarkers = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL"]
}
