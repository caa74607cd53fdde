import BosunConfig
import BosunCore
import BosunSSH
import BosunShell
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
    private let notifier: Notifier
    private let server: ControlServer
    private let frontDoor: FrontDoorServer?
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
        let notifier = Notifier(config: config, store: store, logger: logger)
        let fleet = Fleet(config: config, store: store, logger: logger, notifier: notifier)
        let shell = Shell()
        if let door = config.frontDoor {
            do {
                frontDoor = try FrontDoorServer(
                    settings: FrontDoorSettings(
                        listenAddress: door.address, port: door.port, hostKeyPath: door.hostKey,
                        idleTimeout: door.idleTimeout, maxAuthFailuresPerMinute: door.maxAuthFailuresPerMinute,
                        loginGraceTime: door.loginGraceTime, maxConnections: door.maxConnections,
                        maxUnauthenticated: door.maxUnauthenticated,
                        maxConnectionsPerAddress: door.maxConnectionsPerAddress),
                    delegate: FrontDoorService(fleet: fleet, operators: config.operators), logger: logger)
            } catch {
                throw DaemonError(description: "front door: \(error)", exitStatus: 1)
            }
        } else {
            frontDoor = nil
        }
        self.config = config
        self.fleet = fleet
        self.notifier = notifier
        self.logger = logger
        let daemonUID = getuid()
        self.server = ControlServer(path: config.socket, group: config.socketGroup, logger: logger) {
            request, peer, output in
            let actor: Actor
            switch SocketIdentity.actor(
                uid: peer.uid, asserting: request.operator, channel: request.channel, operators: config.operators,
                trustedUsers: config.socketTrustedUsers, daemonUID: daemonUID)
            {
            case .success(let found): actor = found
            case .failure(let refusal):
                output.emit(ControlReply(stderr: "bosun: \(refusal)\n", exit: ExitStatus.forbidden))
                return
            }
            await shell.stream(
                request.argv, in: ShellContext(fleet: fleet, width: request.width, actor: actor, output: output))
        }
    }

    public func start() async throws(DaemonError) {
        notifier.start()
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
        await fleet.startLinks()
        if let frontDoor {
            do {
                try frontDoor.start()
                logger.info(
                    "front door listening",
                    metadata: [
                        "address": "\(frontDoor.settings.listenAddress):\(frontDoor.boundPort)",
                        "host.key": "\(frontDoor.hostKey.fingerprint)",
                    ])
            } catch {
                server.stop()
                await fleet.stop()
                throw DaemonError(description: "front door: \(error)", exitStatus: 1)
            }
        }
        logger.info(
            "bosund ready",
            metadata: [
                "hosts": "\(config.hosts.count)", "socket": "\(config.socket)", "state_dir": "\(config.stateDir)",
            ])
    }

    /// Stops accepting commands, closes every link and flushes what they reported.
    public func stop() async {
        if let frontDoor {
            // stop() blocks while sessions wind down: keep it off the concurrency pool.
            await offThePool { frontDoor.stop() }
        }
        server.stop()
        await fleet.stop()
        await notifier.stop()
        logger.info("bosund stopped")
    }
}
