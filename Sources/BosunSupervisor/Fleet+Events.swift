public import BosunCore
public import Foundation

/// Something an operator watching the fleet should see.
public struct FleetEvent: Sendable, Equatable {
    public var at: Date
    public var host: HostName
    /// `host`, `thread`, `request`, `decision`, `steer`, `pause`, `resume`.
    public var kind: String
    /// One line, may contain text from hosts (escape before printing).
    public var text: String
}

extension Fleet {
    /// A live feed of fleet events until `unsubscribe`.
    public func subscribe() -> (UUID, AsyncStream<FleetEvent>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(
            of: FleetEvent.self, bufferingPolicy: .bufferingNewest(1000))
        subscribers[id] = continuation
        return (id, stream)
    }

    public func unsubscribe(_ id: UUID) {
        subscribers.removeValue(forKey: id)?.finish()
    }

    func publish(_ host: HostName, _ kind: String, _ text: @autoclosure () -> String) {
        guard !subscribers.isEmpty else { return }
        let event = FleetEvent(at: Date(), host: host, kind: kind, text: text())
        for continuation in subscribers.values { continuation.yield(event) }
    }
}
