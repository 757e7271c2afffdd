import ChatProtocol

/// The rooms of a node running alone in `room_list` order (PROTOCOL.md §6:
/// the most members first, ties by name, `lobby` always), kept sorted as
/// counts change, so a `rooms` request reads the first entries instead of
/// sorting every room: it costs the same with ten rooms as with a million.
struct RoomRanking {
    private struct Entry: Comparable {
        let room: RoomName
        let count: Int

        static func < (lhs: Entry, rhs: Entry) -> Bool {
            lhs.count != rhs.count ? lhs.count > rhs.count : lhs.room < rhs.room
        }
    }

    /// The member count of every room that has members.
    private var counts: [RoomName: Int] = [:]
    private var order = SortedPages<Entry>()

    /// Notes that `room` has `count` members now.
    mutating func set(_ room: RoomName, count: Int) {
        let old = counts[room] ?? 0
        guard count != old else { return }
        if old > 0 { order.remove(Entry(room: room, count: old)) }
        if count > 0 {
            order.insert(Entry(room: room, count: count))
            counts[room] = count
        } else {
            counts[room] = nil
        }
    }

    /// The `room_list`: the busiest rooms and `lobby`, as `RoomCount.busiest`
    /// lists them, from the first entries of the ranking.
    func busiest() -> [RoomCount] {
        let first = order.prefix(RoomCount.listLength).map { RoomCount(room: $0.room, count: $0.count) }
        return RoomCount.busiest(first + [RoomCount(room: .lobby, count: counts[.lobby] ?? 0)])
    }

    /// Every room with members, and `lobby`, in order (the server API's list).
    var all: [RoomCount] {
        var list = order.all.map { RoomCount(room: $0.room, count: $0.count) }
        if counts[.lobby] == nil { list.append(RoomCount(room: .lobby, count: 0)) }
        return list
    }
}
