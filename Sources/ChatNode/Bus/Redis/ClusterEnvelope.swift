import ChatProtocol

/// An event as nodes send it to each other through Redis.
///
/// The envelope is JSON with a version `v`. Nodes ignore fields and kinds
/// they do not know, so a newer node can add optional fields (or new kinds
/// older nodes skip) during a rolling upgrade.
struct ClusterEnvelope: Equatable {
    /// The envelope format this build writes.
    static let version: Int64 = 1

    enum Event: Equatable {
        case message(ChatLine)
        /// A direct line for the connection `connection` on the receiving instance.
        case direct(DirectLine, connection: UInt64)
        /// `owner` is the joining connection, `instance/connection`.
        case joined(nick: String, owner: String, ts: Int64, room: RoomName = .lobby)
        case left(nick: String, owner: String, ts: Int64, reason: LeaveReason, room: RoomName = .lobby)
        /// Many users left a room at once (a draining or dead node): one message, applied in one pass.
        case leftMany([Departure], ts: Int64, reason: LeaveReason, room: RoomName = .lobby)
        /// The server API removes the connection `connection` of the receiving instance from `room` (§7).
        case kick(nick: String, connection: UInt64, room: RoomName)
        /// The server API closes the connection `connection` of the receiving instance (§7).
        case disconnect(nick: String, connection: UInt64, reason: String)

        /// The room whose stream carries the event; nil for what goes to one instance's inbox.
        var room: RoomName? {
            switch self {
            case .message(let line): line.room
            case .direct, .kick, .disconnect: nil
            case .joined(_, _, _, let room), .left(_, _, _, _, let room), .leftMany(_, _, _, let room): room
            }
        }
    }

    /// One user of a `leftMany` event: `owner` is the connection that held the nick.
    struct Departure: Equatable {
        var nick: String
        var owner: String
    }

    /// The instance that produced the event. Every node, that one included,
    /// applies the event when it comes back through the stream; the field is
    /// for operators reading the channel (`redis-cli subscribe`) and for logs.
    var origin: String
    var event: Event
    /// The event's number in its room's sequence, which the script that
    /// published it put in front (`ClusterScripts`); nil for a direct line.
    var sequence: Int64?

    func encoded() -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.member("v", Self.version)
        writer.member("origin", origin)
        switch event {
        case .message(let line):
            writer.member("kind", "message")
            writer.member("room", line.room.value)
            writer.member("id", line.id)
            writer.member("from", line.from)
            writer.member("text", line.text)
            writer.member("ts", line.ts)
        case .direct(let line, let connection):
            writer.member("kind", "direct")
            writer.member("id", line.id)
            writer.member("from", line.from)
            writer.member("to", line.to)
            writer.member("text", line.text)
            writer.member("ts", line.ts)
            writer.member("conn", String(connection))
        case .joined(let nick, let owner, let ts, let room):
            writer.member("kind", "joined")
            writer.member("room", room.value)
            writer.member("nick", nick)
            writer.member("owner", owner)
            writer.member("ts", ts)
        case .left(let nick, let owner, let ts, let reason, let room):
            writer.member("kind", "left")
            writer.member("room", room.value)
            writer.member("nick", nick)
            writer.member("owner", owner)
            writer.member("ts", ts)
            writer.member("reason", reason.rawValue)
        case .leftMany(let departures, let ts, let reason, let room):
            writer.member("kind", "left_many")
            writer.member("room", room.value)
            writer.key("users")
            writer.beginArray()
            for departure in departures {
                writer.beginObject()
                writer.member("nick", departure.nick)
                writer.member("owner", departure.owner)
                writer.endObject()
            }
            writer.endArray()
            writer.member("ts", ts)
            writer.member("reason", reason.rawValue)
        case .kick(let nick, let connection, let room):
            writer.member("kind", "kick")
            writer.member("nick", nick)
            writer.member("conn", String(connection))
            writer.member("room", room.value)
        case .disconnect(let nick, let connection, let reason):
            writer.member("kind", "disconnect")
            writer.member("nick", nick)
            writer.member("conn", String(connection))
            writer.member("reason", reason)
        }
        writer.endObject()
        return writer.bytes
    }

    /// Decodes an envelope; nil for malformed ones and kinds this build does not know.
    static func decode(_ bytes: [UInt8]) -> ClusterEnvelope? {
        guard case .object(let object) = try? JSONParser.parse(bytes),
            let origin = object["origin"]?.stringValue,
            let kind = object["kind"]?.stringValue
        else { return nil }
        var envelope = decodeEvent(object, origin: origin, kind: kind)
        envelope?.sequence = object["seq"]?.int64Value
        return envelope
    }

    private static func decodeEvent(_ object: [String: JSONValue], origin: String, kind: String) -> ClusterEnvelope? {
        func string(_ name: String) -> String? { object[name]?.stringValue }
        func integer(_ name: String) -> Int64? { object[name]?.int64Value }
        // Envelopes of builds before rooms name none: theirs were `lobby`'s.
        let room = string("room").flatMap(RoomName.init(validating:)) ?? .lobby
        switch kind {
        case "message":
            guard let line = ChatLine(fields: object) else { return nil }
            return ClusterEnvelope(origin: origin, event: .message(line))
        case "direct":
            guard let id = string("id"), let from = string("from"), let to = string("to"), let text = string("text"),
                let ts = integer("ts"), let connection = string("conn").flatMap({ UInt64($0) })
            else { return nil }
            return ClusterEnvelope(
                origin: origin,
                event: .direct(DirectLine(id: id, from: from, to: to, text: text, ts: ts), connection: connection)
            )
        case "joined":
            guard let nick = string("nick"), let owner = string("owner"), let ts = integer("ts") else { return nil }
            return ClusterEnvelope(origin: origin, event: .joined(nick: nick, owner: owner, ts: ts, room: room))
        case "left":
            guard let nick = string("nick"), let owner = string("owner"), let ts = integer("ts"),
                let reason = string("reason").flatMap(LeaveReason.init(rawValue:))
            else { return nil }
            return ClusterEnvelope(origin: origin, event: .left(nick: nick, owner: owner, ts: ts, reason: reason, room: room))
        case "left_many":
            guard case .array(let users) = object["users"], let ts = integer("ts"),
                let reason = string("reason").flatMap(LeaveReason.init(rawValue:))
            else { return nil }
            let departures = users.compactMap { user -> Departure? in
                guard case .object(let fields) = user, let nick = fields["nick"]?.stringValue,
                    let owner = fields["owner"]?.stringValue
                else { return nil }
                return Departure(nick: nick, owner: owner)
            }
            return ClusterEnvelope(origin: origin, event: .leftMany(departures, ts: ts, reason: reason, room: room))
        case "kick":
            guard let nick = string("nick"), let connection = string("conn").flatMap({ UInt64($0) }) else { return nil }
            return ClusterEnvelope(origin: origin, event: .kick(nick: nick, connection: connection, room: room))
        case "disconnect":
            guard let nick = string("nick"), let connection = string("conn").flatMap({ UInt64($0) }), let reason = string("reason") else {
                return nil
            }
            return ClusterEnvelope(origin: origin, event: .disconnect(nick: nick, connection: connection, reason: reason))
        default:
            return nil
        }
    }
}

/// Who holds a nick: the value stored under the nick's key, and in each
/// room it is a member of. A logged-in user (§7) may hold it through several
/// connections: the first in the record's own fields, the others in `more`
/// (written by the scripts, `ClusterScripts.holders`).
struct PresenceRecord: Equatable {
    var nick: String
    var instance: String
    var node: String
    var connection: UInt64
    /// The logged-in user's `sub`, or nil without login tokens.
    var subject: String? = nil
    /// The user's other connections, each as instance and connection.
    var others: [(instance: String, connection: UInt64)] = []

    static func == (lhs: PresenceRecord, rhs: PresenceRecord) -> Bool {
        lhs.nick == rhs.nick && lhs.instance == rhs.instance && lhs.node == rhs.node && lhs.connection == rhs.connection
            && lhs.subject == rhs.subject && lhs.others.elementsEqual(rhs.others) { $0 == $1 }
    }

    /// The record of one connection, as this node writes it.
    func encoded() -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.member("nick", nick)
        writer.member("inst", instance)
        writer.member("node", node)
        writer.member("conn", String(connection))
        writer.optionalMember("sub", subject)
        writer.endObject()
        return writer.bytes
    }

    /// The `owner` string events carry for this holder: the logged-in user,
    /// whichever of its connections comes and goes, else the one connection.
    var owner: String { subject.map { "~" + $0 } ?? "\(instance)/\(connection)" }

    /// Every connection holding the nick, the first one first.
    var holders: [(instance: String, connection: UInt64)] { [(instance, connection)] + others }

    /// Whether `connection` of `instance` is one of the holders.
    func isHeld(by connection: UInt64, of instance: String) -> Bool {
        holders.contains { $0.instance == instance && $0.connection == connection }
    }

    static func decode(_ bytes: [UInt8]) -> PresenceRecord? {
        guard case .object(let object) = try? JSONParser.parse(bytes),
            let nick = object["nick"]?.stringValue,
            let instance = object["inst"]?.stringValue,
            let node = object["node"]?.stringValue,
            let connection = object["conn"]?.stringValue.flatMap({ UInt64($0) })
        else { return nil }
        var record = PresenceRecord(nick: nick, instance: instance, node: node, connection: connection, subject: object["sub"]?.stringValue)
        if case .array(let more) = object["more"] {
            for case .object(let other) in more {
                guard let instance = other["inst"]?.stringValue, let connection = other["conn"]?.stringValue.flatMap({ UInt64($0) }) else { continue }
                record.others.append((instance, connection))
            }
        }
        return record
    }
}

extension ChatLine {
    /// Reads a line back from the history list, which holds message envelopes
    /// (and, from older nodes, `message` events): both carry the line's fields.
    init?(storedForm bytes: [UInt8]) {
        guard case .object(let object) = try? JSONParser.parse(bytes) else { return nil }
        self.init(fields: object)
    }
}
