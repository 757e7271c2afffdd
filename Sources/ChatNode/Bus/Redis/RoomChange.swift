import Redis

/// What a room script answers (`ClusterScripts`): how many members it
/// listed or unlisted, the room's count and event number after it, and the
/// room. A change is then written to the room directory (`roomCount`),
/// which lives in another hash slot than the room.
struct RoomChange: Equatable {
    let changed: Int64
    let count: Int64
    let sequence: Int64
    let room: String

    init(changed: Int64, count: Int64, sequence: Int64, room: String) {
        (self.changed, self.count, self.sequence, self.room) = (changed, count, sequence, room)
    }

    /// The change a reply reports, if it is a room script's reply.
    init?(reply: RedisReply?) {
        guard case .array(let fields) = reply, fields.count == 4,
            let changed = fields[0].integer, let count = fields[1].integer, let sequence = fields[2].integer,
            let room = fields[3].string
        else { return nil }
        (self.changed, self.count, self.sequence, self.room) = (changed, count, sequence, room)
    }
}
