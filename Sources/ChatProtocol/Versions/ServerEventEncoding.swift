/// Encoding of server events, shared by the versions: v2 writes every v1
/// event the same way, adds `resumed` to `welcome`, and has `presence`.
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
            writer.member("users", users)
            writer.key("history")
            writer.beginArray()
            for line in history {
                writer.beginObject()
                writeMessageFields(line, ref: nil, into: &writer)
                writer.endObject()
            }
            writer.endArray()
            if version >= .v2 { writer.member("resumed", resumed) }
            writer.optionalMember("ref", ref)
        case .presence(let changes, let ts):
            writer.member("type", "presence")
            writer.member("joined", changes.joined)
            writer.key("left")
            writer.beginArray()
            for departure in changes.left {
                writer.beginObject()
                writer.member("nick", departure.nick)
                writer.member("reason", departure.reason.rawValue)
                writer.endObject()
            }
            writer.endArray()
            writer.member("ts", ts)
        case .joined(let nick, let ts):
            writer.member("type", "joined")
            writer.member("nick", nick)
            writer.member("ts", ts)
        case .left(let nick, let ts, let reason):
            writer.member("type", "left")
            writer.member("nick", nick)
            writer.member("ts", ts)
            writer.member("reason", reason.rawValue)
        case .message(let line, let ref):
            writeMessageFields(line, ref: ref, into: &writer)
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
        }
        writer.endObject()
        return writer.bytes
    }

    private static func writeMessageFields(_ line: ChatLine, ref: String?, into writer: inout JSONWriter) {
        writer.member("type", "message")
        writer.member("id", line.id)
        writer.member("from", line.from)
        writer.member("text", line.text)
        writer.member("ts", line.ts)
        writer.optionalMember("ref", ref)
    }
}
