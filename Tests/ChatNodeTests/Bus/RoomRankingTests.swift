import ChatProtocol
import Testing

@testable import ChatNode

/// PROTOCOL.md §6, `room_list`: rooms with members, the most first, ties by
/// name, at most 100, and always `lobby`.
@Suite("Room ranking: the room_list of a node running alone")
struct RoomRankingTests {
    private func room(_ name: String) -> RoomName { RoomName(trusted: name) }
    private func entries(_ list: [RoomCount]) -> [String] { list.map { "\($0.room):\($0.count)" } }

    @Test("the most members first, ties by name; a room that empties leaves the list; lobby is always there")
    func order() {
        var ranking = RoomRanking()
        ranking.set(room("zeta"), count: 2)
        ranking.set(room("beta"), count: 2)
        ranking.set(room("alpha"), count: 1)
        ranking.set(room("gamma"), count: 5)
        #expect(entries(ranking.busiest()) == ["gamma:5", "beta:2", "zeta:2", "alpha:1", "lobby:0"])
        ranking.set(room("gamma"), count: 0)
        ranking.set(room("alpha"), count: 3)
        ranking.set(.lobby, count: 2)
        #expect(entries(ranking.busiest()) == ["alpha:3", "beta:2", "lobby:2", "zeta:2"])
        #expect(entries(ranking.all) == ["alpha:3", "beta:2", "lobby:2", "zeta:2"])
    }

    @Test("at most the limit; lobby takes the last place when it would not make the list, with its count")
    func limit() {
        var ranking = RoomRanking()
        for index in 0..<150 { ranking.set(room("r\(1000 + index)"), count: 10 + index) }
        let list = ranking.busiest()
        #expect(list.count == 100)
        #expect(list.first == RoomCount(room: room("r1149"), count: 159))
        #expect(list.last == RoomCount(room: .lobby, count: 0))
        ranking.set(.lobby, count: 4)
        #expect(ranking.busiest().last == RoomCount(room: .lobby, count: 4))
        #expect(ranking.all.count == 151)
    }

    @Test("a cluster's list, from Redis's busiest rooms and lobby's count, puts lobby last with its count when it would not make the list")
    func clusterList() {
        var counts = (0..<200).map { RoomCount(room: room("r\(1000 + $0)"), count: 300 - $0) }
        counts.append(RoomCount(room: .lobby, count: 7))
        let list = RoomCount.busiest(counts)
        #expect(list.count == 100)
        #expect(list.first == RoomCount(room: room("r1000"), count: 300))
        #expect(list.last == RoomCount(room: .lobby, count: 7))
        #expect(entries(RoomCount.busiest([RoomCount(room: room("a"), count: 1)])) == ["a:1", "lobby:0"])
    }
}
