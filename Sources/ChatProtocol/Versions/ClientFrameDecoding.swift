/// Decoding of client frames, shared by the versions: v2 reads every v1
/// message the same way and adds `since` to `hello`; v3 reads `hello` as
/// v1, needs a `room` on `say` and `who`, and adds `join`, `part` and `rooms`.
enum ClientFrameDecoding {
    /// Decodes one text frame, applying the structural rules in the
    /// protocol's precedence: `bad_message`, then `unknown_type`.
    ///
    /// Field content rules (nick, text) are left to the session, because
    /// `not_joined` and `already_joined` take precedence over them.
    static func decode(_ payload: [UInt8], version: ProtocolVersion) -> DecodedFrame {
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
            message = hello(object, version: version)
        case "say":
            if let text = field("text"), version < .v3 {
                message = .success(.say(text: text))
            } else if let text = field("text"), let room = field("room") {
                message = .success(.say(text: text, room: room))
            } else {
                message = .failure(.badMessage)
            }
        case "whisper":
            if let to = field("to"), let text = field("text") {
                message = .success(.whisper(to: to, text: text))
            } else {
                message = .failure(.badMessage)
            }
        case "who" where version < .v3:
            message = .success(.who())
        case "who":
            message = memberQuery(object).map { .success(.who($0)) } ?? .failure(.badMessage)
        case "join" where version >= .v3:
            guard let room = field("room") else {
                message = .failure(.badMessage)
                break
            }
            if let sinceValue = object["since"] {
                guard let since = sinceValue.stringValue, ResumePoint.isValid(since) else {
                    message = .failure(.badMessage)
                    break
                }
                message = .success(.join(room: room, since: since))
            } else {
                message = .success(.join(room: room))
            }
        case "part" where version >= .v3:
            message = field("room").map { .success(.part(room: $0)) } ?? .failure(.badMessage)
        case "rooms" where version >= .v3:
            message = .success(.rooms)
        case "refresh":
            message = field("token").map { .success(.refresh(token: $0)) } ?? .failure(.badMessage)
        case "ping":
            message = .success(.ping)
        default:
            message = .failure(.unknownType)
        }
        return DecodedFrame(ref: ref, message: message)
    }

    /// A `hello`: `nick`, the login `token` (§7, any version) and, for v2 only, `since`.
    private static func hello(_ object: [String: JSONValue], version: ProtocolVersion) -> Result<ClientMessage, ErrorCode> {
        guard let nick = object["nick"]?.stringValue else { return .failure(.badMessage) }
        var token: String?
        if let tokenValue = object["token"] {
            guard let text = tokenValue.stringValue else { return .failure(.badMessage) }
            token = text
        }
        // v1 and v3 ignore `since` on `hello` like any unknown field (v3 resumes per room, on `join`).
        guard version == .v2, let sinceValue = object["since"] else {
            return .success(.hello(nick: nick, token: token))
        }
        guard let since = sinceValue.stringValue, ResumePoint.isValid(since) else { return .failure(.badMessage) }
        return .success(.hello(nick: nick, since: since, token: token))
    }

    /// A v3 `who`'s fields; nil when one breaks its structural rule.
    private static func memberQuery(_ object: [String: JSONValue]) -> MemberQuery? {
        guard let room = object["room"]?.stringValue else { return nil }
        var query = MemberQuery(room: room)
        for (name, value) in [("prefix", object["prefix"]), ("after", object["after"])] {
            guard let value else { continue }
            guard let text = value.stringValue, text.unicodeScalars.hasAtMost(MemberPageRules.maximumKeyLength) else { return nil }
            if name == "prefix" { query.prefix = text } else { query.after = text }
        }
        if let limitValue = object["limit"] {
            guard let limit = limitValue.int64Value, MemberPageRules.limits.contains(Int(clamping: limit)) else { return nil }
            query.limit = Int(limit)
        }
        return query
    }
}
