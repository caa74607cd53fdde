import BosunConfig
import BosunPolicy
import Foundation
import Testing

enum Fixtures {
    /// The repository root, from this file's path: Tests/BosunPolicyTests/Fixtures.swift.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static let policiesDirectory = repositoryRoot.appendingPathComponent("policies").path

    /// `policies/` of the repository, loaded once.
    static let defaultPolicy = Result { () throws(ConfigError) -> Policy in
        try Policy.load(directory: policiesDirectory)
    }

    /// The working directory corpus actions run in.
    static let workspace = "/home/dev/project"
}

/// One line of `Corpus/commands.tsv`.
struct CorpusCase: Sendable, CustomTestStringConvertible {
    var line: Int
    var tier: String
    var decision: String
    var action: String

    var testDescription: String { "line \(line): \(action)" }

    static let file = Bundle.module.url(forResource: "commands", withExtension: "tsv", subdirectory: "Corpus")

    /// Every case of the corpus; a malformed line becomes a case that fails with its line number.
    static let all: [CorpusCase] = {
        guard let file, let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
        var cases: [CorpusCase] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            let action = fields.count == 3 ? fields[2].replacingOccurrences(of: "⏎", with: "\n") : String(line)
            cases.append(
                CorpusCase(
                    line: number + 1, tier: fields.count == 3 ? String(fields[0]) : "?",
                    decision: fields.count == 3 ? String(fields[1]) : "?", action: action))
        }
        return cases
    }()
}
