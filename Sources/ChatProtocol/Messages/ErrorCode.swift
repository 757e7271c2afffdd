/// The `code` of an `error` event: why a client message was refused.
public enum ErrorCode: String, Sendable, CaseIterable {
    /// Not JSON, not an object, `type` missing, a field missing or of the wrong type, a bad `ref`.
    case badMessage = "bad_message"
    /// A `type` this protocol version does not define.
    case unknownType = "unknown_type"
    /// Only `hello` and `ping` are allowed before joining.
    case notJoined = "not_joined"
    /// A second `hello` on a joined connection.
    case alreadyJoined = "already_joined"
    /// The nick breaks the nick rules.
    case nickInvalid = "nick_invalid"
    /// Someone in the cluster already has this nick.
    case nickTaken = "nick_taken"
    /// The text breaks the text rules.
    case textInvalid = "text_invalid"
    /// The whisper's target is not joined anywhere in the cluster.
    case noSuchUser = "no_such_user"
    /// The connection used up its message budget.
    case rateLimited = "rate_limited"
    /// The cluster bus is unreachable; try again later.
    case unavailable
    /// The node failed unexpectedly.
    case `internal`
    /// v3: the room name breaks the room-name rules.
    case roomInvalid = "room_invalid"
    /// v3: `say`, `part` or `who` for a room the client is not a member of.
    case notInRoom = "not_in_room"
    /// v3: `join` for a room the client is already a member of.
    case alreadyInRoom = "already_in_room"
    /// v3: the connection is a member of `--max-rooms` rooms already.
    case tooManyRooms = "too_many_rooms"
    /// §7: the room is private and the client's token does not name it.
    case roomForbidden = "room_forbidden"
    /// §7: the login token is missing or not acceptable.
    case unauthorized

    /// A human-readable sentence for the `message` field.
    public var defaultMessage: String {
        switch self {
        case .badMessage: "message is not a valid JSON object of this protocol"
        case .unknownType: "unknown message type"
        case .notJoined: "send hello with a nick first"
        case .alreadyJoined: "this connection has already joined"
        case .nickInvalid: "nick must be 1-24 letters, marks, digits, '_', '-' or '.', starting with a letter or digit"
        case .nickTaken: "that nick is already in use"
        case .textInvalid: "text must be 1-2000 characters, not blank, without control characters other than newline and tab"
        case .noSuchUser: "no user with that nick is online"
        case .rateLimited: "too many messages; slow down"
        case .unavailable: "chat is temporarily unavailable; try again shortly"
        case .internal: "internal server error"
        case .roomInvalid: "room must be 1-32 of a-z, 0-9, '-', '_' or '.', starting with a letter or digit"
        case .notInRoom: "you are not a member of that room"
        case .alreadyInRoom: "you are already a member of that room"
        case .tooManyRooms: "you are a member of too many rooms; part one first"
        case .roomForbidden: "you may not join that room"
        case .unauthorized: "a valid login token is required"
        }
    }
}
