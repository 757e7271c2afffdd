/// A `message` event: one broadcast chat line.
public struct ChatLine: Sendable, Equatable {
    /// Cluster-unique id.
    public var id: String
    /// Canonical nick of the sender.
    public var from: String
    /// The text exactly as the sender sent it.
    public var text: String
    /// Server receive time, milliseconds since the Unix epoch.
    public var ts: Int64

    /// Creates a chat line.
    public init(id: String, from: String, text: String, ts: Int64) {
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

/// Everything a server sends to a client.
public enum ServerEvent: Sendable, Equatable {
    /// `hello` succeeded. `resumed` (sent in v2 only) tells whether
    /// `history` continues from the `since` the client gave.
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

    /// An `error` event with the code's standard sentence.
    public static func error(_ code: ErrorCode, ref: String?) -> ServerEvent {
        .error(code: code, message: code.defaultMessage, ref: ref)
    }
}
