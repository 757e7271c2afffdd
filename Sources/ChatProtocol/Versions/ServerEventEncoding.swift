/// Encoding of server events, shared by the versions: v2 writes every v1
/// event the same way, adds `resumed` to `welcome`, and has `presence`; v3
/// names the room of every room event and has the room events of §6.
enum ServerEventEncoding {
    /// Encodes one event as compact JSON, ready to be a text frame's payload.
    static func encode(_ event: ServerEvent, version: ProtocolVersion) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        switch event {
        case .welcome(let nick, let node, let users, let history, let resumed, let ref):
            writer.member("type", "welcome")
            writer.member("nick", nick)
            writer.member("node", node)
            guard version < .v3 else {
                writer.optionalMember("ref", ref)
                break
            }
            writer.member("users", users)
            writeHistory(history, version: version, into: &writer)
            if version >= .v2 { writer.member("resumed", resumed) }
            writer.optionalMember("ref", ref)
        case .presence(let changes, let ts):
            writer.member("type", "presence")
            writeChanges(changes, version: version, into: &writer)
            writer.member("ts", ts)
        case .joined(let nick, let ts):
            writer.member("type", "joined")
            writer.member("nick", nick)
            writer.member("ts", ts)
        case .left(let nick, let ts, let reason):
            writer.member("type", "left")
            writer.member("nick", nick)
            writer.member("ts", ts)
            writer.member("reason", reason.beforeRooms.rawValue)
        case .message(let line, let ref):
            writeMessageFields(line, ref: ref, version: version, into: &writer)
        case .direct(let line, let ref):
            writer.member("type", "direct")
            writer.member("id", line.id)
            writer.member("from", line.from)
            writer.member("to", line.to)
            writer.member("text", line.text)
            writer.member("ts", line.ts)
            writer.optionalMember("ref", ref)
        case .users(let users, let ref):
            writer.member("type", "users")
            writer.member("users", users)
            writer.optionalMember("ref", ref)
        case .pong(let ref):
            writer.member("type", "pong")
            writer.optionalMember("ref", ref)
        case .error(let code, let message, let ref):
            writer.member("type", "error")
            writer.member("code", code.rawValue)
            writer.member("message", message)
            writer.optionalMember("ref", ref)
        case .room(let snapshot, let ref):
            writer.member("type", "room")
            writer.member("room", snapshot.room.value)
            writer.member("count", Int64(snapshot.count))
            writer.member("users", snapshot.users)
            writer.member("large", snapshot.large)
            writeHistory(snapshot.history, version: version, into: &writer)
            writer.member("resumed", snapshot.resumed)
            writer.optionalMember("ref", ref)
        case .roomPresence(let room, let count, let changes, let large, let users, let ts):
            writer.member("type", "presence")
            writer.member("room", room.value)
            writer.member("count", Int64(count))
            writeChanges(changes, version: version, into: &writer)
            if let large { writer.member("large", large) }
            if let users { writer.member("users", users) }
            writer.member("ts", ts)
        case .memberPage(let page, let ref):
            writer.member("type", "users")
            writer.member("room", page.room.value)
            writer.member("count", Int64(page.count))
            writer.member("users", page.users)
            writer.optionalMember("next", page.next)
            writer.optionalMember("ref", ref)
        case .parted(let room, let reason, let ref):
            writer.member("type", "parted")
            writer.member("room", room.value)
            writer.member("reason", reason.rawValue)
            writer.optionalMember("ref", ref)
        case .roomList(let rooms, let ref):
            writer.member("type", "room_list")
            writer.member("rooms", rooms)
            writer.optionalMember("ref", ref)
        }
        writer.endObject()
        return writer.bytes
    }

    private static func writeHistory(_ history: ArraySlice<ChatLine>, version: ProtocolVersion, into writer: inout JSONWriter) {
        writer.key("history")
        writer.beginArray()
        for line in history {
            writer.beginObject()
            writeMessageFields(line, ref: nil, version: version, into: &writer)
            writer.endObject()
        }
        writer.endArray()
    }

    /// `joined` and `left`; v1 and v2 clients know no `part` or `kicked` and see `quit`.
    private static func writeChanges(_ changes: PresenceChanges, version: ProtocolVersion, into writer: inout JSONWriter) {
        writer.member("joined", changes.joined)
        writer.key("left")
        writer.beginArray()
        for departure in changes.left {
            writer.beginObject()
            writer.member("nick", departure.nick)
            writer.member("reason", version < .v3 ? departure.reason.beforeRooms.rawValue : departure.reason.rawValue)
            writer.endObject()
        }
        writer.endArray()
    }

    private static func writeMessageFields(_ line: ChatLine, ref: String?, version: ProtocolVersion, into writer: inout JSONWriter) {
        writer.member("type", "message")
        if version >= .v3 { writer.member("room", line.room.value) }
        writer.member("id", line.id)
        writer.member("from", line.from)
        writer.member("text", line.text)
        writer.member("ts", line.ts)
        writer.optionalMember("ref", ref)
    }
}
