import BosunCore
import BosunHostAgent
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

// The host helper: one small binary on every supervised host. Its command line is read by
// `HostCommandLine` (no ArgumentParser: issue 10, size and hook start-up).

/// The width of the terminal on stdout, else `COLUMNS`, else 80.
enum TerminalWidth {
    static func current() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap({ Int($0) }), columns > 0 {
            return min(columns, 1000)
        }
        return 80
    }
}

/// The variables a hook reads, by `getenv`: `ProcessInfo.processInfo.environment` copies the whole
/// environment into a dictionary first (~3 % of a hook's CPU; issue 10).
func hookEnvironment() -> [String: String] {
    var environment: [String: String] = [:]
    for name in HookRunner.environmentNames {
        if let value = getenv(name) { environment[name] = String(cString: value) }
    }
    return environment
}

/// Answers one hook call: agent JSON on stdin, the answer on stdout; returns the exit status.
func runHook(spool: Spool, agent: HookAgent, deadline: Double?) -> Int32 {
    let input = StandardStream.readToEnd()
    let environment = hookEnvironment()
    var settings = HookSettings(environment: environment)
    if let deadline { settings.deadline = deadline }
    settings.releaseWatchInBackground = true
    settings.followUpExecutable = "/proc/self/exe"
    let answer = HookRunner(spool: spool, agent: agent, settings: settings, environment: environment).run(
        input: Data(input))
    StandardStream.writeOutput(answer.stdout)
    StandardStream.writeError(answer.stderr)
    return answer.exitCode
}

func spool(_ state: String?) -> Spool { Spool(root: state ?? Spool.defaultRoot()) }

func run(_ command: HostCommand) -> Int32 {
    switch command {
    case .version:
        StandardStream.writeOutput(BosunVersion.current + "\n")
        return 0
    case .help(let text):
        StandardStream.writeOutput(text)
        return 0
    case .hook(let state, let agent, let deadline, let probe):
        let spool = Spool(root: state ?? Spool.defaultRoot(environment: hookEnvironment()))
        guard probe else { return runHook(spool: spool, agent: agent, deadline: deadline) }
        if let problem = Doctor.spoolProblem(spool) {
            StandardStream.writeError("bosun-host hook probe: spool unusable: \(problem)\n")
            return 1
        }
        StandardStream.writeOutput("\(Doctor.probeAnswer) (spool \(spool.root))\n")
        return 0
    case .changedFiles(let state, let request, let thread, let repo):
        let spool = Spool(root: state ?? Spool.defaultRoot(environment: hookEnvironment()))
        return HookRunner.changedFilesCommand(spool: spool, request: request, thread: thread, repo: repo)
    case .serve(let state, let silenceTimeout):
        let timeout = silenceTimeout ?? ServeLoop.silenceTimeout(environment: ProcessInfo.processInfo.environment)
        do {
            return try ServeLoop(spool: spool(state), silenceTimeout: timeout).run()
        } catch {
            StandardStream.writeError("bosun-host serve: \(error)\n")
            return 1
        }
    case .run(let state, let argv):
        do {
            return try ThreadLauncher(spool: spool(state), argv: argv).run()
        } catch {
            StandardStream.writeError("bosun-host run: \(error)\n")
            return 1
        }
    case .status(let state, let json):
        StandardStream.writeOutput(HostStatus.render(spool(state).readThreads(), json: json))
        return 0
    case .installHooks(let agent, let scope, let configDirectory, let timeout):
        let executable: String
        do {
            executable = try HookInstaller.resolveExecutable(argv0: CommandLine.arguments.first ?? "")
        } catch {
            StandardStream.writeError("bosun-host: install-hooks: \(error); nothing written\n")
            return 1
        }
        let command = HookInstaller.hookCommand(executable: executable, agent: agent)
        let installer = HookInstaller(
            agent: agent, scope: scope, configDirectory: configDirectory, command: command, timeout: timeout)
        do {
            for path in try installer.install() { StandardStream.writeOutput("wrote \(path)\n") }
        } catch {
            StandardStream.writeError("bosun-host: install-hooks: \(error)\n")
            return 1
        }
        StandardStream.writeOutput("hook command: \(command)\n")
        return 0
    case .doctor(let state, let json, let project):
        var doctor = Doctor(spool: spool(state))
        if let project { doctor.projectDirectory = project }
        let report = doctor.run()
        StandardStream.writeOutput(json ? report.json : report.render(width: TerminalWidth.current()))
        return report.ok ? 0 : 1
    }
}

SignalMask.unblockAll()
do {
    exit(run(try HostCommandLine.parse(Array(CommandLine.arguments.dropFirst()))))
} catch {
    StandardStream.writeError(error.description)
    exit(ExitStatus.usage)
}
