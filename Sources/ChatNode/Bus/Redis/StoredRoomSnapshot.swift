import Redis

/// One room's members, recent history and event number, read at one point
/// of its sequence by `ClusterScripts.roomSnapshot` (or, with only the lines
/// a node missed, by `ClusterScripts.roomCatchUp`).
struct StoredRoomSnapshot {
    /// The number of the room's last event the snapshot shows.
    let sequence: Int64
    /// The members hash, as `HGETALL` lists it.
    let members: RedisReply
    /// The history list, newest first, as `LRANGE` lists it.
    let history: RedisReply

    init?(_ reply: RedisReply?) {
        guard case .array(let parts) = reply, parts.count == 3, let sequence = parts[0].integer else { return nil }
        self.sequence = sequence
        self.members = parts[1]
        self.history = parts[2]
    }
}
