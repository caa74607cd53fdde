import BosunCore
import Foundation
import Synchronization
import Testing

/// The control socket's address: a path that does not fit `sun_path` is refused, never cut (bosund
/// used to cut it silently and would have bound another path).
@Suite struct UnixSocketTests {
    @Test func anAddressFitsOrIsRefused() throws {
        let longest = "/" + String(repeating: "a", count: 106)
        let address = try #require(UnixSocket.address(longest))
        let stored = withUnsafeBytes(of: address.sun_path) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        #expect(stored == longest)
        #expect(UnixSocket.address(longest + "b") == nil, "108 bytes leave no room for the NUL")
        #expect(UnixSocket.address("") == nil)
    }

    @Test func sendAllDeliversEveryByteAndFailsOnAClosedPeer() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let payload = Array(repeating: UInt8(ascii: "x"), count: 100_000)
        // A reader on another thread drains it while the send loop handles short sends.
        let received = Mutex(0)
        let done = DispatchSemaphore(value: 0)
        let readFD = fds[1]
        DispatchQueue.global().async {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = read(readFD, &buffer, buffer.count)
                if n <= 0 { break }
                received.withLock { $0 += n }
            }
            done.signal()
        }
        #expect(UnixSocket.sendAll(fds[0], payload))
        close(fds[0])
        done.wait()
        #expect(received.withLock { $0 } == payload.count)
        close(fds[1])

        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        close(fds[1])
        #expect(!UnixSocket.sendAll(fds[0], payload), "a closed peer is a failure, not SIGPIPE")
        close(fds[0])
    }
}
