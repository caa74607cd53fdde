import ArgumentParser
import BosunCore
import BosunDaemon
import Foundation
import Logging

/// The supervisor daemon: reads its configuration and runs until SIGTERM or SIGINT (see `Daemon.run`).
@main
struct Bosund: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bosund", abstract: "Bosun's supervisor daemon: links to every host, one policy, one queue.",
        version: BosunVersion.current)

    @Option(help: "Configuration directory holding bosund.toml and hosts/.")
    var config = "/etc/bosun"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        SignalMask.unblockAll()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        do {
            try await Daemon(configDirectory: config, logger: Logger(label: "bosund")).run()
        } catch {
            FileHandle.standardError.write(Data("bosund: \(error.description)\n".utf8))
            throw ExitCode(error.exitStatus)
        }
    }
}

extension Bosund {
    /// argument-parser's entry point, except that a usage error exits 2 as in `bosun` and
    /// `bosun-host` (argument-parser's own default is 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if let daemon = command as? Bosund {
                try await daemon.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }
}
