import ChatProtocol
import Testing

@testable import ChatNode

@Suite("Room catch-up after a cut channel")
struct RoomCatchUpTests {
    let keys = ClusterKeys(prefix: "chat")

    @Test("a room's channel names the room; other channels name none")
    func roomOfChannel() {
        for name in ["lobby", "a", "rust-2.0_x"] {
            let room = RoomName(trusted: name)
            #expect(keys.room(ofChannel: keys.channel(room)) == room)
        }
        #expect(keys.room(ofChannel: keys.inbox("abc")) == nil)
        #expect(keys.room(ofChannel: "chat:room:{}:events") == nil)
        #expect(keys.room(ofChannel: "other:room:{lobby}:events") == nil)
        #expect(keys.room(ofChannel: "chat:room:{Lobby}:events") == nil, "not a room name")
    }

    @Test("held events are kept in arrival order; beyond capacity the oldest go (the snapshot's history and members stand in for them)")
    func holdsBoundedly() {
        var catchUp = RoomCatchUp(capacity: 3)
        for number in 1...5 {
            catchUp.hold(.joined(nick: "u\(number)", owner: "i/\(number)", ts: 0, room: .lobby), sequence: Int64(number))
        }
        #expect(catchUp.held.map(\.sequence) == [3, 4, 5])
        #expect(catchUp.phase == .awaitingSubscription)
    }
}
