package import BosunCore

extension Fleet {
    /// Hands `host`'s message to the fleet exactly as its link does once it has read and decoded
    /// it (the request path without SSH), for `DecisionBenchmark`. Not reachable from outside the
    /// process: no host, operator or socket can call it.
    package nonisolated func benchmarkInject(host: HostName, _ envelope: Envelope<HostMessage>) {
        linkEvents.push(host, .message(envelope, hostKey: ""))
    }
}
