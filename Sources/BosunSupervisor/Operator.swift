public import BosunConfig
public import BosunCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why a control-socket caller may not act as the operator it asked to be.
public struct SocketIdentityRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Who a control-socket caller is, from its kernel-checked uid (SO_PEERCRED) and `operators/`.
///
/// - A local account mapped by a `[[socket]]` entry is that operator, with that entry's channel.
/// - Root and bosund's own account, unmapped, are admins named after the account (they can read the
///   store anyway).
/// - Any other account is a viewer named `unix:ACCOUNT`: reaching the socket grants no vote.
/// - Asserting an operator (`--operator NAME`, the OpenSSH forced-command front door) is honoured only
///   for root, bosund's own account and `socket_trusted_users`.
public enum SocketIdentity {
    public static func actor(
        uid: UInt32, asserting operatorName: String?, channel requestedChannel: String?,
        operators: [OperatorConfig], trustedUsers: [String], daemonUID: UInt32
    ) -> Result<Operator, SocketIdentityRefusal> {
        let account = accountName(uid: uid)
        let source = "socket uid \(uid)" + (account.map { " (\($0))" } ?? "")
        let privileged = uid == 0 || uid == daemonUID
        if let name = operatorName {
            guard privileged || account.map(trustedUsers.contains) == true else {
                return .failure(
                    SocketIdentityRefusal(
                        "only root, bosund's own account or socket_trusted_users may act as operator \(name)"))
            }
            guard let config = operators.first(where: { $0.name == name }) else {
                return .failure(SocketIdentityRefusal("no operator named \(name) in operators/"))
            }
            let channel = requestedChannel ?? config.keys.first?.channel ?? config.unixUsers.first?.channel ?? "cli"
            let key = config.keys.first(where: { $0.channel == channel })
            guard key != nil || config.unixUsers.contains(where: { $0.channel == channel }) else {
                return .failure(SocketIdentityRefusal("operator \(name) has no key on channel \(channel)"))
            }
            return .success(
                Operator(
                    name: name, role: config.role, channel: channel, keyFingerprint: key?.fingerprint, source: source))
        }
        if let account {
            for config in operators {
                if let mapping = config.unixUsers.first(where: { $0.user == account }) {
                    return .success(
                        Operator(name: config.name, role: config.role, channel: mapping.channel, source: source))
                }
            }
        }
        let name = account ?? "uid:\(uid)"
        if privileged { return .success(Operator(name: name, role: .admin, channel: "cli", source: source)) }
        return .success(Operator(name: "unix:\(name)", role: .viewer, channel: "cli", source: source))
    }

    /// The local account name of `uid`; nil when it has none (or the caller's uid was not readable).
    public static func accountName(uid: UInt32) -> String? {
        guard uid != UInt32.max else { return nil }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name
        else { return nil }
        return String(cString: name)
    }
}
