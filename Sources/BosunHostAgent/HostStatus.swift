public import BosunCore
import FoundationEssentials

/// `bosun-host status`: what the spool says about this host's threads.
public enum HostStatus {
    public static func render(_ threads: [AgentThread], json: Bool) -> String {
        if json {
            let encoder = Timestamp.makeEncoder()
            return threads.compactMap { try? encoder.encode($0) }
                .map { String(decoding: $0, as: UTF8.self) + "\n" }.joined()
        }
        var lines = ["ID        AGENT    STATE    PID      CWD"]
        for thread in threads {
            let pid = thread.pid.map(String.init) ?? "-"
            lines.append(
                [
                    PosixSupport.padded(thread.id.rawValue, to: 9),
                    PosixSupport.padded(thread.agent.rawValue, to: 8),
                    PosixSupport.padded(thread.state.rawValue, to: 8),
                    PosixSupport.padded(pid, to: 8),
                    thread.cwd,
                ].joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
