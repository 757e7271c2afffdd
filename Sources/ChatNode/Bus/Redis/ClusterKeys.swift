import ChatProtocol

/// The names of every Redis key and channel a cluster uses, all under its
/// `--cluster` prefix so several clusters can share one Redis. Every key
/// of one room carries the room's name as its hash tag (`{name}`), so a
/// Redis Cluster keeps them in one slot.
struct ClusterKeys: Sendable {
    let prefix: String

    /// Hash: nick key → `PresenceRecord` of the connection holding the nick.
    var users: String { "\(prefix):users" }
    /// Set of the instances that announced themselves alive.
    var instances: String { "\(prefix):instances" }
    /// Sorted set: room name → members, for `room_list`.
    var rooms: String { "\(prefix):rooms" }

    /// Hash of one room's members: nick key → `PresenceRecord`.
    func members(_ room: RoomName) -> String { "\(prefix):room:{\(room.value)}:members" }
    /// List of one room's recent `message` lines, newest first.
    func history(_ room: RoomName) -> String { "\(prefix):room:{\(room.value)}:history" }
    /// Channel of one room's events (messages, joins, leaves): a node
    /// subscribes to it only while it holds the room.
    func channel(_ room: RoomName) -> String { "\(prefix):room:{\(room.value)}:events" }
    /// Counter numbering one room's events, so a node that starts holding
    /// the room can tell the events its snapshot already shows.
    func sequence(_ room: RoomName) -> String { "\(prefix):room:{\(room.value)}:seq" }
    /// Set of the rooms an instance's users joined, for reaping it.
    func rooms(of instance: String) -> String { "\(prefix):inst:\(instance):rooms" }

    /// String with a TTL that an instance refreshes while it lives.
    func alive(_ instance: String) -> String { "\(prefix):alive:\(instance)" }
    /// Channel of the direct messages for one instance's users.
    func inbox(_ instance: String) -> String { "\(prefix):inbox:\(instance)" }

    /// The history list of builds before rooms, which held `lobby`'s lines.
    var historyBeforeRooms: String { "\(prefix):history" }

    /// A room's keys as a room script takes them: members, channel, rooms, history, sequence.
    func roomScriptKeys(_ room: RoomName) -> [String] {
        [members(room), channel(room), rooms, history(room), sequence(room)]
    }

    /// What a Redis ACL user must be allowed, for an operator who meets a refusal.
    static func accessNeeded(prefix: String) -> String {
        "an ACL user needs ~\(prefix):* &\(prefix):* +@connection +@read +@write +@pubsub +@scripting (and +role behind Sentinel)"
    }
}
