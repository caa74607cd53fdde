import BosunConfig
import BosunCore
import BosunPolicy
import Testing

@Suite struct CorpusTests {
    @Test func corpusIsLargeAndWellFormed() throws {
        #expect(CorpusCase.file != nil, "Corpus/commands.tsv is not in the test bundle")
        #expect(CorpusCase.all.count >= 200)
        for example in CorpusCase.all {
            #expect(Tier(rawValue: example.tier) != nil, "line \(example.line): bad tier \(example.tier)")
            #expect(
                Verdict(rawValue: example.decision) != nil, "line \(example.line): bad decision \(example.decision)")
        }
    }

    @Test(arguments: CorpusCase.all)
    func defaultPolicyDecides(_ example: CorpusCase) throws {
        let policy = try Fixtures.defaultPolicy.get()
        let input = PolicyInput(example: example.action, cwd: Fixtures.workspace)
        let evaluation = policy.evaluate(input)
        let got = "\(evaluation.tier.rawValue)/\(evaluation.verdict.rawValue)"
        let expected = "\(example.tier)/\(example.decision)"
        #expect(
            got == expected,
            """
            Corpus/commands.tsv line \(example.line): \(example.action)
              expected \(expected), got \(got) — \(evaluation.ruleID ?? "no rule"): \(evaluation.reason)
            \(policy.explain(input))
            """)
    }
}
