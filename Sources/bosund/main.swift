import ArgumentParser
import BosunCore
import BosunDaemon
import Foundation
import Logging

/// The supervisor daemon: reads its configuration and runs until SIGTERM or SIGINT (see `Daemon.run`).
@main
struct Bosund: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bosund", abstract: "Bosun's supervisor daemon: links to every host, one policy, one queue.")

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
