/// A structurally valid message from a client, before the session's rules
/// (joined state, nick and text rules, cluster state) are applied.
public enum ClientMessage: Sendable, Equatable {
    /// Join with a nick, as sent (not yet validated). `since` (v2 only) is
    /// the id of the last `message` the client saw on an earlier connection;
    /// `token` is the login token (§7), not yet verified.
    case hello(nick: String, since: String? = nil, token: String? = nil)
    /// Broadcast a line to everyone in a room: v1 and v2 name no room (they
    /// live in `lobby`), v3 always names one (not yet validated).
    case say(text: String, room: String? = nil)
    /// Send a line to one user.
    case whisper(to: String, text: String)
    /// Ask for the user list: v1 and v2 ask for `lobby`'s, v3 for one page of a room's.
    case who(MemberQuery? = nil)
    /// v3: become a member of `room`, resuming its history after `since`.
    case join(room: String, since: String? = nil)
    /// v3: stop being a member of `room`.
    case part(room: String)
    /// v3: ask for the busiest rooms.
    case rooms
    /// §7: replace the connection's login token with a newer one of the same user.
    case refresh(token: String)
    /// Ask for a `pong`; allowed before joining.
    case ping
}

/// A v3 `who`: one page of a room's members, in list order.
public struct MemberQuery: Sendable, Equatable {
    /// The room, as sent (not yet validated).
    public var room: String
    /// Only members whose case-insensitive key starts with this.
    public var prefix: String?
    /// Only members after this nick (exclusive), compared by key.
    public var after: String?
    /// At most this many members (1...1000).
    public var limit: Int

    /// Creates a page request.
    public init(room: String, prefix: String? = nil, after: String? = nil, limit: Int = MemberPageRules.defaultLimit) {
        self.room = room
        self.prefix = prefix
        self.after = after
        self.limit = limit
    }
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
