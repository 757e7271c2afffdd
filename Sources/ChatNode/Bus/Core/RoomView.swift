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
    /// A user as the view lists them.
    struct Entry: Equatable {
        var nick: String
        /// The connection holding the nick: `instance/connection`.
        var owner: String
    }

    private(set) var users: [NickKey: Entry] = [:]
    /// The same users in list order, ready to send.
    private(set) var list = SortedNickList()
    /// The room's messages in the order Redis published them.
    var history: MessageHistory

    init(history: MessageHistory) {
        self.history = history
    }

    /// Adds a user held by `owner`; true when the nick was not listed, so
    /// clients must be told. A new holder of a listed nick replaces the old one silently.
    mutating func insert(_ nick: Nick, owner: String) -> Bool {
        let previous = users.updateValue(Entry(nick: nick.canonical, owner: owner), forKey: nick.key)
        if previous?.nick != nick.canonical {
            if previous != nil { list.remove(nick.key) }
            list.insert(nick)
        }
        return previous == nil
    }

    /// Removes the user with this key if `owner` still holds the nick; true when clients must be told.
    mutating func remove(_ key: NickKey, owner: String) -> Bool {
        guard users[key]?.owner == owner else { return false }
        users[key] = nil
        list.remove(key)
        return true
    }

    /// The users in the protocol's list order.
    var sortedUsers: [String] { list.nicks }

    /// How many users are listed.
    var count: Int { users.count }
}
