import BosunConfig
import BosunCore
import BosunPolicy
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The `bosun` CLI: a thin client. Every command but `check` runs inside bosund, over its control
/// socket, so each surface behaves the same; this program never opens the database or SSHes.
struct CLI {
    var arguments: [String]
    var environment: [String: String]

    func run() -> Int32 {
        var argv = arguments
        var socket = environment["BOSUN_SOCKET"] ?? ControlProtocol.defaultSocket
        while let first = argv.first, first.hasPrefix("--socket") {
            argv.removeFirst()
            if first.hasPrefix("--socket=") {
                socket = String(first.dropFirst("--socket=".count))
            } else if let value = argv.first {
                socket = value
                argv.removeFirst()
            } else {
                return fail("--socket expects a path", status: ExitStatus.usage)
            }
        }
        if argv.first == "check" { return check(Array(argv.dropFirst())) }
        if argv.starts(with: ["policy", "explain"]), let index = argv.firstIndex(where: { $0.hasPrefix("--config") }) {
            return explainOffline(argv, configAt: index)
        }
        if argv.first == "shell" { return shell(Array(argv.dropFirst()), client: ControlClient(path: socket)) }
        if argv.starts(with: ["operators", "authorized-keys"]) {
            return authorizedKeys(Array(argv.dropFirst(2)), socket: socket)
        }
        if argv.isEmpty { argv = ["--help"] }
        return ControlClient(path: socket).run(ControlRequest(argv: argv, width: terminalWidth()))
    }

    /// `bosun shell [--operator NAME --channel C]`: the line shell over the socket. Reads command
    /// lines from stdin (a prompt when it is a terminal) until `exit` or end of input.
    func shell(_ argv: [String], client: ControlClient) -> Int32 {
        var operatorName: String?
        var channel: String?
        var rest = argv[...]
        while let word = rest.popFirst() {
            switch word {
            case "--operator": operatorName = rest.popFirst()
            case "--channel": channel = rest.popFirst()
            default:
                return fail(
                    "shell: unexpected argument '\(word)'; usage: bosun shell [--operator NAME --channel C]",
                    status: ExitStatus.usage)
            }
        }
        let interactive = isatty(STDIN_FILENO) != 0
        var status = ExitStatus.ok
        // OpenSSH forced commands pass a client's one-shot command in SSH_ORIGINAL_COMMAND.
        if let original = environment["SSH_ORIGINAL_COMMAND"], !original.isEmpty {
            return runLine(original, client: client, operator: operatorName, channel: channel) ?? ExitStatus.ok
        }
        while true {
            if interactive {
                FileHandle.standardOutput.write(Data("bosun> ".utf8))
            }
            guard let line = readLine() else { break }
            guard let result = runLine(line, client: client, operator: operatorName, channel: channel) else { break }
            status = result
            if result == ExitStatus.unavailable { return result }
        }
        return status
    }

    /// Runs one shell line; nil means the session should end (`exit`).
    func runLine(_ line: String, client: ControlClient, operator: String?, channel: String?) -> Int32? {
        let words: [String]
        do {
            words = try ShellWords.split(line)
        } catch {
            return fail("\(error)", status: ExitStatus.usage)
        }
        if words.isEmpty { return ExitStatus.ok }
        if words == ["exit"] || words == ["quit"] { return nil }
        return client.run(ControlRequest(argv: words, width: terminalWidth(), operator: `operator`, channel: channel))
    }

    /// `bosun operators authorized-keys [--config DIR] [--bosun PATH]`: authorized_keys lines for
    /// the OpenSSH forced-command front door (an alternative to bosund's own): each operator key may
    /// only run `bosun shell` as that operator on that key's channel.
    func authorizedKeys(_ argv: [String], socket: String) -> Int32 {
        var directory = SupervisorConfig.defaultDirectory
        var bosun = "/usr/local/bin/bosun"
        var rest = argv[...]
        while let word = rest.popFirst() {
            switch word {
            case "--config": directory = rest.popFirst() ?? directory
            case "--bosun": bosun = rest.popFirst() ?? bosun
            default:
                return fail(
                    "operators authorized-keys: unexpected '\(word)'; usage: bosun operators authorized-keys [--config DIR] [--bosun PATH]",
                    status: ExitStatus.usage)
            }
        }
        do {
            let operators = try OperatorConfig.loadAll(
                directory: (directory as NSString).appendingPathComponent("operators"))
            for config in operators {
                for key in config.keys {
                    let command =
                        "\(bosun) --socket \(ShellWords.quote(socket)) shell --operator \(config.name) --channel \(key.channel)"
                    let escaped = command.replacingOccurrences(of: "\"", with: "\\\"")
                    print("command=\"\(escaped)\",restrict \(key.type) \(key.base64) \(config.name)@\(key.channel)")
                }
            }
            return ExitStatus.ok
        } catch {
            return fail("\(error)", status: ExitStatus.failure)
        }
    }

    /// `bosun check --config DIR`: validates configuration offline.
    func check(_ argv: [String]) -> Int32 {
        var directory = SupervisorConfig.defaultDirectory
        var rest = argv[...]
        while let word = rest.popFirst() {
            switch word {
            case "--config":
                guard let value = rest.popFirst() else {
                    return fail("--config expects a directory", status: ExitStatus.usage)
                }
                directory = value
            case let word where word.hasPrefix("--config="):
                directory = String(word.dropFirst("--config=".count))
            case "-h", "--help":
                print(
                    "usage: bosun check [--config DIR]\n\nValidates DIR/bosund.toml, hosts/, policies/ and operators/ without a daemon, and the key files and known_hosts they name. Reports every problem; exit status 78 when any is an error."
                )
                return ExitStatus.ok
            default:
                return fail(
                    "check: unexpected argument '\(word)'; usage: bosun check [--config DIR]", status: ExitStatus.usage)
            }
        }
        let report = SupervisorConfig.check(directory: directory)
        for problem in report.problems {
            FileHandle.standardError.write(Data("bosun: \(problem)\n".utf8))
        }
        if let config = report.config {
            print(
                "\(directory): \(config.hosts.count) host(s): \(config.hosts.map(\.name).joined(separator: ", "))")
            let examples = config.policy.rules.reduce(0) { $0 + $1.examplesMatch.count + $1.examplesNotMatch.count }
            print("\(config.policy.rules.count) policy rule(s), \(examples) example(s) verified")
            print(
                "\(config.operators.count) operator(s), \(config.operators.reduce(0) { $0 + $1.keys.count }) key(s), \(config.operators.reduce(0) { $0 + $1.unixUsers.count }) local account(s)"
            )
        }
        let errors = report.errors.count
        let warnings = report.warnings.count
        guard errors == 0 else {
            print("\(errors) error(s), \(warnings) warning(s): bosund would not run as configured")
            return Self.configurationError
        }
        print(warnings == 0 ? "ok" : "ok with \(warnings) warning(s)")
        return ExitStatus.ok
    }

    /// Exit status for configuration errors, as bosund uses at start (EX_CONFIG).
    static let configurationError: Int32 = 78

    /// `bosun policy explain --config DIR [--tool T] [--] <command…>`: explains against the files in
    /// DIR/policies without a daemon.
    func explainOffline(_ argv: [String], configAt index: Int) -> Int32 {
        var words = Array(argv.dropFirst(2))
        var directory = SupervisorConfig.defaultDirectory
        var tool = "Bash"
        var command: [String] = []
        while !words.isEmpty {
            let word = words.removeFirst()
            switch word {
            case "--config", "--tool":
                guard !words.isEmpty else { return fail("\(word) expects a value", status: ExitStatus.usage) }
                if word == "--config" { directory = words.removeFirst() } else { tool = words.removeFirst() }
            case let word where word.hasPrefix("--config="):
                directory = String(word.dropFirst("--config=".count))
            case "--":
                command = words
                words = []
            default:
                command.append(word)
            }
        }
        guard !command.isEmpty else {
            return fail("usage: bosun policy explain --config DIR [--tool T] -- <command…>", status: ExitStatus.usage)
        }
        do {
            // Examples are checked once per set of policy files (and bosun build), not on every call.
            let policy = try Policy.load(
                directory: (directory as NSString).appendingPathComponent("policies"),
                examples: PolicyExampleCache.defaultCache().map(ExampleChecking.cached) ?? .always)
            let line = ShellWords.commandLine(command)
            print(
                policy.explain(PolicyInput(tool: tool, command: line, paths: [], agent: .generic, labels: [:])),
                terminator: "")
            return ExitStatus.ok
        } catch {
            return fail("\(error)", status: ExitStatus.failure)
        }
    }

    func terminalWidth() -> Int? {
        guard isatty(STDOUT_FILENO) != 0 else { return nil }
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}

func fail(_ message: String, status: Int32) -> Int32 {
    FileHandle.standardError.write(Data("bosun: \(message)\n".utf8))
    return status
}

/// Sends one command to bosund and relays its answer.
struct ControlClient {
    var path: String

    func run(_ request: ControlRequest) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return fail("cannot create a socket: \(errnoText())", status: ExitStatus.unavailable) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else {
            return fail("socket path too long: \(path)", status: ExitStatus.usage)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            return fail(
                "bosund is not running (cannot connect to \(path): \(errnoText())). Start it (systemctl start bosund) or point --socket / BOSUN_SOCKET at it.",
                status: ExitStatus.unavailable)
        }
        guard var request = try? JSONEncoder().encode(request) else {
            return fail("cannot encode the request", status: ExitStatus.failure)
        }
        request.append(0x0A)
        guard writeAll(fd, request) else {
            return fail("bosund closed the connection: \(errnoText())", status: ExitStatus.unavailable)
        }
        var pending = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let decoder = JSONDecoder()
        var rawRemaining = 0
        var finalExit: Int32?
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return fail("bosund closed the connection before answering", status: ExitStatus.unavailable) }
            pending.append(contentsOf: buffer[0..<n])
            while true {
                if rawRemaining > 0 {
                    let chunk = pending.prefix(rawRemaining)
                    FileHandle.standardOutput.write(chunk)
                    rawRemaining -= chunk.count
                    pending = Data(pending.dropFirst(chunk.count))
                    if rawRemaining > 0 { break }
                }
                guard let newline = pending.firstIndex(of: 0x0A) else { break }
                let line = pending[pending.startIndex..<newline]
                pending = Data(pending[pending.index(after: newline)...])
                guard let reply = try? decoder.decode(ControlReply.self, from: line) else {
                    return fail("unreadable answer from bosund", status: ExitStatus.failure)
                }
                if let text = reply.stdout { FileHandle.standardOutput.write(Data(text.utf8)) }
                if let text = reply.stderr { FileHandle.standardError.write(Data(text.utf8)) }
                rawRemaining = reply.stdoutBytes ?? 0
                if let exit = reply.exit, rawRemaining == 0 { return exit }
                if let exit = reply.exit { finalExit = exit }
            }
            if let finalExit, rawRemaining == 0 { return finalExit }
        }
    }

    private func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }

SignalMask.unblockAll()
exit(CLI(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment).run())
