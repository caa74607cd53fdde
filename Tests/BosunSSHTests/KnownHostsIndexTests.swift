import Foundation
import Testing

@testable import BosunSSH

/// Issue 10 (bring-up at 2,000 hosts): libssh reads known_hosts four times per connection, so a
/// fleet's bring-up parsed 4·N² lines. It now gets only the lines that can concern the host: its
/// own, and every line it cannot rule out (hashed names, patterns, markers, unusual bytes), so its
/// verdict is the one it would give on the whole file.
@Suite struct KnownHostsIndexTests {
    static let key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

    func file(_ lines: [String]) throws -> String {
        let path = NSTemporaryDirectory() + "known_hosts-\(UUID().uuidString)"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func lines(_ data: Data?) -> [String] {
        String(decoding: data ?? Data(), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func aHostGetsItsOwnLinesAndEveryLineThatMightMatchItNotTheOthers() throws {
        var all = (1...2000).map { "[127.0.0.1]:\(40000 + $0) ssh-ed25519 \(Self.key)" }
        let kept = [
            "|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ssh-ed25519 \(Self.key)",
            "[127.0.0.*]:* ssh-ed25519 \(Self.key)",
            "!other,[127.0.0.1]:4?00? ssh-ed25519 \(Self.key)",
            "@revoked [127.0.0.1]:40001 ssh-ed25519 \(Self.key)",
            "\t[127.0.0.1]:40001 ssh-ed25519 \(Self.key)",
        ]
        all += kept
        all.append("web-1,[WEB-1]:2222,other ssh-ed25519 \(Self.key)")
        all.append("web-1 ssh-rsa \(Self.key)")
        let path = try file(all)
        defer { try? FileManager.default.removeItem(atPath: path) }

        let got = lines(KnownHostsIndex.lines(for: "127.0.0.1", port: 40_007, in: path))
        #expect(got.count == kept.count + 1)
        #expect(got.contains("[127.0.0.1]:40007 ssh-ed25519 \(Self.key)"))
        for line in kept { #expect(got.contains(line), "\(line) was left out") }
        #expect(KnownHostsIndex.counts(path)?.plain == 2002)

        // Names compare without case; on port 22 the bare name counts too.
        let web = lines(KnownHostsIndex.lines(for: "Web-1", port: 2222, in: path))
        #expect(web.contains("web-1,[WEB-1]:2222,other ssh-ed25519 \(Self.key)"))
        #expect(!web.contains("web-1 ssh-rsa \(Self.key)"))
        let web22 = lines(KnownHostsIndex.lines(for: "web-1", port: 22, in: path))
        #expect(web22.contains("web-1 ssh-rsa \(Self.key)"))
        #expect(web22.contains("web-1,[WEB-1]:2222,other ssh-ed25519 \(Self.key)"))
    }

    @Test func aChangedFileIsReadAgain() throws {
        let path = try file(["[127.0.0.1]:40001 ssh-ed25519 \(Self.key)"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(lines(KnownHostsIndex.lines(for: "127.0.0.1", port: 40_002, in: path)).isEmpty)
        // An operator adds the host's key (written beside and renamed over, or in place).
        let added = ["[127.0.0.1]:40001 ssh-ed25519 \(Self.key)", "[127.0.0.1]:40002 ssh-ed25519 \(Self.key)"]
        try (added.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(lines(KnownHostsIndex.lines(for: "127.0.0.1", port: 40_002, in: path)) == [added[1]])
        #expect(KnownHostsIndex.lines(for: "127.0.0.1", port: 40_002, in: path + ".missing") == nil)
    }

    @Test func theLinesAreReadableByPathFromMemory() throws {
        let contents = Data("[127.0.0.1]:1 ssh-ed25519 \(Self.key)\n".utf8)
        let fd = try #require(KnownHostsIndex.memoryFile(contents))
        defer { close(fd) }
        #expect(FileManager.default.contents(atPath: "/proc/self/fd/\(fd)") == contents)
    }
}
