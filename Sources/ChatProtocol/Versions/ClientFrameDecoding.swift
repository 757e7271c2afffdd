/// Decoding of client frames, shared by the versions: v2 reads every v1
/// message the same way and adds `since` to `hello`.
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
            guard let nick = field("nick") else {
                message = .failure(.badMessage)
                break
            }
            // v1 ignores `since` like any unknown field.
            guard version >= .v2, let sinceValue = object["since"] else {
                message = .success(.hello(nick: nick))
                break
            }
            if let since = sinceValue.stringValue, ResumePoint.isValid(since) {
                message = .success(.hello(nick: nick, since: since))
            } else {
                message = .failure(.badMessage)
            }
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
}
