import ChatProtocol
import Logging
import Redis
import TestSupport
import Testing

@testable import ChatNode

/// The node's Lua scripts against a real Redis Cluster: a script that
/// touched keys of two hash slots would be refused (CROSSSLOT), so each one
/// running here shows that the key layout shards.
@Suite("Cluster scripts on a Redis Cluster", .serialized)
struct ClusterScriptSlotTests {
    let keys = ClusterKeys(prefix: "chat")

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("every script but the v1/v2 claim-into-lobby runs within one hash slot, with the keys the node passes it")
    func scriptsStayInOneSlot() async throws {
        let cluster = try await RedisClusterDeployment()
        try await cluster.waitUntilReady()
        let client = RedisClusterClient(url: try RedisURL(parsing: cluster.url), scripts: ClusterScripts.allSharded, logger: Logger(label: "test"))
        try await client.connect()
        defer { Task { await client.shutdown() } }

        func run(_ script: RedisScript, _ scriptKeys: [String], _ arguments: [String]) async throws -> RedisReply {
            // The variant a node on a cluster runs: events by sharded pub/sub.
            let reply = try await client.send(
                ClusterScripts.sharded(script).command(keys: scriptKeys.map(bytes), arguments: arguments.map(bytes))
            )
            if case .error(let text) = reply { Issue.record("\(scriptKeys): \(text)") }
            return reply
        }
        let nick = Nick(trustedCanonical: "Åsa").key
        let record = String(decoding: PresenceRecord(nick: "Åsa", instance: "i1", node: "n1", connection: 7).encoded(), as: UTF8.self)
        let envelope = #"{"v":1,"origin":"i1","kind":"joined","nick":"Åsa","owner":"i1/7","ts":1,"room":"rust"}"#
        let room = RoomName(trusted: "rust")
        let roomKeys = keys.roomScriptKeys(room)

        #expect(try await run(ClusterScripts.claim, [keys.nick(nick)], [record]).integer == 1)
        #expect(RoomChange(reply: try await run(ClusterScripts.joinRoom, roomKeys, [nick.value, record, envelope, "rust"]))?.changed == 1)
        let history = [keys.history(room), keys.channel(room), keys.sequence(room)]
        #expect(try await run(ClusterScripts.appendMessage, history, [#"{"v":1,"kind":"message"}"#, "1000"]).integer == 0)
        #expect(try await run(ClusterScripts.roomSnapshot, [keys.members(room), keys.history(room), keys.sequence(room)], ["50"]).array?.count == 3)
        #expect(try await run(ClusterScripts.roomCatchUp, [keys.members(room), keys.history(room), keys.sequence(room)], ["50", "m1"]).array?.count == 3)
        let left = try #require(RoomChange(reply: try await run(ClusterScripts.leaveRoom, roomKeys, [nick.value, record, envelope, "rust", "86400"])))
        #expect(left.changed == 1 && left.count == 0 && left.room == "rust")
        _ = try await run(ClusterScripts.joinRoom, roomKeys, [nick.value, record, envelope, "rust"])
        #expect(RoomChange(reply: try await run(ClusterScripts.reapRoom, roomKeys, ["i1", "2", "rust", "86400"]))?.changed == 1)
        _ = try await run(ClusterScripts.joinRoom, roomKeys, [nick.value, record, envelope, "rust"])
        #expect(RoomChange(reply: try await run(ClusterScripts.leaveRoomMany, roomKeys, ["i1", "rust", "86400", "2", "quit", nick.value, record]))?.changed == 1)
        let directory = [keys.rooms, keys.directorySequence(room)]
        #expect(try await run(ClusterScripts.roomCount, directory, ["rust", "1", String(left.sequence + 9), "86400"]).integer == 1)
        #expect(try await run(ClusterScripts.release, [keys.nick(nick)], [record]).integer == 1)
        _ = try await run(ClusterScripts.claim, [keys.nick(nick)], [record])
        #expect(try await run(ClusterScripts.releaseOfInstance, [keys.nick(nick)], ["i1"]).integer == 1)

        // The harness would notice: the one script meant for a single Redis is refused here.
        let lobbyKeys = [keys.nick(nick)] + keys.roomScriptKeys(.lobby)
        let crossSlot = try await client.send(
            ClusterScripts.claimIntoLobby.command(keys: lobbyKeys.map(bytes), arguments: [nick.value, record, envelope, "lobby"].map(bytes))
        )
        guard case .error(let text) = crossSlot else {
            Issue.record("claimIntoLobby ran across slots: \(crossSlot)")
            return
        }
        #expect(text.hasPrefix("CROSSSLOT"), "\(text)")
    }

    @Test("the room directory keeps the count of a room's latest event, whatever order the writes arrive in")
    func directoryKeepsTheLatestCount() async throws {
        let redis = try await RedisServerProcess()
        let connection = RedisConnection(url: try RedisURL(parsing: redis.url), scripts: ClusterScripts.all, logger: Logger(label: "test"))
        try await connection.connect()
        let number = keys.directorySequence(RoomName(trusted: "rust"))
        func write(_ room: String, count: Int, sequence: Int) async throws -> Int64? {
            let command = ClusterScripts.roomCount.command(
                keys: [keys.rooms, keys.directorySequence(RoomName(trusted: room))].map(bytes),
                arguments: [room, String(count), String(sequence), "60"].map(bytes)
            )
            return try await connection.send(command).integer
        }
        #expect(try await write("rust", count: 3, sequence: 5) == 1)
        #expect(try await write("rust", count: 1, sequence: 4) == 0, "an older event's count arrives late")
        #expect(try await connection.send("ZSCORE", keys.rooms, "rust").string == "3")
        #expect(try await connection.send("TTL", number).integer == -1, "a room with members keeps its number")
        #expect(try await write("rust", count: 0, sequence: 6) == 1)
        #expect(try await connection.send("ZSCORE", keys.rooms, "rust") == .null, "an empty room leaves the directory")
        #expect(try await write("rust", count: 2, sequence: 5) == 0, "a late write still finds the empty room's number")
        let ttl = try #require(try await connection.send("TTL", number).integer)
        #expect(ttl > 0 && ttl <= 60, "the empty room's number goes with the room")
        #expect(try await write("rust", count: 1, sequence: 7) == 1)
        #expect(try await connection.send("TTL", number).integer == -1, "members again: the number is kept")
        await connection.shutdown()
    }
}
