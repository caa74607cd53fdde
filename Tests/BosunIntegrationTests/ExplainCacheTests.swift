import Foundation
import Testing

/// `bosun policy explain --config` checks rule examples once per set of policy files (issue 10):
/// the real `bosun` binary, the repository's policies copied to a temporary configuration, and a
/// temporary `XDG_CACHE_HOME`.
@Suite struct ExplainCacheTests {
    /// A fresh directory whose `config/policies/` holds the repository's default policy.
    static func rootWithTheDefaultPolicy() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("explain-\(UUID().uuidString)").path
        let policies = root + "/config/policies"
        try FileManager.default.createDirectory(atPath: policies, withIntermediateDirectories: true)
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        try FileManager.default.copyItem(
            atPath: repository + "/policies/default.toml", toPath: policies + "/default.toml")
        return root
    }

    func explain(_ config: String, cache: String, _ words: [String]) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        try bosun(["policy", "explain", "--config", config, "--"] + words, cache: cache)
    }

    func bosun(_ arguments: [String], cache: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fixture.binDirectory + "/bosun")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CACHE_HOME"] = cache
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self)
        )
    }

    @Test func aSecondExplainUsesTheCacheAndAFailingPolicyIsNeverCached() throws {
        let root = try Self.rootWithTheDefaultPolicy()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let policies = root + "/config/policies"
        let cacheFile = root + "/cache/bosun/policy-examples"

        let first = try explain(root + "/config", cache: root + "/cache", ["git", "status"])
        #expect(first.status == 0, "\(first.stderr)")
        let recorded = try String(contentsOfFile: cacheFile, encoding: .utf8)
        #expect(recorded.split(separator: "\n").count == 1)
        let second = try explain(root + "/config", cache: root + "/cache", ["git", "status"])
        #expect(second.status == 0 && second.stdout == first.stdout)
        #expect(try String(contentsOfFile: cacheFile, encoding: .utf8) == recorded)

        try """
        [[rule]]
        id = "too-broad"
        tier = "continue"
        decision = "allow"
        reason = "testing"
        match.argv = ["git"]
        examples.not_match = ["git push"]
        """.write(toFile: policies + "/zz-bad.toml", atomically: true, encoding: .utf8)
        let failing = try explain(root + "/config", cache: root + "/cache", ["git", "status"])
        #expect(failing.status != 0)
        #expect(failing.stderr.contains("git push"), "names the failing example: \(failing.stderr)")
        #expect(try String(contentsOfFile: cacheFile, encoding: .utf8) == recorded)
    }

    /// The plain spelling `policy explain --config DIR [--tool T] -- command` is read without
    /// argument-parser (issue 10): it must print and exit exactly as the spellings argument-parser still
    /// reads (here: `--config` given twice, the last one counting).
    @Test func thePlainSpellingExplainsAsArgumentParserDoes() throws {
        let root = try Self.rootWithTheDefaultPolicy()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let config = root + "/config"
        let commands: [[String]] = [
            ["git", "status"], ["git", "push", "origin", "main"], ["rm", "-rf", "/"], ["cat", ".env"],
            ["frobnicate", "--now"], ["echo", "unbalanced 'quote"],
        ]
        for words in commands {
            for tool in [nil, "Bash", "Edit"] {
                let toolArguments = tool.map { ["--tool", $0] } ?? []
                let plain = try bosun(
                    ["policy", "explain", "--config", config] + toolArguments + ["--"] + words, cache: root + "/cache")
                let parsed = try bosun(
                    ["policy", "explain", "--config", root + "/elsewhere", "--config", config] + toolArguments + ["--"]
                        + words, cache: root + "/cache")
                #expect(plain.status == parsed.status, "\(words) \(tool ?? "")")
                #expect(plain.stdout == parsed.stdout, "\(words) \(tool ?? "")")
                #expect(plain.stderr == parsed.stderr, "\(words) \(tool ?? "")")
                #expect(!plain.stdout.isEmpty)
            }
        }
        // `--config=DIR` and `--tool=T` are the same options.
        let equals = try bosun(
            ["policy", "explain", "--config=\(config)", "--tool=Bash", "--", "git", "push"], cache: root + "/cache")
        let spaced = try bosun(
            ["policy", "explain", "--config", config, "--tool", "Bash", "--", "git", "push"], cache: root + "/cache")
        #expect(equals.status == spaced.status && equals.stdout == spaced.stdout)
    }
}
