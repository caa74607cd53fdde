import BosunConfig
import BosunCore
import BosunStore
import BosunSupervisor
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A start-up failure of the daemon, already phrased for the operator.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// Exit status: 78 (EX_CONFIG) for configuration, 1 otherwise.
    public let exitStatus: Int32
}

/// `bosund` wired together: store, fleet of host links, and the control socket running the shell.
public final class Daemon: Sendable {
    public let config: SupervisorConfig
    private let fleet: Fleet
    private let server: ControlServer
    private let logger: Logger

    /// Opens the store and prepares every part; nothing runs until `start()`.
    public init(configDirectory: String, logger: Logger) throws(DaemonError) {
        let config: SupervisorConfig
        do {
            config = try SupervisorConfig.load(directory: configDirectory)
        } catch {
            throw DaemonError(description: "configuration error: \(error)", exitStatus: 78)
        }
        do {
            try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true)
        } catch {
            throw DaemonError(description: "cannot create state_dir \(config.stateDir): \(error)", exitStatus: 1)
        }
        let store: Store
        do {
            store = try Store(path: config.databasePath)
        } catch {
            throw DaemonError(description: "\(error)", exitStatus: 1)
        }
        let fleet = Fleet(config: config, store: store, logger: logger)
        let shell = Shell()
        self.config = config
        self.fleet = fleet
        self.logger = logger
        self.server = ControlServer(path: config.socket, logger: logger) { request, peer in
            let actor = Actor(name: Self.userName(uid: peer.uid), channel: "cli")
            let result = await shell.execute(
                request.argv, in: ShellContext(fleet: fleet, width: request.width, actor: actor))
            var replies: [ControlReply] = []
            if !result.stdout.isEmpty { replies.append(ControlReply(stdout: result.stdout)) }
            if !result.stderr.isEmpty { replies.append(ControlReply(stderr: result.stderr)) }
            replies.append(ControlReply(exit: result.exit))
            return replies
        }
    }

    /// The local account name for a socket peer (the operator on the `cli` channel).
    static func userName(uid: UInt32) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid:\(uid)" }
        return String(cString: name)
    }

    public func start() async throws(DaemonError) {
        do {
            try await fleet.start()
        } catch {
            throw DaemonError(description: "\(error)", exitStatus: 1)
        }
        do {
            try server.start()
        } catch {
            await fleet.stop()
            throw DaemonError(description: "\(error)", exitStatus: 1)
        }
        logger.info(
            "bosund ready",
            metadata: [
                "hosts": "\(config.hosts.count)", "socket": "\(config.socket)", "state_dir": "\(config.stateDir)",
            ])
    }

    /// Stops accepting commands, closes every link and flushes what they reported.
    public func stop() async {
        server.stop()
        await fleet.stop()
        logger.info("bosund stopped")
    }
}
