import BosunCore
import Foundation

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
                    thread.id.padding(toLength: 9, withPad: " ", startingAt: 0),
                    thread.agent.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0),
                    thread.state.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0),
                    pid.padding(toLength: 8, withPad: " ", startingAt: 0),
                    thread.cwd,
                ].joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
