import ChatProtocol
import Logging
import Redis
import TestSupport
import Testing

@testable import ChatNode

@Suite("Room catch-up after a cut channel")
struct RoomCatchUpTests {
    let keys = ClusterKeys(prefix: "chat")

    @Test("a room's channel names the room; other channels name none")
    func roomOfChannel() {
        for name in ["lobby", "a", "rust-2.0_x"] {
            let room = RoomName(trusted: name)
            #expect(keys.room(ofChannel: keys.channel(room)) == room)
        }
        #expect(keys.room(ofChannel: keys.inbox("abc")) == nil)
        #expect(keys.room(ofChannel: "chat:room:{}:events") == nil)
        #expect(keys.room(ofChannel: "other:room:{lobby}:events") == nil)
        #expect(keys.room(ofChannel: "chat:room:{Lobby}:events") == nil, "not a room name")
    }

    @Test("the catch-up script returns the lines newer than the node's newest, all kept lines when that one is gone or none is known, and the room's members and event number")
    func catchUpScriptReadsWhatWasMissed() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        let connection = RedisConnection(url: try RedisURL(parsing: redis.url), scripts: ClusterScripts.all, logger: Logger(label: "test"))
        try await connection.connect()
        let room = RoomName(trusted: "team")
        let envelopes = (1...120).map { id in
            let line = ChatLine(id: "m\(id)", from: "ann", text: #"say "id":"m1" \#(id)"#, ts: Int64(id), room: room)
            return String(decoding: ClusterEnvelope(origin: "i1", event: .message(line)).encoded(), as: UTF8.self)
        }
        _ = try await connection.sendBatch([
            RedisCommand(["LPUSH", keys.history(room)] + envelopes), RedisCommand(["SET", keys.sequence(room), "120"]),
        ])
        func missed(after newest: String, limit: Int = 1000) async throws -> [String] {
            let reply = try await connection.send(ClusterScripts.roomCatchUp.command(
                keys: [keys.members(room), keys.history(room), keys.sequence(room)].map { Array($0.utf8) },
                arguments: [Array(String(limit).utf8), Array(newest.utf8)]
            ))
            let snapshot = try #require(StoredRoomSnapshot(reply))
            #expect(snapshot.sequence == 120)
            return RedisBus.lines(in: snapshot.history).map(\.id)
        }
        #expect(try await missed(after: "m117") == ["m118", "m119", "m120"])
        #expect(try await missed(after: "m60") == (61...120).map { "m\($0)" }, "across the 50-line chunks")
        #expect(try await missed(after: "m120") == [])
        #expect(try await missed(after: "gone").count == 120)
        #expect(try await missed(after: "").count == 120)
        #expect(try await missed(after: "gone", limit: 30) == (91...120).map { "m\($0)" })
        await connection.shutdown()
    }

    @Test("a line sent while its room's channel is cut reaches every member once the channel is back, its sender with its ref")
    func lineDuringCutArrivesAfterCatchUp() async throws {
        try await withCutRoom { room, ann, bob in
            try await ann.send(#"{"type":"say","room":"team","text":"kept","ref":"r1"}"#)
            #expect(await bob.next(ofType: "message", timeout: .milliseconds(500)) == nil, "held while the channel is cut")
            try await room.resume()
            let echo = try #require(await ann.next(ofType: "message"))
            #expect(echo.string("text") == "kept" && echo.string("ref") == "r1")
            #expect(await bob.next(ofType: "message")?.string("text") == "kept")
            #expect(await bob.next(ofType: "message", timeout: .milliseconds(500)) == nil, "once")
        }
    }

    @Test("a line Redis stored and then lost while the room's channel was cut (a master that died before its replica had it) is refused to its sender with unavailable and its ref, and reaches nobody")
    func lostLineIsRefusedToItsSender() async throws {
        try await withCutRoom { room, ann, bob in
            try await ann.send(#"{"type":"say","room":"team","text":"lost","ref":"r1"}"#)
            try await room.waitUntilStored(lines: 1)
            // The promoted replica never had the line: the history lacks it, the event number is the one Redis gave it.
            _ = try await room.redis.send(RedisCommand(["LPOP", room.keys.history(room.room)]))
            try await room.resume()
            var answer: [String: JSONValue]?
            while answer == nil, let event = await ann.nextMessage() {
                #expect(event.string("type") != "message", "the sender gets no echo of the lost line: \(event)")
                if event.string("type") == "error" { answer = event }
            }
            let refusal = try #require(answer)
            #expect(refusal.string("code") == "unavailable")
            #expect(refusal.string("ref") == "r1")
            #expect(await bob.next(ofType: "message", timeout: .milliseconds(500)) == nil, "nobody gets the lost line")

            try await ann.send(#"{"type":"say","room":"team","text":"again","ref":"r2"}"#)
            #expect(await ann.next(ofType: "message")?.string("ref") == "r2", "the room works after the catch-up")
            #expect(await bob.next(ofType: "message")?.string("text") == "again")
        }
    }

    /// One node on a private Redis with ann and bob in `team`, whose channel
    /// the node is told is cut (as a Redis Cluster's subscriber reports a
    /// shard's loss); `body` resumes it when it likes.
    private func withCutRoom(
        _ body: (CutRoom, WebSocketTestClient, WebSocketTestClient) async throws -> Void
    ) async throws {
        try await withCluster(nodes: 1) { cluster in
            let node = cluster.nodes[0]
            let (ann, _) = try await node.joinV3("ann")
            let (bob, _) = try await node.joinV3("bob")
            _ = try await ann.enter("team")
            _ = try await bob.enter("team")
            let bus = try #require(node.server.node.bus as? RedisBus)
            let redis = RedisConnection(url: try RedisURL(parsing: cluster.redis.url), logger: Logger(label: "test"))
            try await redis.connect()
            let room = CutRoom(bus: bus, redis: redis, room: RoomName(trusted: "team"), keys: keys)
            await bus.channelsChanged(.cut([keys.channel(room.room)]))
            try await body(room, ann, bob)
            await redis.shutdown()
        }
    }

    /// A room whose channel a test has cut.
    private struct CutRoom {
        let bus: RedisBus
        let redis: RedisConnection
        let room: RoomName
        let keys: ClusterKeys

        func resume() async throws {
            await bus.channelsChanged(.resumed([keys.channel(room)]))
        }

        /// Waits until Redis keeps `lines` lines of the room.
        func waitUntilStored(lines: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(5)
            while try await redis.send(RedisCommand(["LLEN", keys.history(room)])).integer != Int64(lines) {
                try #require(ContinuousClock.now < deadline, "the line was not stored within 5 s")
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    @Test("held events are kept in arrival order; beyond capacity the oldest go (the snapshot's history and members stand in for them)")
    func holdsBoundedly() {
        var catchUp = RoomCatchUp(capacity: 3)
        for number in 1...5 {
            catchUp.hold(.joined(nick: "u\(number)", owner: "i/\(number)", ts: 0, room: .lobby), sequence: Int64(number))
        }
        #expect(catchUp.held.map(\.sequence) == [3, 4, 5])
        #expect(catchUp.phase == .awaitingSubscription)
    }
}
