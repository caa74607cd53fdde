import BosunSSH
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `SSHError` keeps what libssh returned (issue 9: errors with codes).
@Suite struct SSHErrorCodeTests {
    /// A loopback port bound but not listening: connecting to it is refused (kept bound meanwhile,
    /// so nothing else takes it).
    func refusingPort() throws -> (descriptor: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        try #require(bound)
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func aRefusedConnectionKeepsLibsshsReturnCode() throws {
        let (fd, port) = try refusingPort()
        defer { close(fd) }
        let options = SSHClientOptions(
            address: "127.0.0.1", port: port, user: "nobody", identityFile: nil, knownHostsFile: "/nonexistent",
            pinnedHostKey: nil, connectTimeout: 5, command: "true")
        do {
            _ = try SSHExecChannel(options: options)
            Issue.record("connected to a port nothing listens on")
        } catch {
            #expect(error.code == .connect)
            #expect(error.libsshCode == -1, "SSH_ERROR")
            #expect(error.isTransient)
        }
        // Errors raised by Bosun itself, not by a libssh call, carry none.
        #expect(SSHError(.io, "x").libsshCode == nil)
    }
}
