import BosunConfig
import BosunCore
import BosunPolicy
import Foundation

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
                FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
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
