import ChatNode
import ChatProtocol
import TestSupport
import Testing

/// Where a rooms test runs: one node alone, or three nodes through a real Redis.
enum RoomsSetup: String, CaseIterable, CustomTestStringConvertible {
    case alone
    case cluster

    var testDescription: String { rawValue }

    /// Runs `body` with one node (alone) or three (cluster); `nodes[i % count]` spreads clients.
    func run(_ configure: @escaping (inout NodeConfiguration) -> Void = { _ in }, _ body: ([TestNode]) async throws -> Void) async throws {
        switch self {
        case .alone: try await withNode(configure) { try await body([$0]) }
        case .cluster: try await withCluster(configure) { try await body($0.nodes) }
        }
    }
}

extension TestNode {
    /// Opens a v3 connection and says `hello` as `nick`; returns the client and its `welcome`.
    func joinV3(_ nick: String) async throws -> (WebSocketTestClient, [String: JSONValue]) {
        try await join(nick, subprotocol: "chat.v3.json")
    }
}

extension WebSocketTestClient {
    /// Sends `join` for `room` and returns the `room` reply.
    func enter(_ room: String, since: String? = nil) async throws -> [String: JSONValue] {
        let sinceMember = since.map { #","since":"\#($0)""# } ?? ""
        try await send(#"{"type":"join","room":"\#(room)"\#(sinceMember),"ref":"j-\#(room)"}"#)
        while let event = await nextMessage() {
            guard event.string("ref") == "j-\(room)" else { continue }
            try #require(event.string("type") == "room", "join \(room) answered \(event)")
            return event
        }
        throw TestSupportError("no room event for \(room) within 5 s")
    }

    /// The code of the next `error`.
    func nextErrorCode() async -> String? {
        await next(ofType: "error")?.string("code")
    }

    /// Sends `rooms` and returns the `room_list` reply's entries as `name:count`, in its order.
    func roomList() async throws -> [String] {
        try await send(#"{"type":"rooms","ref":"rooms"}"#)
        let list = try #require(await next(ofType: "room_list"))
        try #require(list.string("ref") == "rooms")
        guard case .array(let rooms) = list["rooms"] else { throw TestSupportError("no rooms in \(list)") }
        return rooms.compactMap { room in
            guard case .object(let fields) = room, let name = fields.string("room"), let count = fields.integer("count") else { return nil }
            return "\(name):\(count)"
        }
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// An integer field.
    func integer(_ key: String) -> Int64? { self[key]?.int64Value }
}

@Suite("chat.v3.json: rooms")
struct RoomsTests {
    @Test("a v3 welcome names the nick and node only; the client is in no room", arguments: RoomsSetup.allCases)
    func welcome(setup: RoomsSetup) async throws {
        try await setup.run { nodes in
            let (_, welcome) = try await nodes[0].joinV3("asa")
            #expect(welcome.string("nick") == "asa")
            #expect(welcome.string("node") != nil)
            #expect(welcome["users"] == nil && welcome["history"] == nil && welcome["resumed"] == nil)
        }
    }

    @Test("join answers room with count, sorted users and history; the others learn it by presence", arguments: RoomsSetup.allCases)
    func joinAndPresence(setup: RoomsSetup) async throws {
        try await setup.run({ $0.presenceInterval = .milliseconds(50) }) { nodes in
            let (bob, _) = try await nodes[0].joinV3("bob")
            let first = try await bob.enter("rust")
            #expect(first.integer("count") == 1)
            #expect(first.strings("users") == ["bob"])
            #expect(first["large"] == .bool(false))
            #expect(first["resumed"] == .bool(false))
            let (asa, _) = try await nodes[1 % nodes.count].joinV3("Åsa")
            let second = try await asa.enter("rust")
            #expect(second.integer("count") == 2)
            #expect(second.strings("users") == ["bob", "Åsa"])
            let presence = try #require(await bob.next(ofType: "presence"))
            #expect(presence.string("room") == "rust")
            #expect(presence.integer("count") == 2)
            #expect(presence.strings("joined") == ["Åsa"])
        }
    }

    @Test("a line reaches the room's members only, with its room, on every node", arguments: RoomsSetup.allCases)
    func messagesStayInTheirRoom(setup: RoomsSetup) async throws {
        try await setup.run { nodes in
            let (amy, _) = try await nodes[0].joinV3("amy")
            let (ben, _) = try await nodes[1 % nodes.count].joinV3("ben")
            let (cat, _) = try await nodes[2 % nodes.count].joinV3("cat")
            _ = try await amy.enter("rust")
            _ = try await ben.enter("rust")
            _ = try await cat.enter("go")
            try await amy.send(#"{"type":"say","room":"rust","text":"borrow","ref":"s1"}"#)
            let own = try #require(await amy.next(ofType: "message"))
            #expect(own.string("room") == "rust" && own.string("text") == "borrow" && own.string("ref") == "s1")
            let other = try #require(await ben.next(ofType: "message"))
            #expect(other.string("room") == "rust" && other.string("text") == "borrow" && other["ref"] == nil)
            try await cat.send(#"{"type":"say","room":"go","text":"goroutine"}"#)
            #expect(await cat.next(ofType: "message")?.string("text") == "goroutine")
            #expect(await amy.next(ofType: "message", timeout: .milliseconds(500)) == nil)
        }
    }

    @Test("room rules: room_invalid before text_invalid, not_in_room, already_in_room, too_many_rooms", arguments: RoomsSetup.allCases)
    func errors(setup: RoomsSetup) async throws {
        try await setup.run({ $0.maximumRooms = 2 }) { nodes in
            let client = try await nodes[0].connect(subprotocols: ["chat.v3.json"])
            try await client.send(#"{"type":"join","room":"rust"}"#)
            #expect(await client.nextErrorCode() == "not_joined")
            try await client.send(#"{"type":"hello","nick":"dora"}"#)
            #expect(await client.next(ofType: "welcome") != nil)
            for bad in ["Rust", "-rust", "", String(repeating: "a", count: 33), "r ust", "lobby!"] {
                try await client.send(#"{"type":"join","room":"\#(bad)"}"#)
                #expect(await client.nextErrorCode() == "room_invalid", "\(bad)")
            }
            try await client.send(#"{"type":"say","room":"BAD","text":" "}"#)
            #expect(await client.nextErrorCode() == "room_invalid")
            try await client.send(#"{"type":"say","room":"rust","text":"hi"}"#)
            #expect(await client.nextErrorCode() == "not_in_room")
            try await client.send(#"{"type":"part","room":"rust"}"#)
            #expect(await client.nextErrorCode() == "not_in_room")
            try await client.send(#"{"type":"who","room":"rust"}"#)
            #expect(await client.nextErrorCode() == "not_in_room")
            try await client.send(#"{"type":"say","text":"hi"}"#)
            #expect(await client.nextErrorCode() == "bad_message")
            _ = try await client.enter("rust")
            try await client.send(#"{"type":"say","room":"rust","text":" "}"#)
            #expect(await client.nextErrorCode() == "text_invalid")
            try await client.send(#"{"type":"join","room":"rust"}"#)
            #expect(await client.nextErrorCode() == "already_in_room")
            _ = try await client.enter("go")
            try await client.send(#"{"type":"join","room":"zig"}"#)
            #expect(await client.nextErrorCode() == "too_many_rooms")
        }
    }

    @Test("part answers parted; the others see left with reason part; the room's lines stop", arguments: RoomsSetup.allCases)
    func part(setup: RoomsSetup) async throws {
        try await setup.run({ $0.presenceInterval = .milliseconds(50) }) { nodes in
            let (eve, _) = try await nodes[0].joinV3("eve")
            let (fay, _) = try await nodes[1 % nodes.count].joinV3("fay")
            _ = try await eve.enter("rust")
            _ = try await fay.enter("rust")
            _ = await eve.next(ofType: "presence")
            try await fay.send(#"{"type":"part","room":"rust","ref":"p"}"#)
            let parted = try #require(await fay.next(ofType: "parted"))
            #expect(parted.string("room") == "rust" && parted.string("reason") == "part" && parted.string("ref") == "p")
            let presence = try #require(await eve.next(ofType: "presence"))
            #expect(presence.integer("count") == 1)
            guard case .array(let left) = presence["left"], case .object(let departure) = left.first else {
                Issue.record("no left entry in \(presence)")
                return
            }
            #expect(departure.string("nick") == "fay" && departure.string("reason") == "part")
            try await eve.send(#"{"type":"say","room":"rust","text":"still here"}"#)
            #expect(await eve.next(ofType: "message")?.string("text") == "still here")
            #expect(await fay.next(ofType: "message", timeout: .milliseconds(500)) == nil)
            try await fay.send(#"{"type":"say","room":"rust","text":"x"}"#)
            #expect(await fay.nextErrorCode() == "not_in_room")
        }
    }

    @Test("who pages a room's members by prefix, after and limit", arguments: RoomsSetup.allCases)
    func whoPages(setup: RoomsSetup) async throws {
        try await setup.run { nodes in
            var clients: [WebSocketTestClient] = []
            for (index, nick) in ["anna", "Anton", "bert", "ann", "carl"].enumerated() {
                let (client, _) = try await nodes[index % nodes.count].joinV3(nick)
                _ = try await client.enter("books")
                clients.append(client)
            }
            let asker = clients[0]
            try await asker.send(#"{"type":"who","room":"books","limit":2,"ref":"w"}"#)
            let first = try #require(await asker.next(ofType: "users"))
            #expect(first.string("room") == "books" && first.integer("count") == 5 && first.string("ref") == "w")
            #expect(first.strings("users") == ["ann", "anna"])
            #expect(first.string("next") == "anna")
            try await asker.send(#"{"type":"who","room":"books","limit":2,"after":"anna"}"#)
            let second = try #require(await asker.next(ofType: "users"))
            #expect(second.strings("users") == ["Anton", "bert"])
            try await asker.send(#"{"type":"who","room":"books","prefix":"AN"}"#)
            let prefixed = try #require(await asker.next(ofType: "users"))
            #expect(prefixed.strings("users") == ["ann", "anna", "Anton"])
            #expect(prefixed["next"] == nil)
            for bad in [#""limit":0"#, #""limit":1001"#, #""prefix":5"#, #""after":"\#(String(repeating: "a", count: 25))""#] {
                try await asker.send(#"{"type":"who","room":"books",\#(bad)}"#)
                #expect(await asker.nextErrorCode() == "bad_message", "\(bad)")
            }
        }
    }

    @Test("rooms lists rooms with members, most first, ties by name, and always lobby", arguments: RoomsSetup.allCases)
    func roomList(setup: RoomsSetup) async throws {
        try await setup.run { nodes in
            let (gus, _) = try await nodes[0].joinV3("gus")
            let (hal, _) = try await nodes[1 % nodes.count].joinV3("hal")
            _ = try await gus.enter("zeta")
            _ = try await hal.enter("zeta")
            _ = try await gus.enter("alpha")
            _ = try await hal.enter("beta")
            try await gus.send(#"{"type":"part","room":"alpha"}"#)
            _ = await gus.next(ofType: "parted")
            #expect(try await gus.roomList() == ["zeta:2", "beta:1", "lobby:0"])
        }
    }

    @Test("v1 and v2 clients live in lobby with v3 clients that join it", arguments: RoomsSetup.allCases)
    func lobbyCompatibility(setup: RoomsSetup) async throws {
        try await setup.run({ $0.presenceInterval = .milliseconds(50) }) { nodes in
            let (old, _) = try await nodes[0].join("old", subprotocol: "chat.v1.json")
            let (mid, _) = try await nodes[1 % nodes.count].join("mid", subprotocol: "chat.v2.json")
            let (new, _) = try await nodes[2 % nodes.count].joinV3("new")
            let lobby = try await new.enter("lobby")
            #expect(Set(lobby.strings("users") ?? []) == ["mid", "new", "old"])
            var joined: [String] = []
            while !joined.contains("new"), let event = await old.next(ofType: "joined") {
                joined.append(event.string("nick") ?? "")
            }
            #expect(joined.contains("new"))
            try await new.send(#"{"type":"say","room":"lobby","text":"from v3"}"#)
            let line = try #require(await old.next(ofType: "message"))
            #expect(line.string("text") == "from v3" && line["room"] == nil)
            #expect(await mid.next(ofType: "message")?.string("text") == "from v3")
            #expect(await new.next(ofType: "message")?.string("text") == "from v3")
            try await old.send(#"{"type":"say","text":"from v1"}"#)
            let back = try #require(await new.next(ofType: "message"))
            #expect(back.string("text") == "from v1" && back.string("room") == "lobby")
            try await new.send(#"{"type":"part","room":"lobby"}"#)
            let left = try #require(await old.next(ofType: "left"))
            #expect(left.string("nick") == "new" && left.string("reason") == "quit")
            try await old.send(#"{"type":"join","room":"rust"}"#)
            #expect(await old.nextErrorCode() == "unknown_type")
            try await old.send(#"{"type":"whisper","to":"new","text":"psst"}"#)
            #expect(await new.next(ofType: "direct")?.string("text") == "psst")
        }
    }

    @Test("a connection that ends leaves every room it was in, with one reason", arguments: RoomsSetup.allCases)
    func connectionEndLeavesAllRooms(setup: RoomsSetup) async throws {
        try await setup.run({ $0.presenceInterval = .milliseconds(50) }) { nodes in
            let (ivy, _) = try await nodes[0].joinV3("ivy")
            let (jon, _) = try await nodes[1 % nodes.count].joinV3("jon")
            for room in ["a1", "b2"] { _ = try await ivy.enter(room) }
            for room in ["a1", "b2"] { _ = try await jon.enter(room) }
            // Seen joining both rooms first: a join and a leave in one batch would net out.
            var joinedIn: Set<String> = []
            while joinedIn.count < 2, let presence = await ivy.next(ofType: "presence") {
                if presence.strings("joined") == ["jon"] { joinedIn.insert(presence.string("room") ?? "") }
            }
            #expect(joinedIn == ["a1", "b2"])
            await jon.disconnect()
            var rooms: Set<String> = []
            while rooms.count < 2, let presence = await ivy.next(ofType: "presence") {
                guard case .array(let left) = presence["left"], case .object(let departure) = left.first else { continue }
                #expect(departure.string("nick") == "jon" && departure.string("reason") == "quit")
                #expect(presence.integer("count") == 1)
                rooms.insert(presence.string("room") ?? "")
            }
            #expect(rooms == ["a1", "b2"])
            let (again, _) = try await nodes[0].joinV3("jon")
            #expect(try await again.enter("a1").integer("count") == 2)
        }
    }

    @Test("join with since resumes the room's history after that line", arguments: RoomsSetup.allCases)
    func resumePerRoom(setup: RoomsSetup) async throws {
        try await setup.run { nodes in
            let (kim, _) = try await nodes[0].joinV3("kim")
            _ = try await kim.enter("news")
            _ = try await kim.enter("misc")
            var ids: [String] = []
            for index in 0..<4 {
                try await kim.send(#"{"type":"say","room":"news","text":"n\#(index)"}"#)
                try await kim.send(#"{"type":"say","room":"misc","text":"m\#(index)"}"#)
            }
            while ids.count < 4, let line = await kim.next(ofType: "message") {
                if line.string("room") == "news", let id = line.string("id") { ids.append(id) }
            }
            let (lee, _) = try await nodes[1 % nodes.count].joinV3("lee")
            let resumed = try await lee.enter("news", since: ids[1])
            #expect(resumed["resumed"] == .bool(true))
            #expect(resumed.historyIDs == Array(ids[2...]))
            let fresh = try await lee.enter("misc", since: "no-such-id")
            #expect(fresh["resumed"] == .bool(false))
            #expect(fresh.historyIDs.count == 4)
        }
    }
}
