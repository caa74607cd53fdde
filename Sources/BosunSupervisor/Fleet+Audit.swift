import BosunConfig
public import BosunCore
import BosunStore
import Foundation
import Logging

extension Fleet {
    var checkpointer: AuditCheckpointer {
        AuditCheckpointer(file: config.audit.checkpointFile, identity: config.identity)
    }

    public func auditEntries(_ filter: AuditFilter) async throws(FleetError) -> [AuditEntry] {
        try await controlCall { () async throws(StoreError) in
            try await store.auditEntries(filter)
        }
    }

    /// Checks the chain, the requests against it, and the chain against the checkpoints in
    /// `checkpointFile` (default: the configured file) including the newest one's signature.
    public func verifyAudit(checkpointFile: String? = nil) async throws(FleetError) -> AuditVerification {
        try await controlCall { () async throws(StoreError) in
            let checkpointer = checkpointer
            let loaded = await offThePool { () -> Result<[AuditCheckpoint], StoreError> in
                do throws(StoreError) { return .success(try checkpointer.load(checkpointFile)) } catch {
                    return .failure(error)
                }
            }
            let checkpoints = try loaded.get()
            var report = try await store.verifyAudit(checkpoints: checkpoints)
            if report.problem == nil, let newest = report.checkpoint {
                report.problem = await offThePool { checkpointer.signatureProblem(newest) }
            }
            return report
        }
    }

    /// Appends a signed checkpoint of the chain's head when it moved since the last one (bosund
    /// calls it every `[audit] checkpoint_interval`, and once more at a clean stop).
    public func checkpointAudit() async {
        do {
            guard let head = try await store.auditHead(), head.seq != checkpointedSeq else { return }
            let checkpointer = checkpointer
            let written = await offThePool { () -> Result<AuditCheckpoint, StoreError> in
                do throws(StoreError) { return .success(try checkpointer.append(seq: head.seq, hash: head.hash)) } catch
                {
                    return .failure(error)
                }
            }
            let checkpoint = try written.get()
            checkpointedSeq = checkpoint.seq
            logger.debug(
                "audit checkpoint",
                metadata: ["audit.seq": "\(checkpoint.seq)", "signed": "\(checkpoint.signature != nil)"])
        } catch {
            logger.error("audit checkpoint failed", metadata: ["error": "\(error)"])
        }
    }
}
