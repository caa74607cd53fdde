public import BosunCore
public import BosunStore
public import Foundation

/// Writes and checks the audit chain's checkpoints: one line per checkpoint, appended to a file
/// outside the database and signed with the supervisor's SSH key by OpenSSH's own `ssh-keygen -Y`
/// (namespace `bosun-audit`), so anyone can check a checkpoint with standard tools.
public struct AuditCheckpointer: Sendable {
    /// The checkpoint file (appended to, never rewritten).
    public let file: String
    /// The supervisor's private key; checkpoints are written unsigned when it is missing.
    public let identity: String
    public static let namespace = "bosun-audit"
    static let keygen = "/usr/bin/ssh-keygen"

    public init(file: String, identity: String) {
        self.file = file
        self.identity = identity
    }

    /// Signs and appends a checkpoint of `head`. Blocking: call off the concurrency pool.
    public func append(seq: Int64, hash: String, at date: Date = Date()) throws(StoreError) -> AuditCheckpoint {
        var checkpoint = AuditCheckpoint(seq: seq, hash: hash, at: Timestamp.format(date))
        if FileManager.default.isReadableFile(atPath: identity) {
            let signed = Self.run(
                ["-Y", "sign", "-q", "-f", identity, "-n", Self.namespace], input: Data(checkpoint.message.utf8))
            guard signed.status == 0, let text = String(data: signed.output, encoding: .utf8), !text.isEmpty else {
                throw StoreError("cannot sign audit checkpoint with \(identity): \(signed.error)", code: .file)
            }
            checkpoint.signature = text
        }
        let descriptor = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StoreError("cannot open \(file): \(String(cString: strerror(errno)))", code: .file)
        }
        defer { close(descriptor) }
        let bytes = Array(checkpoint.line.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw StoreError("cannot write \(file): \(String(cString: strerror(errno)))", code: .file)
        }
        return checkpoint
    }

    /// Reads the checkpoints in `path` (default: this checkpointer's file); none when it does not exist.
    public func load(_ path: String? = nil) throws(StoreError) -> [AuditCheckpoint] {
        let path = path ?? file
        guard FileManager.default.fileExists(atPath: path) else {
            if path == file { return [] }
            throw StoreError("\(path): no such checkpoint file", code: .file)
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else { throw StoreError("\(path): cannot read it as UTF-8 text", code: .file) }
        return try AuditCheckpoint.parse(text, file: path)
    }

    /// Checks `checkpoint`'s signature against the public half of the supervisor's key; returns
    /// the problem, or nil when it verifies.
    public func signatureProblem(_ checkpoint: AuditCheckpoint) -> String? {
        guard let signature = checkpoint.signature else {
            return "the checkpoint of \(checkpoint.at) (row \(checkpoint.seq)) is not signed"
        }
        let publicKey = Self.run(["-y", "-f", identity], input: Data())
        guard publicKey.status == 0, let key = String(data: publicKey.output, encoding: .utf8) else {
            return "cannot read the supervisor's public key from \(identity): \(publicKey.error)"
        }
        let directory = NSTemporaryDirectory() + "bosun-verify-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            try "bosund \(key.trimmingCharacters(in: .whitespacesAndNewlines))\n".write(
                toFile: directory + "/allowed_signers", atomically: true, encoding: .utf8)
            try signature.write(toFile: directory + "/signature", atomically: true, encoding: .utf8)
        } catch {
            return "cannot prepare signature check: \(error)"
        }
        let verified = Self.run(
            [
                "-Y", "verify", "-f", directory + "/allowed_signers", "-I", "bosund", "-n", Self.namespace, "-s",
                directory + "/signature",
            ], input: Data(checkpoint.message.utf8))
        guard verified.status == 0 else {
            return "the checkpoint of \(checkpoint.at) (row \(checkpoint.seq)) has a bad signature: forged or edited"
        }
        return nil
    }

    static func run(_ arguments: [String], input: Data) -> (status: Int32, output: Data, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: keygen)
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            return (-1, Data(), "cannot run \(keygen): \(error)")
        }
        stdin.fileHandleForWriting.write(input)
        try? stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let error = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, output,
            String(decoding: error, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        )
    }
}
