import ChatProtocol
import Testing

@testable import ChatNode

@Suite("The sorted nick list")
struct SortedNickListTests {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.ÅåÖöβΣσ")

    private func randomNick(_ generator: inout some RandomNumberGenerator) -> Nick {
        while true {
            let length = Int.random(in: 1...12, using: &generator)
            let raw = String((0..<length).map { _ in Self.alphabet.randomElement(using: &generator)! })
            if let nick = Nick(validating: raw) { return nick }
        }
    }

    @Test("stays in the protocol's list order through thousands of joins and leaves, across page splits; its JSON is always the list's")
    func matchesAFullSort() {
        var generator = SystemRandomNumberGenerator()
        var list = SortedNickList()
        var listed: [NickKey: String] = [:]
        for step in 0..<5000 {
            if step % 3 == 2, let key = listed.keys.randomElement(using: &generator) {
                let removed = list.remove(key)
                #expect(removed)
                listed[key] = nil
            } else if step % 7 == 3, let canonical = listed.values.randomElement(using: &generator),
                let other = Nick(validating: canonical.uppercased()), other.key == Nick(validating: canonical)?.key
            {
                // The same user under a new canonical form: its bytes change in place.
                list.insert(other)
                listed[other.key] = other.canonical
            } else {
                let nick = randomNick(&generator)
                guard listed[nick.key] == nil else { continue }
                list.insert(nick)
                listed[nick.key] = nick.canonical
            }
            if step % 250 == 0 {
                #expect(list.encoded.json == EncodedNickList(Array(listed.values).sortedAsUserList()).json, "step \(step)")
            }
        }
        let expected = Array(listed.values).sortedAsUserList()
        #expect(list.count == listed.count)
        #expect(list.nicks == expected)
        #expect(list.encoded == EncodedNickList(expected))
        #expect(list.encoded.nicks == expected)
    }

    @Test("the first n nicks are the list's first n, within a page, across pages and beyond the end", arguments: [0, 1, 63, 64, 65, 100, 128, 129, 299, 300, 500])
    func firstNicks(limit: Int) {
        var generator = SystemRandomNumberGenerator()
        var list = SortedNickList()
        var nicks: Set<String> = []
        while nicks.count < 300 {
            let nick = randomNick(&generator)
            if list.insert(nick) { nicks.insert(nick.canonical) }
        }
        let expected = Array(list.nicks.prefix(limit))
        #expect(list.first(limit).json == EncodedNickList(expected).json)
        #expect(list.first(limit).nicks == expected)
    }

    @Test("a who page is the listed nicks after `after` with the prefix, up to the limit, across pages", arguments: [1, 7, 64, 100, 300])
    func whoPages(limit: Int) {
        var generator = SystemRandomNumberGenerator()
        var list = SortedNickList()
        while list.count < 400 { list.insert(randomNick(&generator)) }
        let all = list.entries
        for prefix in [nil, "a", "b", "å"] as [String?] {
            let prefixKey = prefix.map { NickKey(lookingUp: $0) }
            let matching = all.filter { prefixKey == nil || $0.key.hasPrefix(prefixKey!.value) }
            var after: NickKey?
            var seen: [String] = []
            while true {
                let page = list.page(prefix: prefixKey, after: after, limit: limit)
                #expect(page.nicks.nicks.count <= limit)
                seen += page.nicks.nicks
                guard let next = page.next else { break }
                #expect(next == seen.last)
                after = NickKey(lookingUp: next)
            }
            #expect(seen == matching.map(\.nick), "prefix \(prefix ?? "none")")
        }
    }

    @Test("removing a nick that is not listed changes nothing")
    func removeUnknown() {
        var list = SortedNickList()
        list.insert(Nick(validating: "bob")!)
        let removed = list.remove(NickKey(lookingUp: "alice"))
        #expect(!removed)
        #expect(list.nicks == ["bob"])
    }

    @Test("an empty list encodes as []; removing every nick empties it")
    func empty() {
        var list = SortedNickList()
        #expect(list.encoded.json == Array("[]".utf8))
        list.insert(Nick(validating: "Åsa")!)
        list.insert(Nick(validating: "bob")!)
        #expect(String(decoding: list.encoded.json, as: UTF8.self) == #"["bob","Åsa"]"#)
        list.remove(NickKey(lookingUp: "åsa"))
        list.remove(NickKey(lookingUp: "BOB"))
        #expect(list.encoded.json == Array("[]".utf8))
    }

    @Test("a list taken for a welcome keeps its nicks while the list changes after it, across pages")
    func snapshotIsStable() {
        var list = SortedNickList()
        let nicks = (0..<300).map { "u\($0)" }
        for nick in nicks { list.insert(Nick(validating: nick)!) }
        let taken = list.encoded
        #expect(taken.json.count == taken.byteCount)
        for nick in nicks.prefix(150) { list.remove(NickKey(lookingUp: nick)) }
        list.insert(Nick(validating: "zed")!)
        #expect(taken.nicks == nicks.sortedAsUserList())
        #expect(list.encoded.nicks == (Array(nicks.dropFirst(150)) + ["zed"]).sortedAsUserList())
    }
}
