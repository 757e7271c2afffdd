import ChatProtocol

extension RoomCount {
    /// How many rooms a `room_list` names at most.
    static let listLength = 100

    /// The `room_list` of these rooms: those with members, the most first,
    /// ties by name, at most `listLength`, and `lobby` always (in the last
    /// place, with its count, when it would not make the list).
    static func busiest(_ counts: some Sequence<RoomCount>) -> [RoomCount] {
        var ranked = ranked(counts)
        if ranked.count > listLength {
            let lobby = ranked.first { $0.room == .lobby }
            ranked.removeSubrange(listLength...)
            if let lobby, !ranked.contains(where: { $0.room == .lobby }) { ranked[listLength - 1] = lobby }
        }
        return ranked
    }

    /// Every room with members, and `lobby`, the most members first, ties by name.
    static func ranked(_ counts: some Sequence<RoomCount>) -> [RoomCount] {
        var lobby = RoomCount(room: .lobby, count: 0)
        var others: [RoomCount] = []
        for entry in counts {
            if entry.room == .lobby {
                lobby = entry
            } else if entry.count > 0 {
                others.append(entry)
            }
        }
        others.append(lobby)
        others.sort { ($0.count, $1.room) > ($1.count, $0.room) }
        return others
    }
}
