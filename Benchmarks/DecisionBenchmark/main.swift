// How many durable decisions bosund makes per second: requests injected straight into the fleet's
// request path (what a link hands over once it has read a host's message: the event queue, policy,
// the store's transaction with synchronous=FULL, delivery and the host's ack) from many hosts at
// once, as fast as they can be queued. Measures the whole path bar SSH and the hosts.
//
//   swift build -c release --product DecisionBenchmark
//   .build/release/DecisionBenchmark [requests] [hosts] [policies-dir]
//
// Prints one line: decisions/s, and bosund's CPU per decision (user + system of the whole
// process over the run, the injection included; the requests are built before the clock starts).
// `Benchmarks/decision_bench.py` runs it side by side with another build (main's).
import BosunConfig
import BosunCore
import BosunPolicy
import BosunStore
import BosunSupervisor
import Foundation
import Logging

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) ?? 20_000 : 20_000
let hostCount = arguments.count > 2 ? Int(arguments[2]) ?? 50 : 50
let policies = arguments.count > 3 ? arguments[3] : "policies"
guard count > 0, hostCount > 0 else {
    FileHandle.standardError.write(Data("usage: DecisionBenchmark [requests > 0] [hosts > 0] [policies-dir]\n".utf8))
    exit(2)
}

/// CPU time of the whole process (every thread), user and system.
func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

let policy: Policy
do {
    policy = try Policy.load(directory: policies)
} catch {
    FileHandle.standardError.write(Data("DecisionBenchmark: \(error)\n".utf8))
    exit(1)
}
// Actions every agent makes all day; only those the policy decides at once (allow or deny) are
// used, so every request is a decision.
let candidates = [
    "git status", "git diff", "git log --oneline -20", "ls -la", "cat README.md", "rg -n TODO Sources",
    "swift build", "swift test --filter Store", "make test", "git diff --stat HEAD~1", "sed -n 1,80p Package.swift",
    "grep -rn fatalError Sources", "find . -name '*.swift'", "head -50 CHANGELOG.md", "wc -l Sources/*.swift",
]
let commands = candidates.filter { command in
    policy.evaluate(PolicyInput(example: command, cwd: "/home/dev/project")).verdict != .ask
}
guard !commands.isEmpty else {
    FileHandle.standardError.write(Data("DecisionBenchmark: the policy asks for every benchmark action\n".utf8))
    exit(1)
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("decision-bench-\(UUID().uuidString)")
    .path
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
let hosts = (0..<hostCount).map { "h\($0)" }
let config = SupervisorConfig(
    directory: directory, stateDir: directory, socket: directory + "/bosund.sock", identity: "/nonexistent",
    knownHosts: "/nonexistent",
    hosts: hosts.map { HostConfig(name: $0, address: "127.0.0.1", port: 1, user: "bosun", labels: ["env": "bench"]) },
    policy: policy)
let store = try Store(path: config.databasePath)
var logger = Logger(label: "bench")
logger.logLevel = .error
let fleet = Fleet(config: config, store: store, logger: logger)
try await fleet.start()

/// Injects `total` requests (built first) from every host in turn and waits until each is
/// stored and decided (three audit records each: request, policy, decision).
func run(_ total: Int, tag: String) async throws -> (seconds: Double, cpu: Double) {
    let base = try await store.auditHead()?.seq ?? 0
    let now = Date()
    let messages = (0..<total).map { index in
        let command = commands[index % commands.count]
        return (
            HostName(hosts[index % hosts.count]),
            Envelope<HostMessage>(
                seq: UInt64(index + 1),
                .request(
                    ApprovalRequest(
                        id: "\(tag)-\(index)", threadID: "t\(index % 7)", createdAt: now,
                        deadlineAt: now.addingTimeInterval(270),
                        evidence: Evidence(
                            tool: "Bash", command: command, purpose: "checking the build", agent: .codex,
                            cwd: "/home/dev/project", repo: "/home/dev/project", branch: "main",
                            changedFiles: ["Sources/main.swift"]))))
        )
    }
    let target = base + Int64(3 * total)
    let cpu = cpuSeconds()
    let started = DispatchTime.now().uptimeNanoseconds
    for (host, envelope) in messages { fleet.benchmarkInject(host: host, envelope) }
    var last = base
    var still = 0
    while true {
        let head = try await store.auditHead()?.seq ?? 0
        if head >= target { break }
        // No progress for 10 s: something was not decided at once (an ask), or the path broke.
        still = head == last ? still + 1 : 0
        last = head
        if still > 10_000 {
            FileHandle.standardError.write(Data("DecisionBenchmark: stuck at audit row \(head) of \(target)\n".utf8))
            exit(1)
        }
        try await Task.sleep(for: .milliseconds(1))
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    return (seconds, cpuSeconds() - cpu)
}

_ = try await run(min(count, 1000), tag: "warm")
let (seconds, cpu) = try await run(count, tag: "run")
let verification = try await store.verifyAudit()
let stored = try await store.requests().count
await fleet.stop()
print(
    String(
        format:
            "requests %d, hosts %d, %d actions: %.0f decisions/s, %.3f ms CPU per decision, %.2f s; stored %d, audit %@",
        count, hostCount, commands.count, Double(count) / seconds, cpu * 1000 / Double(count), seconds, stored,
        verification.problem.map { "BROKEN: \($0)" } ?? "verified"))
