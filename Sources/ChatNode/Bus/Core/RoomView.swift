import ChatProtocol

/// What this node's clients have been told about one room: who is a
/// member and the recent history.
///
/// Every `welcome` (v1, v2: `lobby`'s) and `room` snapshot is built from
/// it, and every presence change of the room a node
/// forwards updates it, so a client's user list (welcome plus events)
/// always equals the view. Applying an event twice is harmless: a `joined`
/// for a listed nick or a `left` for an unlisted one changes nothing and is
/// not forwarded. Each nick remembers which connection holds it, so a
/// late `left` for an earlier holder cannot remove a user who took the
/// nick again since.
struct RoomView {
    /// The listed users in list order with who holds each, ready to send.
    private(set) var list = SortedNickList()
    /// The room's messages in the order Redis published them.
    var history: MessageHistory

    init(history: MessageHistory) {
        self.history = history
    }

    /// Adds a user held by `owner`; true when the nick was not listed, so
    /// clients must be told. A new holder of a listed nick replaces the old one silently.
    mutating func insert(_ nick: Nick, owner: String) -> Bool {
        list.insert(nick, owner: NickOwner(owner))
    }

    /// Removes the user with this key if `owner` still holds the nick; true when clients must be told.
    mutating func remove(_ key: NickKey, owner: String) -> Bool {
        list.remove(key, heldBy: NickOwner(owner))
    }

    /// Removes the user with this key if `owner` still holds the nick; true when clients must be told.
    mutating func remove(_ key: NickKey, heldBy owner: NickOwner) -> Bool {
        list.remove(key, heldBy: owner)
    }

    /// The users in the protocol's list order.
    var sortedUsers: [String] { list.nicks }

    /// How many users are listed.
    var count: Int { list.count }
}
