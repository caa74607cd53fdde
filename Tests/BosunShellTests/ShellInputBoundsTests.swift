import BosunCore
import BosunTestSupport
import Foundation
import Testing

@testable import BosunShell

/// A viewer's long command line (`policy explain -- git a a …`, 5,000 words) held bosund's shell
/// for 23 s in the argument parser (its work grows with the square of the words): the shell
/// refuses more than `Shell.maxWords` words before parsing, and a command at the bound still runs.
@Suite struct ShellInputBoundsTests {
    @Test func aCommandLineOverTheWordBoundIsRefusedBeforeParsing() async throws {
        let fleet = try await InProcessFleet.make()
        defer { Task { await fleet.remove() } }
        let long = ["policy", "explain", "--", "git"] + Array(repeating: "a", count: 5_000)
        let refused = await fleet.run(long, width: 80, role: .viewer)
        #expect(refused.exit == ExitStatus.usage)
        #expect(refused.stderr.contains("at most \(Shell.maxWords) words"), "\(refused.stderr)")

        let atBound = ["policy", "explain", "--", "git"] + Array(repeating: "a", count: Shell.maxWords - 4)
        let explained = await fleet.run(atBound, width: 80, role: .viewer)
        // Explained (exit 0/1/2 by verdict), not refused.
        #expect(explained.stderr.isEmpty && explained.stdout.contains("decision"), "\(explained.stderr)")
    }
}
