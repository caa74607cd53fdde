// Measures policy evaluation speed over a corpus of real command lines.
//
//   swift build -c release --product PolicyBenchmark
//   .build/release/PolicyBenchmark policies Tests/BosunPolicyTests/Corpus/commands.tsv [seconds]
//
// Rates are given per wall-clock second and per CPU second of the measuring thread (the goal's
// "per core", which other work on a shared machine does not dilute).
import BosunConfig
import BosunPolicy
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count == 3 || arguments.count == 4, let seconds = Double(arguments.count == 4 ? arguments[3] : "3"),
    seconds > 0
else {
    FileHandle.standardError.write(Data("usage: PolicyBenchmark <policies-dir> <corpus.tsv> [seconds]\n".utf8))
    exit(2)
}

let policy: Policy
do {
    policy = try Policy.load(directory: arguments[1])
} catch {
    FileHandle.standardError.write(Data("PolicyBenchmark: \(error)\n".utf8))
    exit(1)
}

guard let corpus = try? String(contentsOfFile: arguments[2], encoding: .utf8) else {
    FileHandle.standardError.write(Data("PolicyBenchmark: cannot read \(arguments[2])\n".utf8))
    exit(1)
}

/// Corpus lines are `tier<TAB>decision<TAB>action`; `⏎` stands for a newline; `#` starts a comment.
let actions: [String] = corpus.split(separator: "\n").compactMap { line in
    guard !line.hasPrefix("#") else { return nil }
    let fields = line.split(separator: "\t", maxSplits: 2)
    return fields.count == 3 ? fields[2].replacingOccurrences(of: "⏎", with: "\n") : nil
}
guard !actions.isEmpty else {
    FileHandle.standardError.write(Data("PolicyBenchmark: no actions in \(arguments[2])\n".utf8))
    exit(1)
}
let inputs = actions.map { PolicyInput(example: $0, cwd: "/home/dev/project") }
let commands = inputs.compactMap(\.command)

func secondsOf(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// This thread's CPU time in seconds: what "per core" means on a machine shared with other work.
func cpuSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Runs `body` over the whole corpus until `budget` seconds have passed; returns the runs, the
/// wall-clock seconds and the CPU seconds they took.
func measure(for budget: Double, count: Int, _ body: () -> Int) -> (
    runs: Int, seconds: Double, cpu: Double, checksum: Int
) {
    let clock = ContinuousClock()
    var checksum = body()  // warm-up
    var runs = 0
    let start = clock.now
    let cpuStart = cpuSeconds()
    let deadline = start + .nanoseconds(Int64(budget * 1e9))
    repeat {
        checksum &+= body()
        runs += count
    } while clock.now < deadline
    return (runs, secondsOf(start.duration(to: clock.now)), cpuSeconds() - cpuStart, checksum)
}

let evaluation = measure(for: seconds, count: inputs.count) {
    var sum = 0
    for input in inputs { sum &+= policy.evaluate(input).parts.count }
    return sum
}
let parsing = measure(for: seconds / 3, count: commands.count) {
    var sum = 0
    for command in commands { sum &+= ShellParser.parse(command).commands.count }
    return sum
}

// The slowest actions, each timed over a few hundred evaluations.
let clock = ContinuousClock()
var perAction: [(nanoseconds: Double, action: String)] = []
for (input, action) in zip(inputs, actions) {
    let repeats = 300
    var sum = 0
    let start = clock.now
    for _ in 0..<repeats { sum &+= policy.evaluate(input).parts.count }
    perAction.append((secondsOf(start.duration(to: clock.now)) / Double(repeats) * 1e9, action))
    if sum < 0 { print(sum) }
}
perAction.sort { $0.nanoseconds > $1.nanoseconds }

func format(_ value: Double) -> String { String(format: "%.0f", value) }

print("policy: \(policy.rules.count) rules from \(arguments[1]); corpus: \(inputs.count) actions")
print(
    "evaluate: \(evaluation.runs) evaluations in \(String(format: "%.2f", evaluation.seconds)) s: "
        + "\(format(Double(evaluation.runs) / evaluation.seconds)) evaluations/s, "
        + "\(format(evaluation.seconds / Double(evaluation.runs) * 1e9)) ns/evaluation; per CPU second: "
        + "\(format(Double(evaluation.runs) / evaluation.cpu)) evaluations/s "
        + "(\(format(evaluation.cpu / Double(evaluation.runs) * 1e9)) ns CPU each)")
print(
    "parse:    \(parsing.runs) parses in \(String(format: "%.2f", parsing.seconds)) s: "
        + "\(format(Double(parsing.runs) / parsing.seconds)) parses/s, "
        + "\(format(parsing.seconds / Double(parsing.runs) * 1e9)) ns/parse; per CPU second: "
        + "\(format(Double(parsing.runs) / parsing.cpu)) parses/s")
print("slowest actions (ns/evaluation):")
for (nanoseconds, action) in perAction.prefix(3) {
    print("  \(format(nanoseconds))  \(action.replacingOccurrences(of: "\n", with: "⏎").prefix(100))")
}
if evaluation.checksum == 42 && parsing.checksum == 42 { print("") }  // keeps the work observable
