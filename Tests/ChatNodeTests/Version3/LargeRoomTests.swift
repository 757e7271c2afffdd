import ChatNode
import ChatProtocol
import TestSupport
import Testing

@Suite("chat.v3.json: large rooms (--large-room 10)")
struct LargeRoomTests {
    /// Joins `count` v3 users named `prefix0`… into `room`, spread over `nodes`.
    private func fill(_ room: String, count: Int, prefix: String, nodes: [TestNode]) async throws -> [WebSocketTestClient] {
        var clients: [WebSocketTestClient] = []
        for index in 0..<count {
            let (client, _) = try await nodes[index % nodes.count].joinV3("\(prefix)\(index)")
            _ = try await client.enter(room)
            clients.append(client)
        }
        return clients
    }

    @Test("past the threshold: large: true once, then counts only, at most one a second; small again at nine tenths with the whole list", arguments: RoomsSetup.allCases)
    func transitions(setup: RoomsSetup) async throws {
        try await setup.run({
            $0.largeRoom = 10
            $0.presenceInterval = .milliseconds(50)
        }) { nodes in
            let (watcher, _) = try await nodes[0].joinV3("watcher")
            _ = try await watcher.enter("big")
            var members = try await fill("big", count: 9, prefix: "m", nodes: nodes)
            // 10 members: still small, so the watcher's list is by name.
            var list: Set<String> = ["watcher"]
            while list.count < 10, let presence = await watcher.next(ofType: "presence") {
                #expect(presence["large"] == nil)
                list.formUnion(presence.strings("joined") ?? [])
            }
            #expect(list.count == 10)

            members += try await fill("big", count: 1, prefix: "x", nodes: nodes)
            let turned = try #require(await watcher.next(ofType: "presence"))
            #expect(turned["large"] == .bool(true))
            #expect(turned.integer("count") == 11)
            #expect(turned.strings("joined") == [] && turned["left"] == .array([]))

            // A member joining a large room gets the first names and large: true.
            let (late, _) = try await nodes[0].joinV3("late")
            let snapshot = try await late.enter("big")
            #expect(snapshot["large"] == .bool(true))
            #expect(snapshot.integer("count") == 12)
            #expect(snapshot.strings("users")?.count == 12)

            members += try await fill("big", count: 3, prefix: "y", nodes: nodes)
            var counts: [(count: Int64, ts: Int64)] = []
            while counts.last?.count != 15, let presence = await watcher.next(ofType: "presence", timeout: .seconds(3)) {
                #expect(presence.strings("joined") == [])
                #expect(presence["users"] == nil)
                counts.append((presence.integer("count") ?? 0, presence.integer("ts") ?? 0))
            }
            #expect(counts.last?.count == 15)
            for (earlier, later) in zip(counts, counts.dropFirst()) {
                #expect(later.ts - earlier.ts >= 950, "count events \(earlier) and \(later) less than a second apart")
            }

            // Down to 9 = nine tenths of 10: small again, with every member by name.
            for client in members.prefix(6) { await client.disconnect() }
            var small: [String: JSONValue]?
            while small == nil, let presence = await watcher.next(ofType: "presence", timeout: .seconds(4)) {
                if presence["large"] == .bool(false) { small = presence }
            }
            let back = try #require(small)
            #expect(back.integer("count") == 9)
            #expect(back.strings("users")?.count == 9)
            #expect(back.strings("users")?.contains("watcher") == true)
        }
    }

    @Test("a node's first member of a room that is large already hears no large: true after its room event", arguments: RoomsSetup.allCases)
    func firstMemberOfLargeRoomOnNode(setup: RoomsSetup) async throws {
        try await setup.run({
            $0.largeRoom = 10
            $0.presenceInterval = .milliseconds(50)
        }) { nodes in
            let members = try await fill("big", count: 11, prefix: "m", nodes: [nodes[0]])
            var told = false
            while !told, let presence = await members[0].next(ofType: "presence", timeout: .seconds(3)) {
                told = presence["large"] == .bool(true)
            }
            try #require(told, "the room's members were told it turned large")
            let (newcomer, _) = try await nodes[nodes.count - 1].joinV3("newcomer")
            let snapshot = try await newcomer.enter("big")
            #expect(snapshot["large"] == .bool(true))
            #expect(snapshot.integer("count") == 12)
            _ = try await fill("big", count: 1, prefix: "later", nodes: [nodes[0]])
            // Counts may repeat what the room event said (the others learn 12 too); none says large again.
            var count: Int64?
            while count != 13, let presence = await newcomer.next(ofType: "presence", timeout: .seconds(3)) {
                #expect(presence["large"] == nil, "the room event said large already: \(presence)")
                count = presence.integer("count")
            }
            #expect(count == 13)
        }
    }

    @Test("v2 clients in a large lobby still get every change by name", arguments: RoomsSetup.allCases)
    func lobbyStaysNamedForV2(setup: RoomsSetup) async throws {
        try await setup.run({
            $0.largeRoom = 3
            $0.presenceInterval = .milliseconds(50)
        }) { nodes in
            let (old, welcome) = try await nodes[0].join("old", subprotocol: "chat.v2.json")
            var list = PresenceTracker(welcome: welcome)
            var clients: [WebSocketTestClient] = []
            for index in 0..<5 {
                let (client, _) = try await nodes[index % nodes.count].join("u\(index)", subprotocol: "chat.v2.json")
                clients.append(client)
            }
            _ = await list.drain(old, quiet: .milliseconds(600))
            #expect(list.users.count == 6)
            #expect(list.violations.isEmpty, "\(list.violations)")
        }
    }
}
