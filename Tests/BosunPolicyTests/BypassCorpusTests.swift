import BosunConfig
import BosunCore
import BosunPolicy
import Foundation
import Testing

/// The two policy corpora of issue 8: `Corpus/must-not-allow.tsv` (commands that run programs, write
/// outside the workspace, read secrets or push/merge, which the repository's real `policies/` must never
/// allow) and `Corpus/must-allow.tsv` (everyday commands that must stay allowed).
@Suite struct BypassCorpusTests {
    @Test func corporaAreLargeAndWellFormed() {
        #expect(BypassCase.all.count >= 200)
        #expect(EverydayCase.all.count >= 100)
        for example in BypassCase.all {
            #expect(
                example.expect == "ask" || example.expect == "commit",
                "must-not-allow.tsv line \(example.line): bad expectation \(example.expect)")
            #expect(!example.kind.isEmpty, "must-not-allow.tsv line \(example.line): no class")
        }
        for example in EverydayCase.all {
            #expect(!example.action.isEmpty, "must-allow.tsv line \(example.line): no command")
        }
    }

    @Test(arguments: BypassCase.all)
    func neverAllowed(_ example: BypassCase) throws {
        let policy = try Fixtures.defaultPolicy.get()
        let input = PolicyInput(example: example.action, cwd: Fixtures.workspace)
        let evaluation = policy.evaluate(input)
        let got = "\(evaluation.tier.rawValue)/\(evaluation.verdict.rawValue)"
        #expect(
            example.satisfied(by: evaluation),
            """
            must-not-allow.tsv line \(example.line) [\(example.kind)]: \(example.action)
              expected \(example.expect == "commit" ? "commit tier, ask or deny" : "ask or deny"), got \(got) — \
            \(evaluation.ruleID ?? "no rule"): \(evaluation.reason)
            \(policy.explain(input))
            """)
    }

    @Test(arguments: EverydayCase.all)
    func stillAllowed(_ example: EverydayCase) throws {
        let policy = try Fixtures.defaultPolicy.get()
        let input = PolicyInput(example: example.action, cwd: Fixtures.workspace)
        let evaluation = policy.evaluate(input)
        #expect(
            evaluation.verdict == .allow && evaluation.tier == .continue,
            """
            must-allow.tsv line \(example.line) [\(example.kind)]: \(example.action)
              expected continue/allow, got \(evaluation.tier.rawValue)/\(evaluation.verdict.rawValue) — \
            \(evaluation.ruleID ?? "no rule"): \(evaluation.reason)
            \(policy.explain(input))
            """)
    }
}

/// One line of `Corpus/must-not-allow.tsv`: expect, class, command, comment.
struct BypassCase: Sendable, CustomTestStringConvertible {
    var line: Int
    var expect: String
    var kind: String
    var action: String

    var testDescription: String { "line \(line) [\(kind)]: \(action)" }

    func satisfied(by evaluation: Evaluation) -> Bool {
        guard evaluation.verdict != .allow else { return false }
        return expect == "commit" ? evaluation.tier == .commit : true
    }

    static let all: [BypassCase] = TSV.lines("must-not-allow").map { line, fields in
        guard fields.count >= 3 else { return BypassCase(line: line, expect: "?", kind: "", action: "") }
        return BypassCase(line: line, expect: fields[0], kind: fields[1], action: fields[2])
    }
}

/// One line of `Corpus/must-allow.tsv`: class, command, optional comment.
struct EverydayCase: Sendable, CustomTestStringConvertible {
    var line: Int
    var kind: String
    var action: String

    var testDescription: String { "line \(line) [\(kind)]: \(action)" }

    static let all: [EverydayCase] = TSV.lines("must-allow").map { line, fields in
        EverydayCase(line: line, kind: fields[0], action: fields.count >= 2 ? fields[1] : "")
    }
}

enum TSV {
    /// The non-comment lines of `Corpus/NAME.tsv` split at tabs, `⏎` turned into a newline.
    static func lines(_ name: String) -> [(Int, [String])] {
        guard let file = Bundle.module.url(forResource: name, withExtension: "tsv", subdirectory: "Corpus"),
            let text = try? String(contentsOf: file, encoding: .utf8)
        else { return [] }
        var result: [(Int, [String])] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "⏎", with: "\n")
            }
            result.append((number + 1, fields))
        }
        return result
    }
}

/// `policies/profiles/strict.toml`, installed as its header says (a copy named to sort before
/// `default.toml`), loaded with the real loader.
@Suite struct StrictProfileTests {
    static let strict = Result { () throws -> Policy in
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "bosun-strict-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let policies = URL(fileURLWithPath: Fixtures.policiesDirectory)
        try FileManager.default.copyItem(
            at: policies.appendingPathComponent("profiles/strict.toml"),
            to: directory.appendingPathComponent("00-strict.toml"))
        try FileManager.default.copyItem(
            at: policies.appendingPathComponent("default.toml"), to: directory.appendingPathComponent("default.toml"))
        return try Policy.load(directory: directory.path)
    }

    func decide(_ command: String) throws -> Evaluation {
        try Self.strict.get().evaluate(PolicyInput(example: command, cwd: Fixtures.workspace))
    }

    @Test func asksBeforeTestsBuildsAndHooks() throws {
        for command in ["go test ./...", "pytest -x", "npm run build", "make test", "git commit -m x", "cargo build"] {
            let evaluation = try decide(command)
            #expect(evaluation.verdict == .ask && evaluation.tier == .expand, "\(command): \(evaluation.reason)")
            #expect(evaluation.ruleID?.hasPrefix("strict-") == true, "\(command): \(evaluation.ruleID ?? "no rule")")
        }
        for command in ["git status", "git diff --stat", "ls -la", "cat README.md", "rg foo", "git add -A"] {
            #expect(try decide(command).verdict == .allow, "\(command)")
        }
    }

    @Test func repeatsTheDefaultSecretGlobs() throws {
        let rules = try Self.strict.get().rules
        let strict = rules.first { $0.id == "strict-secret-files" }?.match.paths
        let secrets = rules.first { $0.id == "secret-files" }?.match.paths
        #expect(strict != nil && strict == secrets)
    }

    @Test(arguments: BypassCase.all)
    func neverAllowsTheBypassCorpusEither(_ example: BypassCase) throws {
        let evaluation = try decide(example.action)
        #expect(
            example.satisfied(by: evaluation),
            "line \(example.line): \(example.action) → \(evaluation.tier.rawValue)/\(evaluation.verdict.rawValue)")
    }
}
