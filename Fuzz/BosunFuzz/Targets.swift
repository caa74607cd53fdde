import BosunConfig
import BosunCore
import BosunPolicy
import BosunShell
import BosunStore
import BosunSupervisor
import BosunTerminal
import Foundation
import Logging

/// Fuzz targets: each takes arbitrary bytes and must return without trapping, whatever they are.
/// Built two ways: with `-sanitize=fuzzer -DFUZZING` (scripts/fuzz) libFuzzer drives one target
/// (chosen by `BOSUN_FUZZ_TARGET`); in a normal build `bosun-fuzz TARGET FILE…` replays inputs, so
/// the committed corpus (and every crash found) is a regression test in scripts/test.
enum FuzzTarget: String, CaseIterable {
    /// A host's protocol line, as bosund decodes it, and the same bytes through the line framer.
    case hostProtocol = "host-protocol"
    /// The line the shell splits into words (socket, front door, `bosun shell`).
    case shellWords = "shell-words"
    /// An agent's shell command through the policy's splitter and the default policy.
    case shellCommand = "shell-command"
    /// A policy file through the loader (with its examples checked).
    case policyFile = "policy-file"
    /// `bosund.toml`, a host file and an operator file through the config loaders.
    case configFile = "config-file"
    /// A command line at a terminal width (first two bytes) through the shell every surface
    /// runs: parsing, help and listings rendered from a store holding hostile host text.
    case shellCommandLine = "shell-line"
    /// Keystrokes into the front door's (and `bosun shell`'s) line editor.
    case lineEditor = "line-editor"

    func run(_ data: Data) {
        switch self {
        case .hostProtocol:
            let codec = ProtocolCodec()
            if let envelope = try? codec.decodeHostMessage(data) {
                // What decodes must encode and decode again to the same message.
                let again = try? codec.decodeHostMessage(codec.encode(envelope).dropLast())
                if again == nil { FuzzTarget.fail("re-encoded host message does not decode") }
            }
            _ = try? codec.decodeSupervisorMessage(data)
            var framer = LineFramer(limit: 4096)
            _ = framer.append(data)
        case .shellWords:
            let line = String(decoding: data, as: UTF8.self)
            if let words = try? ShellWords.split(line) {
                // Quoting is the inverse of splitting.
                let joined = words.map(ShellWords.quote).joined(separator: " ")
                if (try? ShellWords.split(joined)) != words { FuzzTarget.fail("quote/split round trip differs") }
            }
        case .shellCommand:
            let command = String(decoding: data, as: UTF8.self)
            _ = ShellParser.parse(command)
            _ = FuzzTarget.defaultPolicy?.evaluate(PolicyInput(example: command))
        case .policyFile:
            _ = try? Policy.parse(String(decoding: data, as: UTF8.self), file: "fuzz.toml")
        case .configFile:
            let text = String(decoding: data, as: UTF8.self)
            _ = try? SupervisorConfig.parseMain(text, file: "bosund.toml", directory: "/etc/bosun")
            _ = try? HostConfig.parse(text, file: "hosts/fuzz.toml", directory: "/etc/bosun", defaultUser: "bosun")
            _ = try? OperatorConfig.parse(text, file: "operators/fuzz.toml")
        case .shellCommandLine:
            let width = data.count >= 2 ? Int(data[data.startIndex]) << 8 | Int(data[data.startIndex + 1]) : 80
            let line = String(decoding: data.dropFirst(2), as: UTF8.self)
            guard let words = try? ShellWords.split(line), let shell = FuzzShell.shared else { return }
            // Viewer role: every command line is parsed; only read-only commands run.
            let context = ShellContext(
                fleet: shell.fleet, width: width, actor: Operator(name: "fuzz", role: .viewer, channel: "desk"))
            _ = FuzzShell.wait { await Shell().execute(words, in: context) }
        case .lineEditor:
            var editor = LineEditor(historyLimit: 8, maxLineLength: 512)
            editor.prompt = "bosun [3 waiting]> "
            // Candidates as a lying host could make them: escapes, blanks, wide text, the prefix itself.
            editor.completer = { query in
                ["threads", "show", "h1/\(query.prefix)x", "web-2/", "\u{1B}[31mevil", "日本語", "", query.prefix, "a b"]
            }
            for chunk in data.split(separator: 0xFF, omittingEmptySubsequences: false) {
                // `0xFE w`: the terminal is now w columns wide (0: unknown), as after a resize.
                if chunk.count == 2, let first = chunk.first, first == 0xFE, let width = chunk.last {
                    editor.columns = Int(width)
                    FuzzTarget.checkEcho(editor.redraw())
                    continue
                }
                for case .echo(let text) in editor.feed(Array(chunk)) { FuzzTarget.checkEcho(text) }
                if editor.cursorIndex < 0 || editor.cursorIndex > editor.currentLine.unicodeScalars.count {
                    FuzzTarget.fail("cursor outside the line")
                }
            }
        }
    }

    /// The editor writes no control character but CR, LF, backspace, bell and its own sequences
    /// (erase to end of line, cursor left, home, clear screen): typed or completed text cannot
    /// smuggle an escape to the terminal.
    static func checkEcho(_ text: String) {
        var scalars = Array(text.unicodeScalars)[...]
        while let scalar = scalars.popFirst() {
            switch scalar.value {
            case 0x0D, 0x0A, 0x08, 0x07: continue
            case 0x1B:
                guard scalars.popFirst() == "[" else { fail("a bare ESC in the echo") }
                while let next = scalars.first, ("0"..."9").contains(next) { scalars.removeFirst() }
                guard let final = scalars.popFirst(), ["K", "D", "H", "J"].contains(final) else {
                    fail("an unexpected escape sequence in the echo")
                }
            case 0..<0x20, 0x7F...0x9F: fail("a control character in the echo: \(scalar.value)")
            default: continue
            }
        }
    }

    /// One in-process supervisor over a real SQLite file (hosts that never connect), with hostile
    /// thread and request text, shared by every shell input.
    final class FuzzShell: Sendable {
        let fleet: Fleet

        init(fleet: Fleet) {
            self.fleet = fleet
        }

        static let shared: FuzzShell? = wait { () async -> FuzzShell? in
            let directory = NSTemporaryDirectory() + "bosun-fuzz-\(getpid())"
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            guard let store = try? Store(path: directory + "/bosun.db", durability: .normal) else { return nil }
            let config = SupervisorConfig(
                directory: directory, stateDir: directory, socket: directory + "/bosund.sock", identity: "/nonexistent",
                knownHosts: "/nonexistent",
                hosts: ["h1", "web-2"].map { HostConfig(name: $0, address: "127.0.0.1", port: 1, user: "bosun") })
            let fleet = Fleet(
                config: config, store: store, logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
            guard (try? await fleet.start()) != nil else { return nil }
            let now = Date()
            for (index, title) in ["\u{202E}evil\u{0}after", "\u{1B}[2Jclear", String(repeating: "wide界", count: 40)]
                .enumerated()
            {
                _ = try? await store.saveThread(
                    host: index == 0 ? "h1" : "web-2",
                    AgentThread(
                        id: "3fa\(index)", agent: .claude, argv: ["claude"], cwd: "/w\u{85}\(index)", repo: nil,
                        branch: nil,
                        pid: nil, state: .running, startedAt: now, lastActivity: now, title: title, sessionID: nil))
            }
            return FuzzShell(fleet: fleet)
        }

        /// Runs async work to completion from the fuzzer's synchronous callback.
        static func wait<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
            let box = ResultBox<T>()
            let done = DispatchSemaphore(value: 0)
            Task {
                box.value = await body()
                done.signal()
            }
            done.wait()
            guard let value = box.value else { FuzzTarget.fail("async work finished without a value") }
            return value
        }

        final class ResultBox<T>: @unchecked Sendable {
            var value: T?
        }
    }

    /// The repository's default policy, found from this source file (fuzzing runs in the checkout).
    static let defaultPolicy: Policy? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try? Policy.load(directory: root.appendingPathComponent("policies").path)
    }()

    /// An invariant broke: stop so libFuzzer (or the replay) reports the input.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("bosun-fuzz: \(message)\n".utf8))
        abort()
    }
}

#if FUZZING
    let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["BOSUN_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FuzzTarget.fail(
                "set BOSUN_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return target
    }()

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
        let data = start.map { Data(bytes: $0, count: count) } ?? Data()
        selected.run(data)
        return 0
    }

    /// libFuzzer's driver, linked in by `-sanitize=fuzzer`.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// SwiftPM links an executable's entry point under this name; hand it to libFuzzer's driver.
    @_cdecl("bosun_fuzz_main")
    public func fuzzMain(
        _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    ) -> CInt {
        var count = argc
        var arguments = argv
        return runDriver(&count, &arguments) { fuzzOneInput($0, $1) }
    }
#else
    @main struct Replay {
        static func main() {
            let arguments = CommandLine.arguments.dropFirst()
            guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
                FileHandle.standardError.write(
                    Data(
                        "usage: bosun-fuzz TARGET FILE|DIR…  (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))\n"
                            .utf8))
                exit(2)
            }
            var count = 0
            for path in arguments.dropFirst() {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                let files =
                    isDirectory.boolValue
                    ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map {
                        path + "/" + $0
                    }
                    : [path]
                for file in files {
                    guard let data = FileManager.default.contents(atPath: file) else { continue }
                    target.run(data)
                    count += 1
                }
            }
            print("\(target.rawValue): \(count) inputs replayed, no crash")
        }
    }
#endif
