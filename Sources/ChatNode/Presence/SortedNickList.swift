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
/// A nick's spelling lives only in that JSON; its slot holds the key (a
/// string, inline up to 15 bytes) and a fixed-size owner, 40 bytes in all,
/// so a user costs the list no allocation of its own.
struct SortedNickList {
    /// One listed nick, as lookups and iteration return it.
    struct Entry {
        /// The nick's key; its UTF-8 byte order is code-point order, the list order.
        let key: String
        /// The canonical nick.
        let nick: String
        /// Who holds the nick.
        let owner: NickOwner
    }

    /// One listed nick as a page stores it: every node keeps the lists of
    /// its users' rooms, so the canonical spelling is not kept twice.
    private struct Slot {
        let key: String
        var owner: NickOwner
        /// How many bytes the nick takes in the page's JSON, quotes included.
        var encodedLength: UInt16

        func precedes(_ other: String) -> Bool {
            key.utf8.lexicographicallyPrecedes(other.utf8)
        }
    }

    private struct Page {
        var slots: [Slot]
        /// The slots' nicks as JSON strings joined by commas.
        var json: [UInt8]

        init(slots: [Slot], json: [UInt8]) {
            self.slots = slots
            self.json = json
        }

        /// Inserts `slot`, whose nick encodes as `encoded`, at `index`, and
        /// splices its bytes into the JSON instead of encoding the page again.
        mutating func insert(_ slot: Slot, encoded: [UInt8], at index: Int) {
            if slots.isEmpty {
                json = encoded
            } else {
                Self.makeRoom(for: encoded.count + 1, in: &json)
                if index == slots.count {
                    json.append(UInt8(ascii: ","))
                    json.append(contentsOf: encoded)
                } else {
                    json.insert(contentsOf: encoded + [UInt8(ascii: ",")], at: jsonOffset(of: index))
                }
            }
            Self.makeRoom(for: 1, in: &slots)
            slots.insert(slot, at: index)
        }

        /// Removes the slot at `index` and its bytes from the JSON.
        mutating func remove(at index: Int) {
            let start = jsonOffset(of: index)
            let length = Int(slots[index].encodedLength)
            if slots.count == 1 {
                json.removeAll()
            } else if index < slots.count - 1 {
                json.removeSubrange(start..<(start + length + 1))
            } else {
                json.removeSubrange((start - 1)..<(start + length))
            }
            slots.remove(at: index)
        }

        /// Replaces the JSON of the nick at `index` with `encoded` (its new canonical spelling).
        mutating func respell(at index: Int, encoded: [UInt8]) {
            let start = jsonOffset(of: index)
            json.replaceSubrange(start..<(start + Int(slots[index].encodedLength)), with: encoded)
            slots[index].encodedLength = UInt16(encoded.count)
        }

        /// The canonical nick at `index`, read back from the JSON.
        func nick(at index: Int) -> String {
            nick(at: index, jsonOffset: jsonOffset(of: index))
        }

        /// The nick at `index`, whose JSON starts at `start`. A valid nick has
        /// no character JSON escapes, so its bytes sit between the quotes.
        private func nick(at index: Int, jsonOffset start: Int) -> String {
            let end = start + Int(slots[index].encodedLength)
            let bytes = json[(start + 1)..<(end - 1)]
            guard bytes.contains(UInt8(ascii: "\\")), case .string(let nick) = try? JSONParser.parse(Array(json[start..<end])) else {
                return String(decoding: bytes, as: UTF8.self)
            }
            return nick
        }

        /// The entry at `index`.
        func entry(at index: Int) -> Entry {
            Entry(key: slots[index].key, nick: nick(at: index), owner: slots[index].owner)
        }

        /// Every entry in order, reading the JSON once from start to end.
        var entries: [Entry] {
            var offset = 0
            return slots.indices.map { index in
                defer { offset += Int(slots[index].encodedLength) + 1 }
                return Entry(key: slots[index].key, nick: nick(at: index, jsonOffset: offset), owner: slots[index].owner)
            }
        }

        /// The page split at `index`: the slots before it and their JSON, then the rest.
        func split(at index: Int) -> (Page, Page) {
            let end = jsonOffset(of: index)
            // Both halves get arrays of their own size: the full page's have
            // grown past the maximum, and keeping them would leave storage empty for good.
            return (
                Page(slots: Array(slots[..<index]), json: Array(json[..<(end - 1)])),
                Page(slots: Array(slots[index...]), json: Array(json[end...]))
            )
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

        /// Where the JSON of the first `count` slots ends (their last one's closing quote included).
        func jsonEnd(ofFirst count: Int) -> Int {
            jsonOffset(of: count) - 1
        }

        /// Where the nick at `index` starts in the JSON.
        func jsonOffset(of index: Int) -> Int {
            var offset = 0
            for slot in slots[..<index] { offset += Int(slot.encodedLength) + 1 }
            return offset
        }

        /// The index of the first slot not preceding `order`.
        func insertionIndex(_ order: String) -> Int {
            var low = 0
            var high = slots.count
            while low < high {
                let middle = (low + high) / 2
                if slots[middle].precedes(order) { low = middle + 1 } else { high = middle }
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
        let key = nick.key.value
        guard !pages.isEmpty else {
            let encoded = Self.encode(nick)
            pages.append(Page(slots: [Slot(key: key, owner: owner, encodedLength: UInt16(encoded.count))], json: encoded))
            count += 1
            return true
        }
        let pageIndex = min(self.pageIndex(for: key), pages.count - 1)
        let index = pages[pageIndex].insertionIndex(key)
        if index < pages[pageIndex].slots.count, pages[pageIndex].slots[index].key == key {
            pages[pageIndex].slots[index].owner = owner
            if pages[pageIndex].nick(at: index) != nick.canonical {
                pages[pageIndex].respell(at: index, encoded: Self.encode(nick))
            }
            return false
        }
        // Encoded only for a nick new to the list: a listed one's new holder needs no bytes.
        let encoded = Self.encode(nick)
        let slot = Slot(key: key, owner: owner, encodedLength: UInt16(encoded.count))
        count += 1
        pages[pageIndex].insert(slot, encoded: encoded, at: index)
        if pages[pageIndex].slots.count > Self.maximumPageSize {
            let (first, second) = pages[pageIndex].split(at: Self.maximumPageSize / 2)
            pages[pageIndex] = first
            pages.insert(second, at: pageIndex + 1)
        }
        return true
    }

    private static func encode(_ nick: Nick) -> [UInt8] {
        var encoded: [UInt8] = []
        JSONWriter.appendEncodedString(nick.canonical, to: &encoded)
        return encoded
    }

    /// Removes the nick whose key is `key`, if `owner` (when given) holds
    /// it; false when it was not listed or another holds it.
    @discardableResult
    mutating func remove(_ key: NickKey, heldBy owner: NickOwner? = nil) -> Bool {
        guard let position = position(of: key) else { return false }
        if let owner, pages[position.page].slots[position.entry].owner != owner { return false }
        pages[position.page].remove(at: position.entry)
        count -= 1
        if pages[position.page].slots.isEmpty { pages.remove(at: position.page) }
        return true
    }

    /// The entry listed under `key`.
    subscript(key: NickKey) -> Entry? {
        position(of: key).map { pages[$0.page].entry(at: $0.entry) }
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
        entries.map(\.nick)
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
            if position.page < pages.count, pages[position.page].slots[position.entry].key == after.value {
                position = self.position(after: position)
            }
        }
        if let prefix, !prefixBytes.isEmpty {
            let start = firstPosition(notPreceding: prefix.value)
            if (start.page, start.entry) > (position.page, position.entry) { position = start }
        }
        // The page's nicks as runs of consecutive slots, each cut from its page's JSON.
        var runs: [(page: Int, slots: Range<Int>)] = []
        var taken = 0
        var hasMore = false
        while position.page < pages.count {
            guard pages[position.page].slots[position.entry].key.utf8.starts(with: prefixBytes) else { break }
            guard taken < limit else {
                hasMore = true
                break
            }
            if let last = runs.last, last.page == position.page {
                runs[runs.count - 1].slots = last.slots.lowerBound..<(position.entry + 1)
            } else {
                runs.append((position.page, position.entry..<(position.entry + 1)))
            }
            taken += 1
            position = self.position(after: position)
        }
        let chunks = runs.map { run in
            let page = pages[run.page]
            return Array(page.json[page.jsonOffset(of: run.slots.lowerBound)..<page.jsonEnd(ofFirst: run.slots.upperBound)])
        }
        let next = hasMore ? runs.last.map { pages[$0.page].nick(at: $0.slots.upperBound - 1) } : nil
        return (EncodedNickList(chunks: chunks), next)
    }

    /// The first `limit` nicks in list order, cut from the pages' JSON
    /// (a large room's `room` event lists them at every join).
    func first(_ limit: Int) -> EncodedNickList {
        var chunks: [[UInt8]] = []
        var remaining = limit
        for page in pages where remaining > 0 {
            if page.slots.count <= remaining {
                chunks.append(page.json)
                remaining -= page.slots.count
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
        guard position.page < pages.count, pages[position.page].slots[position.entry].key == key.value else { return nil }
        return position
    }

    /// Where the first entry whose key does not precede `order` is (`pages.count` when none).
    private func firstPosition(notPreceding order: String) -> (page: Int, entry: Int) {
        let pageIndex = self.pageIndex(for: order)
        guard pageIndex < pages.count else { return (pages.count, 0) }
        return (pageIndex, pages[pageIndex].insertionIndex(order))
    }

    private func position(after position: (page: Int, entry: Int)) -> (page: Int, entry: Int) {
        position.entry + 1 < pages[position.page].slots.count ? (position.page, position.entry + 1) : (position.page + 1, 0)
    }

    /// The index of the first page whose last entry does not precede `order`
    /// (`pages.count` when every page's entries precede it).
    private func pageIndex(for order: String) -> Int {
        var low = 0
        var high = pages.count
        while low < high {
            let middle = (low + high) / 2
            if pages[middle].slots[pages[middle].slots.count - 1].precedes(order) { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
