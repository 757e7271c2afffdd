import ChatProtocol
import Logging
import Redis
import TestSupport
import Testing

@testable import ChatNode

/// The scripts that keep a logged-in user's connections (§7) in one
/// record per nick and per room, run directly against a real Redis.
@Suite("Presence records with several holders")
struct HolderScriptsTests {
    let keys = ClusterKeys(prefix: "chat")
    let room = RoomName(trusted: "team")
    let nick = Nick(trustedCanonical: "ann")

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func record(_ instance: String, _ connection: UInt64, sub: String? = "ann-id") -> String {
        String(decoding: PresenceRecord(nick: "ann", instance: instance, node: instance, connection: connection, subject: sub).encoded(), as: UTF8.self)
    }

    /// Runs `body` with a connection to a fresh Redis that knows the node's scripts.
    private func withRedis(_ body: (_ run: (RedisScript, [String], [String]) async throws -> RedisReply, RedisConnection) async throws -> Void) async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        let connection = RedisConnection(url: try RedisURL(parsing: redis.url), scripts: ClusterScripts.all, logger: Logger(label: "test"))
        try await connection.connect()
        try await body({ script, scriptKeys, arguments in
            try await connection.send(script.command(keys: scriptKeys.map(bytes), arguments: arguments.map(bytes)))
        }, connection)
        await connection.shutdown()
    }

    private func envelope(_ kind: String) -> String {
        #"{"v":1,"origin":"i1","kind":"\#(kind)","nick":"ann","owner":"~ann-id","ts":1,"room":"team"}"#
    }

    @Test("a dead instance's connection leaves the user listed while another node's remains; the last one's death announces node_down")
    func reaperKeepsUsersWithOtherConnections() async throws {
        try await withRedis { run, connection in
            let roomKeys = keys.roomScriptKeys(room)
            let nickKey = [keys.nick(nick.key)]

            #expect(try await run(ClusterScripts.claim, nickKey, [record("i1", 1)]).integer == 1)
            #expect(try await run(ClusterScripts.claim, nickKey, [record("i2", 5)]).integer == 1, "the same user's second connection")
            #expect(try await run(ClusterScripts.claim, nickKey, [record("i3", 9, sub: "someone-else")]).integer == 0)
            #expect(try await run(ClusterScripts.claim, nickKey, [record("i3", 9, sub: nil)]).integer == 0)
            let joinedFirst = RoomChange(reply: try await run(ClusterScripts.joinRoom, roomKeys, [nick.key.value, record("i1", 1), envelope("joined"), "team"]))
            let joinedSecond = RoomChange(reply: try await run(ClusterScripts.joinRoom, roomKeys, [nick.key.value, record("i2", 5), envelope("joined"), "team"]))
            #expect(joinedFirst?.changed == 1 && joinedSecond?.changed == 0, "listed once")
            let stored = try #require(try await connection.send("HGET", keys.members(room), nick.key.value).string.flatMap { PresenceRecord.decode(Array($0.utf8)) })
            #expect(stored.holders.map(\.connection) == [1, 5])

            let firstReap = RoomChange(reply: try await run(ClusterScripts.reapRoom, roomKeys, ["i1", "2", "team", "86400"]))
            #expect(firstReap?.changed == 0, "i2's connection keeps the user in the room")
            #expect(try await run(ClusterScripts.releaseOfInstance, nickKey, ["i1"]).integer == 0, "and keeps the nick")
            let kept = try #require(try await connection.send("GET", keys.nick(nick.key)).string.flatMap { PresenceRecord.decode(Array($0.utf8)) })
            #expect(kept.holders.map(\.instance) == ["i2"])

            let lastReap = RoomChange(reply: try await run(ClusterScripts.reapRoom, roomKeys, ["i2", "3", "team", "86400"]))
            #expect(lastReap?.changed == 1 && lastReap?.count == 0)
            #expect(try await run(ClusterScripts.releaseOfInstance, nickKey, ["i2"]).integer == 1)
            #expect(try await connection.send("EXISTS", keys.nick(nick.key)).integer == 0)
        }
    }

    @Test("a draining node's left_many names only the users with no connection left in the room")
    func drainAnnouncesOnlyDeparted() async throws {
        try await withRedis { run, connection in
            let roomKeys = keys.roomScriptKeys(room)
            let bob = String(decoding: PresenceRecord(nick: "bob", instance: "i1", node: "i1", connection: 2).encoded(), as: UTF8.self)
            _ = try await run(ClusterScripts.joinRoom, roomKeys, [nick.key.value, record("i1", 1), envelope("joined"), "team"])
            _ = try await run(ClusterScripts.joinRoom, roomKeys, [nick.key.value, record("i2", 5), envelope("joined"), "team"])
            _ = try await run(ClusterScripts.joinRoom, roomKeys, ["bob", bob, envelope("joined"), "team"])
            let drained = RoomChange(reply: try await run(
                ClusterScripts.leaveRoomMany, roomKeys, ["i1", "team", "86400", "7", "quit", nick.key.value, record("i1", 1), "bob", bob]
            ))
            #expect(drained?.changed == 1 && drained?.count == 1, "bob left; ann stays through i2")
            let members = try await connection.send("HKEYS", keys.members(room))
            #expect(members.array?.compactMap(\.string) == ["ann"])
        }
    }
}
