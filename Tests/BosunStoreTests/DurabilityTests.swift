import Foundation
import Testing

@testable import BosunStore

/// The writer connection commits with the durability asked for. GRDB's WAL set-up sets
/// `synchronous = NORMAL` on the writer after `Configuration.prepareDatabase` has run: with the
/// pragma set there, bosund committed without a single fsync (issue 10's system-wide profile:
/// 0 fsyncs in 1,392 writes). Fails before: the writer read back 1 (NORMAL) for `.full`.
@Suite struct DurabilityTests {
    @Test(arguments: [(Store.Durability.full, 2), (.normal, 1)])
    func theWriterCommitsWithTheDurabilityAskedFor(durability: Store.Durability, expected: Int) throws {
        let path = temporaryDatabase("durability")
        defer { removeDatabase(path) }
        let store = try Store(path: path, durability: durability)
        #expect(try store.writerSynchronous() == expected)
        #expect(try Store(path: path).writerSynchronous() == 2, "bosund's default, reopened: FULL")
    }
}
