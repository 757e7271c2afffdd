import ChatProtocol

/// Who a connection's login token says its user is (PROTOCOL.md §7).
///
/// A class, so a session and its member each hold one reference to it
/// rather than 48 bytes inline: most nodes run without login tokens, and
/// every connection would pay for the space twice.
final class UserIdentity: Sendable, Equatable {
    /// The user's id in the operator's account system (`sub`).
    let subject: String
    /// The nick the user must use (`nick`), if the token binds one.
    let nick: String?
    /// The private rooms the user may join (`rooms`).
    let rooms: Set<String>
    /// When the token expires (`exp`), in seconds since the Unix epoch.
    let expiresAt: Double

    init(subject: String, nick: String?, rooms: Set<String>, expiresAt: Double) {
        self.subject = subject
        self.nick = nick
        self.rooms = rooms
        self.expiresAt = expiresAt
    }

    static func == (lhs: UserIdentity, rhs: UserIdentity) -> Bool {
        (lhs.subject, lhs.nick, lhs.rooms, lhs.expiresAt) == (rhs.subject, rhs.nick, rhs.rooms, rhs.expiresAt)
    }

    /// Whether this identity lets its user take `nick`: any nick, unless the
    /// token binds one, which is then compared case-insensitively.
    func permits(_ nick: Nick) -> Bool {
        guard let bound = self.nick else { return true }
        return NickKey(lookingUp: bound) == nick.key
    }
}

/// Who may join which room: a room named `private.*` only with a login
/// token that names it; every other room anyone.
enum RoomAccess {
    /// The prefix of a private room's name.
    static let privatePrefix = "private."

    /// Whether `room` is private.
    static func isPrivate(_ room: RoomName) -> Bool {
        room.value.hasPrefix(privatePrefix)
    }

    /// Whether a user with `identity` (nil: no login token) may join `room`.
    static func mayJoin(_ room: RoomName, identity: UserIdentity?) -> Bool {
        guard isPrivate(room) else { return true }
        return identity?.rooms.contains(room.value) ?? false
    }
}
