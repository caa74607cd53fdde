import Foundation
import Testing

@testable import BosunHostAgent

#if canImport(Glibc)
    import Glibc
#endif

/// A hook lets go of its inotify watch through a child (issue 10): closing an instance with
/// watches waits for the kernel (8–25 ms measured), and the agent would wait for it after the
/// decision. What must hold: the descriptor is gone here at once, and the child keeps none of the
/// agent's pipes open, so the agent sees EOF when the hook exits.
@Suite struct WatchReleaseTests {
    @Test func theWatchIsClosedHereAndTheChildHoldsNoneOfTheAgentsPipes() throws {
        let watch = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        try #require(watch >= 0)
        let directory = FileManager.default.temporaryDirectory.path
        #expect(inotify_add_watch(watch, directory, UInt32(IN_CREATE)) >= 0)
        var agentPipe: [Int32] = [-1, -1]
        try #require(pipe(&agentPipe) == 0)
        // The pipe's write end stands in for the hook's stdout.
        PosixSupport.closeInBackground(watch, closing: [agentPipe[1]])
        #expect(fcntl(watch, F_GETFD) == -1 && errno == EBADF)
        close(agentPipe[1])
        // EOF now means no process (the child included) still holds the write end. The poll's
        // bound only keeps a failure from hanging the suite.
        var reader = pollfd(fd: agentPipe[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&reader, 1, 60_000) == 1)
        var byte: UInt8 = 0
        #expect(read(agentPipe[0], &byte, 1) == 0, "EOF: the child closed its copy")
        close(agentPipe[0])
    }
}
