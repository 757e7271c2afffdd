import ChatProtocol

/// What this node's clients have been told about the cluster: who is
/// joined and the recent history.
///
/// Every `welcome` is built from it, and every `joined`/`left` a node
/// forwards updates it, so a client's user list (welcome plus events)
/// always equals the view. Applying an event twice is harmless: a `joined`
/// for a listed nick or a `left` for an unlisted one changes nothing and is
/// not forwarded. Each nick remembers which connection holds it, so a
/// late `left` for an earlier holder cannot remove a user who took the
/// nick again since.
struct ClusterView {
    /// A user as the view lists them.
    struct Entry: Equatable {
        var nick: String
        /// The connection holding the nick: `instance/connection`.
        var owner: String
    }

    private(set) var users: [NickKey: Entry] = [:]
    /// The same users in list order, ready to send.
    private(set) var list = SortedNickList()
    private(set) var history: [ChatLine] = []
    private var historyIDs: Set<String> = []
    let historyLength: Int

    init(historyLength: Int) {
        self.historyLength = historyLength
    }

    /// Adds a user held by `owner`; true when the nick was not listed, so
    /// clients must be told. A new holder of a listed nick replaces the old one silently.
    mutating func insert(_ nick: String, owner: String) -> Bool {
        insert(Nick(trustedCanonical: nick), owner: owner)
    }

    /// Adds a user whose key is already known; see `insert(_:owner:)`.
    mutating func insert(_ nick: Nick, owner: String) -> Bool {
        let previous = users.updateValue(Entry(nick: nick.canonical, owner: owner), forKey: nick.key)
        if previous?.nick != nick.canonical {
            if previous != nil { list.remove(nick.key) }
            list.insert(nick)
        }
        return previous == nil
    }

    /// Removes a user if `owner` still holds the nick; true when clients must be told.
    mutating func remove(_ nick: String, owner: String) -> Bool {
        remove(Nick(trustedCanonical: nick).key, owner: owner)
    }

    /// Removes the user with this key if `owner` still holds the nick.
    mutating func remove(_ key: NickKey, owner: String) -> Bool {
        guard users[key]?.owner == owner else { return false }
        users[key] = nil
        list.remove(key)
        return true
    }

    /// Appends a line to the history; false when it is already there.
    mutating func record(_ line: ChatLine) -> Bool {
        guard !historyIDs.contains(line.id) else { return false }
        history.append(line)
        historyIDs.insert(line.id)
        if history.count > historyLength {
            for dropped in history.prefix(history.count - historyLength) { historyIDs.remove(dropped.id) }
            history.removeFirst(history.count - historyLength)
        }
        return true
    }

    /// Replaces the history, e.g. with the cluster's stored one at start-up.
    mutating func replaceHistory(_ lines: [ChatLine]) {
        history = []
        historyIDs = []
        for line in lines { _ = record(line) }
    }

    /// The users in the protocol's list order.
    var sortedUsers: [String] { list.nicks }
}
