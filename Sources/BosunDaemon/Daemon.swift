public import BosunConfig
import BosunCore
import BosunSSH
import BosunShell
import BosunStore
import BosunSupervisor
import Foundation
public import Logging
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// A start-up failure of the daemon, already phrased for the operator.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// Exit status: 78 (EX_CONFIG) for configuration, 1 otherwise.
    public let exitStatus: Int32
}

/// `bosund` wired together: store, fleet of host links, the control socket and the front door
/// running the shell, the notifier and the audit checkpoints (see `run`).
public final class Daemon: Sendable {
    public let config: SupervisorConfig
    private let fleet: Fleet
    private let notifier: Notifier
    private let server: ControlServer
    private let frontDoor: FrontDoorServer?
    private let logger: Logger

    /// Reads the configuration, opens the store and prepares every part; nothing runs until `run()`.
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
            let actor: Operator
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

    /// Runs every long-running part as a `Service` in one `ServiceGroup` until SIGTERM or SIGINT,
    /// then stops them gracefully, in the reverse of their start order:
    ///
    /// audit checkpoints → notifier → fleet (store state, event processing, expiry) → host links →
    /// control socket → front door.
    ///
    /// So the front door and the control socket stop taking commands first; then the links close
    /// and the fleet finishes storing what they reported (each decision was stored, in the outbox,
    /// before it was sent: nothing is lost, and a host applies a resent decision once by id); then
    /// the notifier stops, and the last checkpoint covers the whole audit chain. A part that fails
    /// to start stops the group (the parts started so far stop) and is thrown (exit status 1).
    public func run() async throws(DaemonError) {
        let fleet = fleet
        let server = server
        let notifier = notifier
        let logger = logger
        let config = config
        let checkpoints = DaemonPart(
            "audit checkpoints", logger: logger, start: {},
            running: {
                // `checkpoint_interval` is checked to 1...86400 s when the configuration is read.
                let interval = Duration.milliseconds(min(max(config.audit.checkpointInterval, 1), 86400) * 1000)
                while !Task.isShuttingDownGracefully, !Task.isCancelled {
                    // A real timer: a checkpoint every interval while the chain grows.
                    guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: interval) })) != nil
                    else { break }
                    await fleet.checkpointAudit()
                }
            },
            stop: { await fleet.checkpointAudit() })
        let notifications = DaemonPart(
            "notifier", logger: logger, after: checkpoints.started, start: { notifier.start() },
            stop: { await notifier.stop() })
        let fleetPart = DaemonPart(
            "fleet", logger: logger, after: notifications.started,
            start: { () async throws(DaemonError) in
                do {
                    try await fleet.start()
                } catch {
                    throw DaemonError(description: "\(error)", exitStatus: 1)
                }
            },
            stop: { await fleet.stop() })
        // The links open once the control socket answers, so operators can watch a large fleet come up.
        let control = DaemonPart(
            "control socket", logger: logger, after: fleetPart.started,
            start: { () throws(DaemonError) in
                do {
                    try server.start()
                } catch {
                    throw DaemonError(description: "\(error)", exitStatus: 1)
                }
            },
            // Each command runs as a child task of `server.run()`; at shutdown the ones still
            // running (a `watch`) are cancelled and end with their exit status.
            running: {
                await withGracefulShutdownHandler {
                    await server.run()
                } onGracefulShutdown: {
                    server.finishRequests()
                }
            },
            stop: { await offThePool { server.stop() } })
        let links = DaemonPart(
            "host links", logger: logger, after: control.started, start: { await fleet.startLinks() },
            stop: { await fleet.stopLinks() })
        var parts = [checkpoints, notifications, fleetPart, links, control]
        var last = links.started
        if let frontDoor {
            let door = DaemonPart(
                "front door", logger: logger, after: last,
                start: { () throws(DaemonError) in
                    do {
                        try frontDoor.start()
                    } catch {
                        throw DaemonError(description: "front door: \(error)", exitStatus: 1)
                    }
                    logger.info(
                        "front door listening",
                        metadata: [
                            "address": "\(frontDoor.settings.listenAddress):\(frontDoor.boundPort)",
                            "host.key": "\(frontDoor.hostKey.fingerprint)",
                        ])
                },
                // stop() blocks while sessions wind down: keep it off the concurrency pool.
                stop: { await offThePool { frontDoor.stop() } })
            parts.append(door)
            last = door.started
        }
        parts.append(
            DaemonPart(
                "ready", logger: logger, after: last,
                start: {
                    logger.info(
                        "bosund ready",
                        metadata: [
                            "hosts": "\(config.hosts.count)", "socket": "\(config.socket)",
                            "state_dir": "\(config.stateDir)",
                        ])
                },
                // The first part to stop: SIGTERM/SIGINT (or a part that failed) was seen.
                stop: { logger.info("bosund stopping") }))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: parts, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError(description: "\(error)", exitStatus: 1)
        }
        logger.info("bosund stopped")
    }
}
