import BosunCore
import CLibSSH
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The front door's persistent host key: created once (ed25519, mode 0600), then only ever read.
enum FrontDoorHostKey {
    /// Makes sure a usable private key exists at `path` and returns its public half.
    static func prepare(at path: String, logger: Logger) throws(SSHError) -> FrontDoorKey {
        if access(path, F_OK) != 0 {
            try generate(at: path, logger: logger)
        }
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            logger.warning(
                "front door host key was readable by others; restricting it to 0600",
                metadata: ["frontdoor.host_key": "\(path)"])
            chmod(path, 0o600)
        }
        var privateKey: ssh_key?
        guard ssh_pki_import_privkey_file(path, nil, nil, nil, &privateKey) == SSH_OK, let privateKey else {
            throw SSHError(.io, "cannot read the front door host key \(path): not an unencrypted OpenSSH private key")
        }
        defer { ssh_key_free(privateKey) }
        return try publicKey(of: privateKey, path: path)
    }

    /// The public key of a libssh key as `type`, `base64` and fingerprint.
    static func publicKey(of key: ssh_key, path: String) throws(SSHError) -> FrontDoorKey {
        var publicKey: ssh_key?
        guard ssh_pki_export_privkey_to_pubkey(key, &publicKey) == SSH_OK, let publicKey else {
            throw SSHError(.io, "cannot derive the public key of \(path)")
        }
        defer { ssh_key_free(publicKey) }
        guard let key = FrontDoorKey(libsshKey: publicKey) else {
            throw SSHError(.io, "cannot encode the public key of \(path)")
        }
        return key
    }

    private static func generate(at path: String, logger: Logger) throws(SSHError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        var key: ssh_key?
        guard ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) == SSH_OK, let key else {
            throw SSHError(.io, "cannot generate an ed25519 host key")
        }
        defer { ssh_key_free(key) }
        var exported: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_privkey_base64(key, nil, nil, nil, &exported) == SSH_OK, let exported else {
            throw SSHError(.io, "cannot encode the generated host key")
        }
        let text = String(cString: exported)
        ssh_string_free_char(exported)

        // Written under a temporary name with mode 0600 from the start, then linked into place so a
        // concurrent starter never sees half a key and never overwrites one that already exists.
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SSHError(.io, "cannot create the front door host key \(path): \(String(cString: strerror(errno)))")
        }
        defer { unlink(temporary) }
        let written = FileDescriptor.writeAll(fd, Array(text.utf8))
        let synced = fsync(fd) == 0
        close(fd)
        guard written, synced else {
            throw SSHError(.io, "cannot write the front door host key \(path): \(String(cString: strerror(errno)))")
        }
        if link(temporary, path) != 0 && errno != EEXIST {
            throw SSHError(.io, "cannot install the front door host key \(path): \(String(cString: strerror(errno)))")
        }
        logger.notice("generated a new front door host key", metadata: ["frontdoor.host_key": "\(path)"])
    }
}

extension FrontDoorKey {
    /// The public part of a libssh key; nil when libssh cannot encode it.
    init?(libsshKey key: ssh_key) {
        var encoded: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_pubkey_base64(key, &encoded) == SSH_OK, let encoded else { return nil }
        let base64 = String(cString: encoded)
        ssh_string_free_char(encoded)
        guard let blob = Data(base64Encoded: base64), let typeName = ssh_key_type_to_char(ssh_key_type(key)) else {
            return nil
        }
        self.init(type: String(cString: typeName), base64: base64, fingerprint: Self.fingerprint(of: blob))
    }
}
