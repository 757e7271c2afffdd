/// The connections of one nick on this node, oldest first: almost always
/// one, kept inline, and a logged-in user's further ones in an array (§7),
/// so a user costs the node's nick index no allocation of its own.
struct NickConnections: Sequence {
    private(set) var first: UInt64
    private var others: [UInt64] = []

    init(_ connectionID: UInt64) {
        first = connectionID
    }

    /// Adds a connection after the others.
    mutating func append(_ connectionID: UInt64) {
        others.append(connectionID)
    }

    /// Removes `connectionID`; false when none is left.
    mutating func remove(_ connectionID: UInt64) -> Bool {
        if first == connectionID {
            guard !others.isEmpty else { return false }
            first = others.removeFirst()
        } else {
            others.removeAll { $0 == connectionID }
        }
        return true
    }

    func makeIterator() -> Iterator {
        Iterator(connections: self)
    }

    /// The first connection, then the others in order.
    struct Iterator: IteratorProtocol {
        fileprivate let connections: NickConnections
        /// -1 for `first`, then an index into `others`.
        private var position = -1

        fileprivate init(connections: NickConnections) {
            self.connections = connections
        }

        mutating func next() -> UInt64? {
            defer { position += 1 }
            if position < 0 { return connections.first }
            return position < connections.others.count ? connections.others[position] : nil
        }
    }
}
