import ChatProtocol
import Testing

@testable import ChatNode

@Suite("Presence batch: net changes")
struct PresenceBatchTests {
    private let alice = Nick(trustedCanonical: "alice")
    private let bob = Nick(trustedCanonical: "bob")
    private let carl = Nick(trustedCanonical: "carl")

    @Test("a join and a leave in one batch are reported once each")
    func simple() {
        var batch = PresenceBatch()
        batch.joined(alice)
        batch.left(bob, reason: .timeout)
        #expect(batch.netChanges() == PresenceChanges(joined: ["alice"], left: [.init(nick: "bob", reason: .timeout)]))
    }

    @Test("joined then left again cancels out; left then back with the same nick too")
    func cancelling() {
        var batch = PresenceBatch()
        batch.joined(alice)
        batch.left(alice, reason: .quit)
        batch.left(bob, reason: .quit)
        batch.joined(bob)
        #expect(batch.netChanges().isEmpty)
    }

    @Test("left then back with another spelling is a leave and a join")
    func respelled() {
        var batch = PresenceBatch()
        batch.left(Nick(trustedCanonical: "Bob"), reason: .nodeDown)
        batch.joined(bob)
        #expect(batch.netChanges() == PresenceChanges(joined: ["bob"], left: [.init(nick: "Bob", reason: .nodeDown)]))
    }

    @Test("a client welcomed mid-batch gets only what happened after its welcome")
    func suffix() {
        var batch = PresenceBatch()
        batch.joined(alice)
        batch.left(carl, reason: .quit)
        let welcomed = batch.position
        batch.left(alice, reason: .timeout)
        batch.joined(bob)
        #expect(batch.netChanges() == PresenceChanges(joined: ["bob"], left: [.init(nick: "carl", reason: .quit)]))
        #expect(batch.netChanges(from: welcomed) == PresenceChanges(joined: ["bob"], left: [.init(nick: "alice", reason: .timeout)]))
        #expect(batch.netChanges(from: batch.position).isEmpty)
    }
}
