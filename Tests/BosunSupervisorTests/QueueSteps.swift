import BosunCore

@testable import BosunSupervisor

extension LinkEventQueue {
    /// Everything the queue hands over until it is finished and drained, one line per step:
    /// `acks h:seq,…`, `HOST TEXT` (a protocol error), `requests h:id,…`, `up h:state|hello,…`,
    /// `threads h:id,…` (the queue tests compare these).
    func drainedSteps() async -> [String] {
        var steps: [String] = []
        while let item = await next() {
            switch item {
            case .acks(let acks): steps.append("acks " + acks.map { "\($0.host):\($0.seq)" }.joined(separator: ","))
            case .event(let host, let event):
                if case .protocolError(let text) = event { steps.append("\(host) \(text)") }
            case .requests(let requests):
                steps.append("requests " + requests.map { "\($0.host):\($0.request.id)" }.joined(separator: ","))
            case .bringUp(let events):
                steps.append(
                    "up "
                        + events.map { host, event in
                            if case .state(let state) = event {
                                "\(host):\(Fleet.describe(state).0.rawValue)"
                            } else {
                                "\(host):hello"
                            }
                        }.joined(separator: ","))
            case .threads(let events):
                steps.append(
                    "threads "
                        + events.map { host, event in
                            if case .message(let envelope, _) = event, case .thread(let thread) = envelope.message {
                                "\(host):\(thread.id)"
                            } else {
                                "\(host):?"
                            }
                        }.joined(separator: ","))
            }
        }
        return steps
    }
}
