import ArgumentParser
import BosunCore
import BosunDaemon
import Dispatch
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The supervisor daemon.
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
        let logger = Logger(label: "bosund")
        let daemon: Daemon
        do {
            daemon = try Daemon(configDirectory: config, logger: logger)
            try await daemon.start()
        } catch {
            FileHandle.standardError.write(Data("bosund: \(error.description)\n".utf8))
            throw ExitCode(error.exitStatus)
        }
        let received = await Self.waitForSignal([SIGTERM, SIGINT])
        logger.info("signal received, stopping", metadata: ["signal": "\(received)"])
        await daemon.stop()
    }

    /// Suspends until one of `signals` arrives.
    static func waitForSignal(_ signals: [Int32]) async -> Int32 {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "bosund.signals")
            let once = Once()
            var sources: [any DispatchSourceSignal] = []
            for number in signals {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    if once.claim() { continuation.resume(returning: number) }
                }
                source.resume()
                sources.append(source)
            }
            Retained.sources = sources
        }
    }

    private final class Once: @unchecked Sendable {
        private var done = false
        private let lock = NSLock()
        func claim() -> Bool {
            lock.withLock {
                defer { done = true }
                return !done
            }
        }
    }

    private enum Retained {
        nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []
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
