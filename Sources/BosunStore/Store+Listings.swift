public import BosunCore
import Foundation
import GRDB

extension Store {
    /// Requests with one of `status` (every request when empty), of `host` only when given, oldest
    /// first; the same requests `requests(status:)` returns, in summary.
    public func requestSummaries(status: [RequestStatus] = [], host: HostName? = nil) async throws(StoreError)
        -> [RequestSummary]
    {
        var clauses = ["json_valid(evidence)"]
        var arguments: StatementArguments = []
        if !status.isEmpty {
            clauses.append("status IN (\(status.map { _ in "?" }.joined(separator: ",")))")
            arguments += StatementArguments(status.map(\.rawValue))
        }
        if let host {
            // No host name holds a NUL (and none could be bound: GRDB passes C strings).
            guard !host.rawValue.utf8.contains(0) else { return [] }
            clauses.append("host = ?")
            arguments += [host]
        }
        // Strings come out of the evidence as JSON (escapes kept: json_extract with several paths
        // renders an array of the stored tokens), so a NUL in a command reaches the table whole,
        // never cut off where a C string would end.
        let sql = """
            SELECT number, host, thread_id, tier, status, created_at,
              json_extract(evidence, '$.command', '$.tool'), json_extract(evidence, '$.paths'), missing_evidence,
              (SELECT count(*) FROM reviews WHERE reviews.request_number = requests.number AND vote = 'approve')
            FROM requests WHERE \(clauses.joined(separator: " AND ")) ORDER BY number
            """
        return try await readValue { [arguments] db in
            var summaries: [RequestSummary] = []
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
            while let row = try rows.next() {
                guard let tier = Tier(rawValue: row[3]), let status = RequestStatus(rawValue: row[4]),
                    let strings = (row[6] as String?).flatMap(JSONStringArray.decodeOptionals), strings.count == 2,
                    let tool = strings[1]
                else { continue }
                summaries.append(
                    RequestSummary(
                        number: row[0], host: row[1], threadID: row[2], tier: tier, status: status,
                        createdAt: Date(timeIntervalSince1970: row[5]), command: strings[0], tool: tool,
                        paths: (row[7] as String?).flatMap(JSONStringArray.decode) ?? [],
                        missingEvidence: (row[8] as String?).flatMap(JSONStringArray.decode) ?? [],
                        approvals: row[9]))
            }
            return summaries
        }
    }
}
