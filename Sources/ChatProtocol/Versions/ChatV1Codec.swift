/// Decodes client frames and encodes server events for `chat.v1.json`.
public enum ChatV1Codec {
    /// Decodes one text frame, applying the structural rules in the
    /// protocol's precedence: `bad_message`, then `unknown_type`.
    ///
    /// Field content rules (nick, text) are left to the session, because
    /// `not_joined` and `already_joined` take precedence over them.
    public static func decode(_ payload: [UInt8]) -> DecodedFrame {
        guard case .object(let object) = try? JSONParser.parse(payload) else {
            return DecodedFrame(ref: nil, message: .failure(.badMessage))
        }
        var ref: String?
        if let refValue = object["ref"] {
            guard let value = refValue.stringValue, Ref.isValid(value) else {
                return DecodedFrame(ref: nil, message: .failure(.badMessage))
            }
            ref = value
        }
        guard let type = object["type"]?.stringValue else {
            return DecodedFrame(ref: ref, message: .failure(.badMessage))
        }
        func field(_ name: String) -> String? { object[name]?.stringValue }

        let message: Result<ClientMessage, ErrorCode>
        switch type {
        case "hello":
            message = field("nick").map { .success(.hello(nick: $0)) } ?? .failure(.badMessage)
        case "say":
            message = field("text").map { .success(.say(text: $0)) } ?? .failure(.badMessage)
        case "whisper":
            if let to = field("to"), let text = field("text") {
                message = .success(.whisper(to: to, text: text))
            } else {
                message = .failure(.badMessage)
            }
        case "who":
            message = .success(.who)
        case "ping":
            message = .success(.ping)
        default:
            message = .failure(.unknownType)
        }
        return DecodedFrame(ref: ref, message: message)
    }

    /// Decodes a frame given as a string (tests and tools).
    public static func decode(_ text: String) -> DecodedFrame {
        decode(Array(text.utf8))
    }

    /// Encodes one event as compact JSON, ready to be a text frame's payload.
    public static func encode(_ event: ServerEvent) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        switch event {
        case .welcome(let nick, let node, let users, let history, let ref):
            writer.member("type", "welcome")
            writer.member("nick", nick)
            writer.member("node", node)
            writer.member("users", encoded: users.json)
            writer.key("history")
            writer.beginArray()
            for line in history {
                writer.beginObject()
                writeMessageFields(line, ref: nil, into: &writer)
                writer.endObject()
            }
            writer.endArray()
            writer.optionalMember("ref", ref)
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
            writer.member("users", encoded: users.json)
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
