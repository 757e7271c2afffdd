/// A structurally valid message from a client, before the session's rules
/// (joined state, nick and text rules, cluster state) are applied.
public enum ClientMessage: Sendable, Equatable {
    /// Join with a nick, as sent (not yet validated). `since` (v2 only) is
    /// the id of the last `message` the client saw on an earlier connection.
    case hello(nick: String, since: String? = nil)
    /// Broadcast a line to everyone joined.
    case say(text: String)
    /// Send a line to one user.
    case whisper(to: String, text: String)
    /// Ask for the user list.
    case who
    /// Ask for a `pong`; allowed before joining.
    case ping
}

/// The result of decoding one text frame.
///
/// The `ref` is kept even when the message is refused, because the error
/// must carry it whenever the frame was an object with a valid `ref`.
public struct DecodedFrame: Sendable, Equatable {
    /// The frame's valid `ref`, if it had one.
    public var ref: String?
    /// The message, or the protocol error that refuses it.
    public var message: Result<ClientMessage, ErrorCode>

    /// Creates a decoded frame.
    public init(ref: String?, message: Result<ClientMessage, ErrorCode>) {
        self.ref = ref
        self.message = message
    }
}

extension ErrorCode: Error {}
