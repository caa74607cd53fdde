import CLibSSH
public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What it takes to open an exec channel to a host.
public struct SSHClientOptions: Sendable {
    public var address: String
    public var port: Int
    public var user: String
    /// Private key file; when nil or missing, keys from ssh-agent (`SSH_AUTH_SOCK`) are tried.
    public var identityFile: String?
    /// The supervisor's known_hosts file.
    public var knownHostsFile: String
    /// A `SHA256:…` fingerprint that replaces the known_hosts check.
    public var pinnedHostKey: String?
    public var connectTimeout: Double
    public var command: String

    public init(
        address: String, port: Int, user: String, identityFile: String?, knownHostsFile: String,
        pinnedHostKey: String?, connectTimeout: Double, command: String
    ) {
        self.address = address
        self.port = port
        self.user = user
        self.identityFile = identityFile
        self.knownHostsFile = knownHostsFile
        self.pinnedHostKey = pinnedHostKey
        self.connectTimeout = connectTimeout
        self.command = command
    }
}

/// One libssh client session with one exec channel running a command.
///
/// Every call blocks: use it from one dedicated thread only (libssh sessions are not thread-safe),
/// never from the Swift concurrency pool.
public final class SSHExecChannel {
    private let session: ssh_session
    private let channel: ssh_channel
    /// The host key's fingerprint as `SHA256:…`.
    public let hostKeyFingerprint: String

    private static let initialized: Bool = { ssh_init() == 0 }()

    /// Connects, verifies the host key, authenticates and starts `options.command`.
    public init(options: SSHClientOptions) throws(SSHError) {
        _ = Self.initialized
        guard let session = ssh_new() else { throw SSHError(.connect, "cannot allocate an SSH session") }
        var ok = false
        defer { if !ok { ssh_disconnect(session); ssh_free(session) } }

        var port = UInt32(options.port)
        var timeout = Int(options.connectTimeout.rounded(.up))
        var noDelay: Int32 = 1
        var verbosity: Int32 = 0
        var processConfig: Int8 = 0
        ssh_options_set(session, SSH_OPTIONS_HOST, options.address)
        ssh_options_set(session, SSH_OPTIONS_PORT, &port)
        ssh_options_set(session, SSH_OPTIONS_USER, options.user)
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout)
        ssh_options_set(session, SSH_OPTIONS_NODELAY, &noDelay)
        ssh_options_set(session, SSH_OPTIONS_LOG_VERBOSITY, &verbosity)
        ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &processConfig)
        // libssh reads known_hosts four times per connection (the key algorithms to offer, the
        // check; the user and the "global" file, both this one): it gets the lines that can concern
        // this host only (KnownHostsIndex), in memory, and the file's path again once checked.
        var knownHosts = options.knownHostsFile
        var linesFile: Int32 = -1
        defer { if linesFile >= 0 { close(linesFile) } }
        if let lines = KnownHostsIndex.lines(for: options.address, port: options.port, in: options.knownHostsFile),
            let fd = KnownHostsIndex.memoryFile(lines)
        {
            linesFile = fd
            knownHosts = "/proc/self/fd/\(fd)"
        }
        ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, knownHosts)
        ssh_options_set(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, knownHosts)

        let connected = ssh_connect(session)
        guard connected == SSH_OK else {
            throw SSHError(
                .connect, "cannot connect to \(options.address):\(options.port): \(Self.lastError(session))",
                libsshCode: connected)
        }
        let fingerprint = try Self.verifyHostKey(session, options: options)
        // Later key exchanges (rekeying) read the file itself, never a descriptor number reused.
        ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, options.knownHostsFile)
        ssh_options_set(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, options.knownHostsFile)

        try Self.authenticate(session, options: options)

        guard let channel = ssh_channel_new(session) else {
            throw SSHError(.channel, "cannot allocate a channel: \(Self.lastError(session))")
        }
        let opened = ssh_channel_open_session(channel)
        guard opened == SSH_OK else {
            ssh_channel_free(channel)
            throw SSHError(
                .channel, "cannot open a session channel: \(Self.lastError(session))", libsshCode: opened)
        }
        let started = ssh_channel_request_exec(channel, options.command)
        guard started == SSH_OK else {
            ssh_channel_close(channel)
            ssh_channel_free(channel)
            throw SSHError(
                .channel, "cannot run \"\(options.command)\": \(Self.lastError(session))", libsshCode: started)
        }
        self.session = session
        self.channel = channel
        self.hostKeyFingerprint = fingerprint
        ok = true
    }

    deinit {
        ssh_channel_close(channel)
        ssh_channel_free(channel)
        ssh_disconnect(session)
        ssh_free(session)
    }

    /// Writes all of `data` to the command's stdin.
    public func write(_ data: Data) throws(SSHError) {
        let written: Int32 = data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return 0 }
            return ssh_channel_write(channel, base, UInt32(raw.count))
        }
        guard written == Int32(data.count) else {
            throw SSHError(.io, "write failed: \(Self.lastError(session))", libsshCode: min(written, 0))
        }
    }

    /// Returns whatever the command wrote to stdout and stderr without waiting.
    /// Throws `.closed` once the command has ended and everything was read.
    public func readAvailable() throws(SSHError) -> (stdout: Data, stderr: Data) {
        // stderr first: reading one stream reads the socket when its own buffer is empty, and the
        // packets it reads may carry the other stream's data into libssh's buffers, where `wait`
        // (a poll of the socket) cannot see it. Drained last, stdout's final read of the socket
        // found nothing more, so a host's message (an ack) is never left there while the link
        // sleeps to its next ping; a few bytes of stderr (only logged) may wait for the next wake.
        let err = try drain(stderr: true)
        let out = try drain(stderr: false)
        if out.isEmpty && err.isEmpty && (ssh_channel_is_eof(channel) != 0 || ssh_channel_is_closed(channel) != 0) {
            let status = ssh_channel_get_exit_status(channel)
            throw SSHError(
                .closed, status >= 0 ? "the host command exited with status \(status)" : "the host closed the channel")
        }
        return (out, err)
    }

    /// Read in pieces of this size, on the link thread's stack: a buffer kept per channel would
    /// be resident memory for every link (64 KiB each was 128 MB at 2,000 hosts).
    static let readChunk = 16 * 1024

    private func drain(stderr: Bool) throws(SSHError) -> Data {
        var result = Data()
        var failure: Int32?
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { buffer in
            while true {
                let n = ssh_channel_read_nonblocking(channel, buffer.baseAddress, UInt32(buffer.count), stderr ? 1 : 0)
                if n > 0, let base = buffer.baseAddress {
                    result.append(base.assumingMemoryBound(to: UInt8.self), count: Int(n))
                    continue
                }
                if n == SSH_ERROR { failure = n }
                return  // 0 (nothing now), SSH_EOF or an error
            }
        }
        if let failure {
            throw SSHError(.io, "read failed: \(Self.lastError(session))", libsshCode: failure)
        }
        return result
    }

    /// Acknowledges received TCP data at once. The host's sshd runs a non-interactive exec channel
    /// without TCP_NODELAY, so its small writes wait for our ACK (Nagle); delayed ACKs would add up
    /// to 40 ms to every request. Linux resets the flag after use, so call it after each read.
    public func acknowledgeQuickly() {
        var one: Int32 = 1
        setsockopt(
            ssh_get_fd(session), Int32(IPPROTO_TCP), 12 /* TCP_QUICKACK */, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Blocks until the session socket or `wakeDescriptor` is readable, or `timeoutMs` passes.
    /// Returns true when `wakeDescriptor` fired.
    public func wait(wakeDescriptor: Int32, timeoutMs: Int32) -> Bool {
        var fds = [
            pollfd(fd: ssh_get_fd(session), events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&fds, 2, timeoutMs)
        return ready > 0 && fds[1].revents & Int16(POLLIN) != 0
    }

    // MARK: Steps

    private static func verifyHostKey(_ session: ssh_session, options: SSHClientOptions) throws(SSHError) -> String {
        var key: ssh_key?
        guard ssh_get_server_publickey(session, &key) == SSH_OK, let key else {
            throw SSHError(.connect, "the host sent no public key: \(lastError(session))")
        }
        defer { ssh_key_free(key) }
        let fingerprint = try Self.fingerprint(key)
        let target = "[\(options.address)]:\(options.port)"
        if let pin = options.pinnedHostKey {
            guard pin == fingerprint else {
                throw SSHError(
                    .hostKeyChanged,
                    "host key mismatch for \(target): host presented \(fingerprint), host_key pins \(pin); refusing")
            }
            return fingerprint
        }
        let known = ssh_session_is_known_server(session)
        switch known {
        case SSH_KNOWN_HOSTS_OK:
            return fingerprint
        case SSH_KNOWN_HOSTS_CHANGED:
            throw SSHError(
                .hostKeyChanged,
                "HOST KEY CHANGED for \(target): now \(fingerprint), which differs from \(options.knownHostsFile); refusing (possible impersonation; update known_hosts only after verifying)",
                libsshCode: known.rawValue
            )
        case SSH_KNOWN_HOSTS_OTHER:
            throw SSHError(
                .hostKeyChanged,
                "host key for \(target) is of another type than in \(options.knownHostsFile) (\(fingerprint)); refusing",
                libsshCode: known.rawValue
            )
        case SSH_KNOWN_HOSTS_NOT_FOUND, SSH_KNOWN_HOSTS_UNKNOWN:
            throw SSHError(
                .hostKeyUnknown,
                "unknown host key \(fingerprint) for \(target): not in \(options.knownHostsFile); verify it, then add it there or pin host_key",
                libsshCode: known.rawValue
            )
        default:
            throw SSHError(
                .connect, "cannot check host key against \(options.knownHostsFile): \(lastError(session))",
                libsshCode: known.rawValue)
        }
    }

    private static func fingerprint(_ key: ssh_key) throws(SSHError) -> String {
        var hash: UnsafeMutablePointer<UInt8>?
        var length = 0
        guard ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) == 0, let bytes = hash else {
            throw SSHError(.connect, "cannot hash the host key")
        }
        let base64 = Data(bytes: bytes, count: length).base64EncodedString()
        ssh_clean_pubkey_hash(&hash)
        return "SHA256:" + base64.replacingOccurrences(of: "=", with: "")
    }

    private static func authenticate(_ session: ssh_session, options: SSHClientOptions) throws(SSHError) {
        if let identity = options.identityFile, FileManager.default.fileExists(atPath: identity) {
            var key: ssh_key?
            guard ssh_pki_import_privkey_file(identity, nil, nil, nil, &key) == SSH_OK, let key else {
                throw SSHError(.authentication, "cannot read private key \(identity)")
            }
            defer { ssh_key_free(key) }
            let result = ssh_userauth_publickey(session, nil, key)
            guard result == SSH_AUTH_SUCCESS.rawValue else {
                throw SSHError(
                    .authentication,
                    "key \(identity) was not accepted by \(options.user)@\(options.address):\(options.port): \(lastError(session))",
                    libsshCode: result)
            }
            return
        }
        guard ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"] != nil else {
            throw SSHError(
                .authentication,
                "no usable key: \(options.identityFile ?? "identity") does not exist and SSH_AUTH_SOCK is not set")
        }
        let result = ssh_userauth_agent(session, nil)
        guard result == SSH_AUTH_SUCCESS.rawValue else {
            throw SSHError(
                .authentication,
                "no ssh-agent key was accepted by \(options.user)@\(options.address):\(options.port): \(lastError(session))",
                libsshCode: result)
        }
    }

    private static func lastError(_ session: ssh_session) -> String {
        guard let text = ssh_get_error(UnsafeMutableRawPointer(session)) else { return "unknown error" }
        return String(cString: text)
    }
}
