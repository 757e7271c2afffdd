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

    @Test("the encoder writes, for every start and both styles (v2, v3 with the room), exactly the event of the net changes from there")
    func encoderAgreesWithNetChanges() {
        var generator = SystemRandomNumberGenerator()
        let nicks = ["alice", "Bob", "bob", "carl", "Åsa", "dora", "eve"].map(Nick.init(trustedCanonical:))
        for round in 0..<200 {
            var batch = PresenceBatch()
            // Early rounds have distinct users only (the fast path); later ones repeat users.
            let pool = round < 50 ? nicks.shuffled(using: &generator) : nicks
            for index in 0..<Int.random(in: 0...12, using: &generator) {
                let nick = round < 50 ? pool[index % pool.count] : pool.randomElement(using: &generator)!
                if round < 50 && index >= pool.count { break }
                if Bool.random(using: &generator) {
                    batch.joined(nick)
                } else {
                    batch.left(nick, reason: LeaveReason.allCases.randomElement(using: &generator)!)
                }
            }
            let encoder = batch.encoder()
            for start in 0...batch.position {
                let expected = batch.netChanges(from: start)
                let payload = encoder.payload(from: start, ts: 42)
                if expected.isEmpty {
                    #expect(payload == nil)
                } else {
                    #expect(payload == ChatV2Codec.encode(.presence(expected, ts: 42)), "round \(round) start \(start)")
                    let rust = RoomName(trusted: "rust")
                    let v3 = encoder.payload(from: start, ts: 42, style: .room(rust, count: 3))
                    let v3Expected = ChatV3Codec.encode(.roomPresence(room: rust, count: 3, changes: expected, large: nil, users: nil, ts: 42))
                    #expect(v3 == v3Expected, "round \(round) start \(start)")
                    #expect(encoder.count(from: start) == expected.count)
                }
            }
        }
    }
}
