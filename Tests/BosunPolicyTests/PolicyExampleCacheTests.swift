import BosunCore
import BosunPolicy
import Foundation
import Testing

@testable import BosunConfig

/// `bosun policy explain` checks examples once per set of policy files (issue 10); bosund checks
/// them on every load whatever the cache says. Real files in a temporary directory.
@Suite struct PolicyExampleCacheTests {
    static let passing = PolicyLoaderTests.validRule
    static let failing = PolicyLoaderTests.validRule.replacingOccurrences(
        of: "examples.not_match = [\"git status\"]", with: "examples.not_match = [\"git push\"]")

    func directory(_ text: String) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/policies", withIntermediateDirectories: true)
        try text.write(toFile: root + "/policies/10-team.toml", atomically: true, encoding: .utf8)
        return root
    }

    @Test func aPassingPolicyIsRecordedAndAFailingOneIsNot() throws {
        let root = try directory(Self.passing)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = PolicyExampleCache(file: root + "/cache/policy-examples")
        let first = try Policy.load(directory: root + "/policies", examples: .cached(cache))
        let recorded = try String(contentsOfFile: cache.file, encoding: .utf8)
        #expect(recorded.utf8.count == 65)
        #expect(try Policy.load(directory: root + "/policies", examples: .cached(cache)) == first)
        #expect(try String(contentsOfFile: cache.file, encoding: .utf8) == recorded)

        try Self.failing.write(toFile: root + "/policies/10-team.toml", atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try Policy.load(directory: root + "/policies", examples: .cached(cache)) }
        #expect(try String(contentsOfFile: cache.file, encoding: .utf8) == recorded)
    }

    /// The security property: whatever the cache holds (here the key of a failing policy, as a
    /// forged or stale cache would), the load bosund does (`.always`, the default) and
    /// `SupervisorConfig.load` refuse a policy whose examples fail.
    @Test func aForgedCacheEntryNeverMakesAFailingPolicyLoadForBosund() throws {
        let root = try directory(Self.failing)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = PolicyExampleCache(file: root + "/cache/policy-examples")
        // Forge: record the failing files' key by loading them once without the check.
        let text = try String(contentsOfFile: root + "/policies/10-team.toml", encoding: .utf8)
        let key = try #require(cache.key([(text, root + "/policies/10-team.toml")]))
        cache.record(key)
        // The cached path trusts it (that is what the cache is for: explain only)...
        _ = try Policy.load(directory: root + "/policies", examples: .cached(cache))
        // ...bosund's loads do not.
        #expect(throws: ConfigError.self) { try Policy.load(directory: root + "/policies") }
        #expect(throws: ConfigError.self) {
            try SupervisorConfig.load(directory: root)
        }
    }
}
