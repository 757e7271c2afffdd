import ChatProtocol

/// One room as a node holds it: what its clients were told (members and
/// history), its members on this node and the delivery to them, and when
/// its held presence changes go out.
struct Room {
    /// Members and history as this node's clients know them.
    var view: RoomView
    /// This node's members of the room.
    var fanout: LocalFanout
    var presenceSchedule: PresenceFlushSchedule
    /// Whether the room counts as large (PROTOCOL.md §6): its v3 members
    /// get counts instead of names and page with `who`.
    var isLarge = false

    init(name: RoomName, history: MessageHistory, presenceInterval: Duration) {
        self.view = RoomView(history: history)
        self.fanout = LocalFanout(room: name)
        self.presenceSchedule = PresenceFlushSchedule(interval: presenceInterval)
    }

    var name: RoomName { fanout.room }

    /// The `room` event for a member joining now, resuming after `since`
    /// when the history still holds it; a large room lists its first members only.
    func snapshot(since: String?) -> RoomSnapshot {
        let resumed = since.flatMap { view.history.lines(after: $0) }
        return RoomSnapshot(
            room: name,
            count: view.count,
            users: isLarge ? view.list.first(Room.largeRoomListLength) : view.list.encoded,
            large: isLarge,
            history: resumed ?? view.history.recent,
            resumed: resumed != nil
        )
    }

    /// How many members a large room's `room` event lists.
    static let largeRoomListLength = 100
}
