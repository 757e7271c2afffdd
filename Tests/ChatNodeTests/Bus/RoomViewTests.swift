import ChatProtocol
import Testing

@testable import ChatNode

@Suite("Cluster view")
struct RoomViewTests {
    @Test("joined is forwarded once; a repeat or a new holder of a listed nick is not")
    func inserts() {
        var view = RoomView(history: MessageHistory(retention: 10, welcomeLength: 5))
        let first = view.insert(Nick(trustedCanonical: "Åsa"), owner: "a/1")
        let repeated = view.insert(Nick(trustedCanonical: "Åsa"), owner: "a/1")
        let newHolder = view.insert(Nick(trustedCanonical: "åsa"), owner: "b/7")
        #expect(first)
        #expect(!repeated)
        #expect(!newHolder)
        #expect(view.sortedUsers == ["åsa"])
    }

    @Test("left is forwarded only for the current holder of the nick")
    func removes() {
        var view = RoomView(history: MessageHistory(retention: 10, welcomeLength: 5))
        let bob = Nick(trustedCanonical: "bob")
        _ = view.insert(bob, owner: "a/1")
        _ = view.insert(bob, owner: "b/2")
        let formerHolder = view.remove(bob.key, owner: "a/1")
        let currentHolder = view.remove(NickKey(lookingUp: "BOB"), owner: "b/2")
        let again = view.remove(bob.key, owner: "b/2")
        #expect(!formerHolder)
        #expect(currentHolder)
        #expect(!again)
        #expect(view.sortedUsers.isEmpty)
    }

    @Test("a nick's owner is the same holder exactly when the owner strings are equal, whatever form they take", arguments: [
        "3w5hk2j1l9x0/12345", "0/0", "zzzzzzzzzzzzz/18446744073709551615", "42", "~user-7", "~", "", "a/b/c", "/5", "5/",
    ])
    func ownersCompareAsTheirStrings(owner: String) {
        #expect(NickOwner(owner) == NickOwner(String(owner)))
        for other in ["3W5HK2J1L9X0/12345", "3w5hk2j1l9x0/012345", "3w5hk2j1l9x0/+12345", "03w5hk2j1l9x0/12345", "042", "+42", "~user-8", "0/00"] {
            #expect((NickOwner(owner) == NickOwner(other)) == (owner == other), "\(owner) against \(other)")
        }
    }

    @Test("a connection's owner takes no allocation of its own: instance and connection are numbers")
    func connectionOwnersAreNumbers() {
        #expect(NickOwner("3w5hk2j1l9x0/12345") == .connection(instance: UInt64("3w5hk2j1l9x0", radix: 36)!, id: 12345))
        #expect(NickOwner("42") == .localConnection(42))
        #expect(NickOwner("~ann") == .other("~ann"))
    }

    @Test("a new holder with another canonical form of the nick relists it under that form")
    func relistsCanonicalForm() {
        var view = RoomView(history: MessageHistory(retention: 10, welcomeLength: 5))
        _ = view.insert(Nick(trustedCanonical: "Bob"), owner: "a/1")
        _ = view.insert(Nick(trustedCanonical: "bob"), owner: "a/2")
        #expect(view.sortedUsers == ["bob"])
        #expect(view.list[NickKey(lookingUp: "BOB")]?.nick == "bob")
        #expect(view.list[NickKey(lookingUp: "ann")] == nil)
    }
}

@Suite("Message history")
struct MessageHistoryTests {
    private func line(_ index: Int) -> ChatLine {
        ChatLine(id: "m\(index)", from: "a", text: "\(index)", ts: Int64(index))
    }

    @Test("welcome gets the newest lines; duplicates by id are dropped")
    func recent() {
        var history = MessageHistory(retention: 10, welcomeLength: 3)
        for index in 1...5 { history.append(line(index)) }
        let duplicate = history.append(ChatLine(id: "m5", from: "a", text: "again", ts: 9))
        #expect(!duplicate)
        #expect(history.recent.map(\.id) == ["m3", "m4", "m5"])
    }

    @Test("resuming returns every line after the given one, across many trims")
    func resume() {
        var history = MessageHistory(retention: 1000, welcomeLength: 50)
        for index in 1...3500 { history.append(line(index)) }
        #expect(history.all.count == 1000)
        #expect(history.lines(after: "m3500")?.isEmpty == true)
        #expect(history.lines(after: "m3400")?.map(\.id) == (3401...3500).map { "m\($0)" })
        #expect(history.lines(after: "m2501")?.count == 999)
        #expect(history.lines(after: "m2500") == nil)
        #expect(history.lines(after: "unknown") == nil)
    }
}

@Suite("Cluster envelopes")
struct ClusterEnvelopeTests {
    @Test("every kind round-trips", arguments: [
        ClusterEnvelope.Event.message(ChatLine(id: "x-1", from: "Åsa", text: "hi \"there\"\n<b>", ts: 1_732_500_000_123)),
        .direct(DirectLine(id: "x-2", from: "a", to: "b", text: "psst", ts: 5), connection: 42),
        .joined(nick: "नमस्ते", owner: "inst/9", ts: 7),
        .left(nick: "bob", owner: "inst/3", ts: 8, reason: .nodeDown),
        .leftMany([.init(nick: "bob", owner: "inst/3"), .init(nick: "Åsa", owner: "inst/4")], ts: 9, reason: .quit),
    ])
    func roundTrip(_ event: ClusterEnvelope.Event) {
        let envelope = ClusterEnvelope(origin: "abc", event: event)
        #expect(ClusterEnvelope.decode(envelope.encoded()) == envelope)
    }

    @Test("unknown kinds and malformed payloads are ignored; extra fields are fine")
    func tolerance() {
        #expect(ClusterEnvelope.decode(Array(#"{"v":2,"origin":"o","kind":"reaction","emoji":"👍"}"#.utf8)) == nil)
        #expect(ClusterEnvelope.decode(Array("not json".utf8)) == nil)
        let newer = #"{"v":2,"origin":"o","kind":"joined","nick":"a","owner":"i/1","ts":3,"avatar":"x"}"#
        #expect(ClusterEnvelope.decode(Array(newer.utf8))?.event == .joined(nick: "a", owner: "i/1", ts: 3))
    }

    @Test("the reap script's left_many envelope (written by Lua cjson) decodes")
    func reapFormat() {
        let lua = #"{"reason":"node_down","origin":"","users":[{"nick":"\u00c5sa","owner":"i\/4"}],"kind":"left_many","v":1,"ts":1732500000123}"#
        #expect(
            ClusterEnvelope.decode(Array(lua.utf8))?.event
                == .leftMany([.init(nick: "Åsa", owner: "i/4")], ts: 1_732_500_000_123, reason: .nodeDown)
        )
    }

    @Test("presence records round-trip")
    func presence() {
        let record = PresenceRecord(nick: "Åsa", instance: "i", node: "node-1", connection: 12)
        #expect(PresenceRecord.decode(record.encoded()) == record)
        #expect(record.owner == "i/12")
    }
}
