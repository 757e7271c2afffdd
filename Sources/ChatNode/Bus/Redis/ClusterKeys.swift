import ChatProtocol

/// The names of every Redis key and channel a cluster uses, all under its
/// `--cluster` prefix so several clusters can share one Redis. Keys carry
/// hash tags so that a Redis Cluster spreads them over its slots while
/// keeping together what one script touches: every key of one room shares
/// the room's name (`{name}`), each nick is a key of its own (`{nick key}`),
/// and each instance's sets share the instance id.
struct ClusterKeys: Sendable {
    let prefix: String

    /// String: the `PresenceRecord` of the connection holding a nick.
    func nick(_ key: NickKey) -> String { nick(key.value) }
    /// The same, for a nick key read back from Redis.
    func nick(_ key: String) -> String { "\(prefix):nick:{\(key)}" }
    /// Set of the instances that announced themselves alive.
    var instances: String { "\(prefix):instances" }
    /// Sorted set: room name → members, for `room_list` (the room directory).
    var rooms: String { "\(prefix):{rooms}" }
    /// The number of the room event whose count `rooms` shows for `room`
    /// (same slot as `rooms`); it expires a while after the room emptied.
    func directorySequence(_ room: RoomName) -> String { "\(prefix):{rooms}:seq:\(room.value)" }

    /// Hash of one room's members: nick key → `PresenceRecord`.
    func members(_ room: RoomName) -> String { "\(prefix):room:{\(room.value)}:members" }
    /// List of one room's recent `message` lines, newest first.
    func history(_ room: RoomName) -> String { "\(prefix):room:{\(room.value)}:history" }
    /// Channel of one room's events (messages, joins, leaves): a node
    /// subscribes to it only while it holds the room.
    func channel(_ room: RoomName) -> String { "\(prefix):room:{\(room.value)}:events" }
    /// The room whose events `channel` carries; nil for another channel.
    func room(ofChannel channel: String) -> RoomName? {
        let head = "\(prefix):room:{"
        let tail = "}:events"
        guard channel.hasPrefix(head), channel.hasSuffix(tail), channel.utf8.count > head.utf8.count + tail.utf8.count else { return nil }
        return RoomName(validating: String(channel.dropFirst(head.count).dropLast(tail.count)))
    }
    /// Counter numbering one room's events, so a node that starts holding
    /// the room can tell the events its snapshot already shows.
    func sequence(_ room: RoomName) -> String { "\(prefix):room:{\(room.value)}:seq" }
    /// A room's keys as the snapshot scripts take them: members, history, sequence.
    func roomSnapshotKeys(_ room: RoomName) -> [String] {
        [members(room), history(room), sequence(room)]
    }
    /// Set of the rooms an instance's users joined, for reaping it.
    func rooms(of instance: String) -> String { "\(prefix):inst:{\(instance)}:rooms" }
    /// Set of the nick keys an instance's users claimed, for reaping it and
    /// for its own clean-up after an outage (both cost its users, not all users).
    func nicks(of instance: String) -> String { "\(prefix):inst:{\(instance)}:nicks" }

    /// String with a TTL that an instance refreshes while it lives.
    func alive(_ instance: String) -> String { "\(prefix):alive:\(instance)" }
    /// Channel of the direct messages for one instance's users.
    func inbox(_ instance: String) -> String { "\(prefix):inbox:\(instance)" }

    /// The history list of builds before rooms, which held `lobby`'s lines.
    var historyBeforeRooms: String { "\(prefix):history" }

    /// A room's keys as a room script takes them: members, channel, history, sequence (one hash slot).
    func roomScriptKeys(_ room: RoomName) -> [String] {
        [members(room), channel(room), history(room), sequence(room)]
    }

    /// What a Redis ACL user must be allowed, for an operator who meets a refusal.
    static func accessNeeded(prefix: String) -> String {
        "an ACL user needs ~\(prefix):* &\(prefix):* +@connection +@read +@write +@pubsub +@scripting (and +role behind Sentinel)"
    }
}
