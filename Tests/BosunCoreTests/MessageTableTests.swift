import BosunCore
import Foundation
import Testing

/// The message table (issue 9): every protocol message type declared once; the codec, the spool
/// outbox and the store outbox derive from it.
@Suite struct MessageTableTests {
    @Test func everyCaseHasItsRowAndEveryRowItsCase() {
        let host = WireGoldenTests.hostMessages.map(\.message)
        let supervisor = WireGoldenTests.supervisorMessages.map(\.message)
        #expect(host.allSatisfy { $0.kind != nil })
        #expect(supervisor.allSatisfy { $0.kind != nil })
        #expect(Set(host.compactMap(\.kind)) == Set(HostMessage.table.types.map(\.kind)))
        #expect(Set(supervisor.compactMap(\.kind)) == Set(SupervisorMessage.table.types.map(\.kind)))
        // Names are unique on each side, and every row travels its side's way.
        #expect(Set(HostMessage.table.types.map(\.kind.name)).count == HostMessage.table.types.count)
        #expect(Set(SupervisorMessage.table.types.map(\.kind.name)).count == SupervisorMessage.table.types.count)
        #expect(HostMessage.table.types.allSatisfy { [.hostToSupervisor, .both].contains($0.kind.direction) })
        #expect(SupervisorMessage.table.types.allSatisfy { [.supervisorToHost, .both].contains($0.kind.direction) })
    }

    @Test func theTableSaysWhatIsAcknowledgedAndKeptInAnOutbox() {
        let acknowledged = (HostMessage.table.types + []).filter(\.kind.isAcknowledged).map(\.kind.name)
        #expect(acknowledged == ["thread", "request", "outcome", "local_decision", "event", "changed_files"])
        #expect(
            SupervisorMessage.table.types.filter(\.kind.isKeptInOutbox).map(\.kind.name) == [
                "decision", "steer", "pause", "resume",
            ])
        #expect(
            HostMessage.table.types.filter(\.kind.isKeptInOutbox).map(\.kind.name) == [
                "outcome", "local_decision", "event", "changed_files",
            ])
    }

    @Test func onlyOutboxKindsComeBackFromAnOutbox() throws {
        let decision = WireGoldenTests.decision
        let body = try Timestamp.makeEncoder().encode(decision)
        #expect(SupervisorMessage.fromOutbox(kind: "decision", body: body) == .decision(decision))
        #expect(SupervisorMessage.fromOutbox(kind: "welcome", body: body) == nil)
        #expect(SupervisorMessage.fromOutbox(kind: "launch_missiles", body: body) == nil)
        #expect(SupervisorMessage.fromOutbox(kind: "steer", body: body) == nil, "a body of another type")
        // The id a host applies each outbox message once by.
        #expect(SupervisorMessage.decision(decision).body?.idempotencyKey == "r1")
        let steer = Steer(messageID: "m1", threadID: "t", text: "x", from: "alice")
        #expect(SupervisorMessage.steer(steer).body?.idempotencyKey == "m1")
        #expect(
            SupervisorMessage.pause(Pause(scope: .all, threadID: nil, breakerID: "b", hard: false, reason: "r"))
                .body?.idempotencyKey == nil)
        #expect(throws: (any Error).self) {
            try Timestamp.makeEncoder().encode(OutboxEntry(HostMessage.pong(Probe(nonce: 1))))
        }
    }
}
