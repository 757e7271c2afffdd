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
        let redis = try RedisServerProcess()
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
