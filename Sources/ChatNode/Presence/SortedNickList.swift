import ChatProtocol

/// The joined nicks in the protocol's list order, kept sorted as users come
/// and go, each nick encoded as JSON once, with who holds each.
///
/// `welcome` and `users` send the whole list, so it must never be sorted or
/// normalised again per request. Entries live in pages of at most
/// `maximumPageSize`, each page keeping its entries' JSON joined by commas:
/// a change or a lookup costs a binary search and one page's worth of work
/// (a change encodes only its own nick and splices its bytes in or out),
/// and the whole list is encoded by copying one chunk of bytes per page.
/// An entry is two strings (inline for nicks up to 15 bytes) and a
/// fixed-size owner, so a user costs the list no allocation of its own.
struct SortedNickList {
    /// One listed nick.
    struct Entry {
        /// The nick's key; its UTF-8 byte order is code-point order, the list order.
        let key: String
        /// The canonical nick.
        var nick: String
        /// Who holds the nick.
        var owner: NickOwner
        /// How many bytes the nick takes in the page's JSON, quotes included
        /// (it fits in the entry's padding: the entry is no larger for it).
        fileprivate(set) var encodedLength: UInt16

        fileprivate init(_ nick: Nick, owner: NickOwner, encodedLength: Int) {
            self.key = nick.key.value
            self.nick = nick.canonical
            self.owner = owner
            self.encodedLength = UInt16(encodedLength)
        }

        func precedes(_ other: String) -> Bool {
            key.utf8.lexicographicallyPrecedes(other.utf8)
        }
    }

    private struct Page {
        var entries: [Entry]
        /// The entries' JSON joined by commas.
        var json: [UInt8] = []

        init(_ entries: [Entry]) {
            self.entries = entries
            reencode()
        }

        mutating func reencode() {
            // A welcome may still share the old bytes: then this allocates afresh, once.
            json.removeAll(keepingCapacity: true)
            for index in entries.indices {
                if index > 0 { json.append(UInt8(ascii: ",")) }
                let start = json.count
                JSONWriter.appendEncodedString(entries[index].nick, to: &json)
                entries[index].encodedLength = UInt16(json.count - start)
            }
        }

        /// Inserts `entry`, whose nick encodes as `encoded`, at `index`, and
        /// splices its bytes into the JSON instead of encoding the page again.
        mutating func insert(_ entry: Entry, encoded: [UInt8], at index: Int) {
            if entries.isEmpty {
                json = encoded
            } else {
                Self.makeRoom(for: encoded.count + 1, in: &json)
                if index == entries.count {
                    json.append(UInt8(ascii: ","))
                    json.append(contentsOf: encoded)
                } else {
                    json.insert(contentsOf: encoded + [UInt8(ascii: ",")], at: jsonOffset(of: index))
                }
            }
            Self.makeRoom(for: 1, in: &entries)
            entries.insert(entry, at: index)
        }

        /// Grows a full array by a quarter instead of doubling it: a node
        /// holds the lists of every room its users are in, mostly small and
        /// grown one member at a time, and doubling leaves a third of that
        /// storage empty for good.
        private static func makeRoom<Element>(for added: Int, in array: inout [Element]) {
            let needed = array.count + added
            guard needed > array.capacity else { return }
            array.reserveCapacity(max(needed, array.count + array.count / 4, 4))
        }

        /// Removes the entry at `index` and its bytes from the JSON.
        mutating func remove(at index: Int) {
            let start = jsonOffset(of: index)
            let length = Int(entries[index].encodedLength)
            if entries.count == 1 {
                json.removeAll()
            } else if index < entries.count - 1 {
                json.removeSubrange(start..<(start + length + 1))
            } else {
                json.removeSubrange((start - 1)..<(start + length))
            }
            entries.remove(at: index)
        }

        /// Where the JSON of the first `count` entries ends (their last one's closing quote included).
        func jsonEnd(ofFirst count: Int) -> Int {
            jsonOffset(of: count) - 1
        }

        /// Where the entry at `index` starts in the JSON.
        private func jsonOffset(of index: Int) -> Int {
            var offset = 0
            for entry in entries[..<index] { offset += Int(entry.encodedLength) + 1 }
            return offset
        }

        /// The index of the first entry not preceding `order`.
        func insertionIndex(_ order: String) -> Int {
            var low = 0
            var high = entries.count
            while low < high {
                let middle = (low + high) / 2
                if entries[middle].precedes(order) { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    /// A page splits in two when it grows beyond this many entries.
    static let maximumPageSize = 128

    private var pages: [Page] = []
    /// How many nicks are listed.
    private(set) var count = 0

    /// Lists `nick` held by `owner`; true when its key was not listed. A
    /// listed key takes the new holder, and the new canonical form if it differs.
    @discardableResult
    mutating func insert(_ nick: Nick, owner: NickOwner = .other("")) -> Bool {
        guard !pages.isEmpty else {
            count += 1
            pages.append(Page([Entry(nick, owner: owner, encodedLength: 0)]))
            return true
        }
        let key = nick.key.value
        let pageIndex = min(self.pageIndex(for: key), pages.count - 1)
        let index = pages[pageIndex].insertionIndex(key)
        if index < pages[pageIndex].entries.count, pages[pageIndex].entries[index].key == key {
            pages[pageIndex].entries[index].owner = owner
            if pages[pageIndex].entries[index].nick != nick.canonical {
                pages[pageIndex].entries[index].nick = nick.canonical
                pages[pageIndex].reencode()
            }
            return false
        }
        // Encoded only for a nick new to the list: a listed one's new holder needs no bytes.
        var encoded: [UInt8] = []
        JSONWriter.appendEncodedString(nick.canonical, to: &encoded)
        let entry = Entry(nick, owner: owner, encodedLength: encoded.count)
        count += 1
        pages[pageIndex].insert(entry, encoded: encoded, at: index)
        if pages[pageIndex].entries.count > Self.maximumPageSize {
            // Both halves are copied to arrays of their own size: the full
            // page's array has grown to twice the maximum, and keeping it
            // would leave most of every page's storage empty for good.
            let entries = pages[pageIndex].entries
            let half = Self.maximumPageSize / 2
            pages[pageIndex] = Page(Array(entries[..<half]))
            pages.insert(Page(Array(entries[half...])), at: pageIndex + 1)
        }
        return true
    }

    /// Removes the nick whose key is `key`, if `owner` (when given) holds
    /// it; false when it was not listed or another holds it.
    @discardableResult
    mutating func remove(_ key: NickKey, heldBy owner: NickOwner? = nil) -> Bool {
        guard let position = position(of: key) else { return false }
        if let owner, pages[position.page].entries[position.entry].owner != owner { return false }
        pages[position.page].remove(at: position.entry)
        count -= 1
        if pages[position.page].entries.isEmpty { pages.remove(at: position.page) }
        return true
    }

    /// The entry listed under `key`.
    subscript(key: NickKey) -> Entry? {
        position(of: key).map { pages[$0.page].entries[$0.entry] }
    }

    /// Every entry in list order.
    var entries: [Entry] {
        pages.flatMap(\.entries)
    }

    /// Removes every nick.
    mutating func removeAll() {
        pages.removeAll()
        count = 0
    }

    /// The list as a JSON array, ready for `welcome` and `users`: it shares
    /// the pages' bytes, so taking it costs a reference per page, not a copy.
    var encoded: EncodedNickList {
        EncodedNickList(chunks: pages.map(\.json))
    }

    /// The canonical nicks in list order.
    var nicks: [String] {
        pages.flatMap { $0.entries.map(\.nick) }
    }

    /// One page of `who` (PROTOCOL.md §6): up to `limit` nicks in list order
    /// whose key starts with `prefix` and comes after `after`'s key; `next`
    /// is the page's last nick when more remain. Costs a binary search and
    /// the page, whatever the list's length.
    func page(prefix: NickKey?, after: NickKey?, limit: Int) -> (nicks: EncodedNickList, next: String?) {
        let prefixBytes = prefix.map { Array($0.value.utf8) } ?? []
        var position = (page: 0, entry: 0)
        if let after {
            position = firstPosition(notPreceding: after.value)
            if position.page < pages.count, pages[position.page].entries[position.entry].key == after.value {
                position = self.position(after: position)
            }
        }
        if let prefix, !prefixBytes.isEmpty {
            let start = firstPosition(notPreceding: prefix.value)
            if (start.page, start.entry) > (position.page, position.entry) { position = start }
        }
        var nicks: [String] = []
        var hasMore = false
        while position.page < pages.count {
            let entry = pages[position.page].entries[position.entry]
            guard entry.key.utf8.starts(with: prefixBytes) else { break }
            guard nicks.count < limit else {
                hasMore = true
                break
            }
            nicks.append(entry.nick)
            position = self.position(after: position)
        }
        return (EncodedNickList(nicks), hasMore ? nicks.last : nil)
    }

    /// The first `limit` nicks in list order, cut from the pages' JSON
    /// (a large room's `room` event lists them at every join).
    func first(_ limit: Int) -> EncodedNickList {
        var chunks: [[UInt8]] = []
        var remaining = limit
        for page in pages where remaining > 0 {
            if page.entries.count <= remaining {
                chunks.append(page.json)
                remaining -= page.entries.count
            } else {
                chunks.append(Array(page.json[..<page.jsonEnd(ofFirst: remaining)]))
                remaining = 0
            }
        }
        return EncodedNickList(chunks: chunks)
    }

    /// Where the entry listed under `key` is.
    private func position(of key: NickKey) -> (page: Int, entry: Int)? {
        let position = firstPosition(notPreceding: key.value)
        guard position.page < pages.count, pages[position.page].entries[position.entry].key == key.value else { return nil }
        return position
    }

    /// Where the first entry whose key does not precede `order` is (`pages.count` when none).
    private func firstPosition(notPreceding order: String) -> (page: Int, entry: Int) {
        let pageIndex = self.pageIndex(for: order)
        guard pageIndex < pages.count else { return (pages.count, 0) }
        return (pageIndex, pages[pageIndex].insertionIndex(order))
    }

    private func position(after position: (page: Int, entry: Int)) -> (page: Int, entry: Int) {
        position.entry + 1 < pages[position.page].entries.count ? (position.page, position.entry + 1) : (position.page + 1, 0)
    }

    /// The index of the first page whose last entry does not precede `order`
    /// (`pages.count` when every page's entries precede it).
    private func pageIndex(for order: String) -> Int {
        var low = 0
        var high = pages.count
        while low < high {
            let middle = (low + high) / 2
            if pages[middle].entries[pages[middle].entries.count - 1].precedes(order) { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
