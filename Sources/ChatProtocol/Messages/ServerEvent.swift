/// A `message` event: one chat line of a room.
public struct ChatLine: Sendable, Equatable {
    /// The room the line was said in (v1 and v2 lines are `lobby`'s).
    public var room: RoomName
    /// Cluster-unique id.
    public var id: String
    /// Canonical nick of the sender.
    public var from: String
    /// The text exactly as the sender sent it.
    public var text: String
    /// Server receive time, milliseconds since the Unix epoch.
    public var ts: Int64

    /// Creates a chat line of `room`.
    public init(id: String, from: String, text: String, ts: Int64, room: RoomName = .lobby) {
        self.room = room
        self.id = id
        self.from = from
        self.text = text
        self.ts = ts
    }
}

/// A `direct` event: a private line between two users.
public struct DirectLine: Sendable, Equatable {
    /// Cluster-unique id.
    public var id: String
    /// Canonical nick of the sender.
    public var from: String
    /// Canonical nick of the recipient.
    public var to: String
    /// The text exactly as the sender sent it.
    public var text: String
    /// Server receive time, milliseconds since the Unix epoch.
    public var ts: Int64

    /// Creates a direct line.
    public init(id: String, from: String, to: String, text: String, ts: Int64) {
        self.id = id
        self.from = from
        self.to = to
        self.text = text
        self.ts = ts
    }
}

/// Why a user left.
public enum LeaveReason: String, Sendable, Equatable, CaseIterable {
    /// The connection closed or was closed (including for flooding or slowness).
    case quit
    /// The connection missed its heartbeats.
    case timeout
    /// The user's node died without cleaning up.
    case nodeDown = "node_down"
    /// v3: the user parted the room (v1 and v2 clients see `quit`).
    case part
    /// §7: the user was removed from the room (v1 and v2 clients see `quit`).
    case kicked

    /// The reason as a v1 or v2 client sees it: they know no rooms to part.
    public var beforeRooms: LeaveReason {
        switch self {
        case .part, .kicked: .quit
        case .quit, .timeout, .nodeDown: self
        }
    }
}

/// The net presence changes one v2 `presence` event carries.
public struct PresenceChanges: Sendable, Equatable {
    /// A user who left, with why.
    public struct Departure: Sendable, Equatable {
        /// Canonical nick.
        public var nick: String
        /// Why the user left.
        public var reason: LeaveReason

        /// Creates a departure.
        public init(nick: String, reason: LeaveReason) {
            self.nick = nick
            self.reason = reason
        }
    }

    /// Canonical nicks that joined.
    public var joined: [String]
    /// Users who left.
    public var left: [Departure]

    /// Creates a set of changes.
    public init(joined: [String] = [], left: [Departure] = []) {
        self.joined = joined
        self.left = left
    }

    /// Whether there is nothing to tell.
    public var isEmpty: Bool { joined.isEmpty && left.isEmpty }

    /// How many users the changes name.
    public var count: Int { joined.count + left.count }
}

/// A v3 `room` event: what a client that joined a room starts from.
public struct RoomSnapshot: Sendable, Equatable {
    public var room: RoomName
    /// Members, the joining client included.
    public var count: Int
    /// Every member in list order, or the first 100 when the room is large.
    public var users: EncodedNickList
    public var large: Bool
    /// The room's lines after `since`, or its recent ones.
    public var history: ArraySlice<ChatLine>
    /// Whether `history` continues from the `since` the client gave.
    public var resumed: Bool

    /// Creates a snapshot.
    public init(room: RoomName, count: Int, users: EncodedNickList, large: Bool, history: ArraySlice<ChatLine>, resumed: Bool) {
        self.room = room
        self.count = count
        self.users = users
        self.large = large
        self.history = history
        self.resumed = resumed
    }
}

/// A v3 `users` event: one page of a room's members.
public struct MemberPage: Sendable, Equatable {
    public var room: RoomName
    /// All members of the room.
    public var count: Int
    /// This page's members in list order.
    public var users: EncodedNickList
    /// The last nick of this page when more remain.
    public var next: String?

    /// Creates a page.
    public init(room: RoomName, count: Int, users: EncodedNickList, next: String?) {
        self.room = room
        self.count = count
        self.users = users
        self.next = next
    }
}

/// One entry of a v3 `room_list`.
public struct RoomCount: Sendable, Equatable {
    public var room: RoomName
    public var count: Int

    /// Creates an entry.
    public init(room: RoomName, count: Int) {
        self.room = room
        self.count = count
    }
}

/// Why a v3 client stopped being a member of a room.
public enum PartReason: String, Sendable, Equatable {
    /// The client sent `part`.
    case part
    /// The server API removed it (§7).
    case kicked
}

/// Everything a server sends to a client.
public enum ServerEvent: Sendable, Equatable {
    /// `hello` succeeded. `resumed` (sent in v2 only) tells whether
    /// `history` continues from the `since` the client gave. A v3 `welcome`
    /// carries `nick` and `node` only: its client is in no room yet.
    case welcome(nick: String, node: String, users: EncodedNickList, history: ArraySlice<ChatLine>, resumed: Bool, ref: String?)
    /// v2: users who joined and left since the previous `presence` or the `welcome`.
    case presence(PresenceChanges, ts: Int64)
    /// Someone else joined.
    case joined(nick: String, ts: Int64)
    /// Someone left.
    case left(nick: String, ts: Int64, reason: LeaveReason)
    /// A broadcast line; `ref` only on the sender's own copy.
    case message(ChatLine, ref: String?)
    /// A private line; `ref` only on the sender's own copy.
    case direct(DirectLine, ref: String?)
    /// Reply to `who`.
    case users(EncodedNickList, ref: String?)
    /// Reply to `ping`.
    case pong(ref: String?)
    /// A client message was refused.
    case error(code: ErrorCode, message: String, ref: String?)
    /// v3: reply to `join`.
    case room(RoomSnapshot, ref: String?)
    /// v3: changes of a room's members. `large` is set on the event that
    /// tells the room turned large (true) or small again (false, with `users`).
    case roomPresence(room: RoomName, count: Int, changes: PresenceChanges, large: Bool?, users: EncodedNickList?, ts: Int64)
    /// v3: reply to `who`.
    case memberPage(MemberPage, ref: String?)
    /// v3: the client is no longer a member of `room`.
    case parted(room: RoomName, reason: PartReason, ref: String?)
    /// v3: reply to `rooms`.
    case roomList([RoomCount], ref: String?)

    /// An `error` event with the code's standard sentence.
    public static func error(_ code: ErrorCode, ref: String?) -> ServerEvent {
        .error(code: code, message: code.defaultMessage, ref: ref)
    }
}
