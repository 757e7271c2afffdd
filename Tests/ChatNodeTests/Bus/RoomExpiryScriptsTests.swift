import ChatProtocol
import Foundation
import Logging
import Redis
import TestSupport
import Testing

@testable import ChatNode

/// PROTOCOL.md §6: a room whose last member left and that got no message
/// for a day may be forgotten. In Redis, the room scripts make every key
/// of an empty room expire, so a forgotten room leaves nothing behind.
@Suite("Room scripts: a forgotten room leaves no key behind")
struct RoomExpiryScriptsTests {
    let keys = ClusterKeys(prefix: "chat")
    let room = RoomName(trusted: "tea")

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("an empty room's members, history and numbers expire; a member joining in time keeps them; used again, its numbers start above the old ones")
    func emptyRoomExpires() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        let connection = RedisConnection(url: try RedisURL(parsing: redis.url), scripts: ClusterScripts.all, logger: Logger(label: "test"))
        try await connection.connect()
        func run(_ script: RedisScript, _ scriptKeys: [String], _ arguments: [String]) async throws -> RedisReply {
            try await connection.send(script.command(keys: scriptKeys.map(bytes), arguments: arguments.map(bytes)))
        }
        let record = String(decoding: PresenceRecord(nick: "ann", instance: "i1", node: "n1", connection: 1).encoded(), as: UTF8.self)
        func joined(at ts: Int64) -> String { #"{"v":1,"origin":"i1","kind":"joined","nick":"ann","owner":"i1/1","ts":\#(ts),"room":"tea"}"# }
        let left = #"{"v":1,"origin":"i1","kind":"left","nick":"ann","owner":"i1/1","ts":2,"room":"tea","reason":"part"}"#
        let roomKeys = keys.roomScriptKeys(room)
        let historyKeys = [keys.history(room), keys.channel(room), keys.sequence(room)]
        func join() async throws -> RoomChange? {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            return RoomChange(reply: try await run(ClusterScripts.joinRoom, roomKeys, ["ann", record, joined(at: now), "tea"]))
        }
        func leave(forgetAfter: String) async throws -> RoomChange? {
            RoomChange(reply: try await run(ClusterScripts.leaveRoom, roomKeys, ["ann", record, left, "tea", forgetAfter]))
        }
        func ttl(_ key: String) async throws -> Int64? { try await connection.send("TTL", key).integer }

        let startedAt = Int64(Date().timeIntervalSince1970 * 1000)
        let first = try #require(try await join())
        #expect(first.sequence >= startedAt * 1000, "a room's first number is its first event's time × 1000")
        _ = try await run(ClusterScripts.appendMessage, historyKeys, [#"{"v":1,"kind":"message","id":"m1"}"#, "1000"])
        let emptied = try #require(try await leave(forgetAfter: "60"))
        #expect(emptied.count == 0 && emptied.sequence == first.sequence + 2)
        for key in [keys.history(room), keys.sequence(room)] {
            let left = try #require(try await ttl(key))
            #expect(left > 0 && left <= 60, "\(key) expires")
        }
        // Someone joins before the room is forgotten: it keeps its history and numbers.
        #expect(try await join()?.changed == 1)
        #expect(try await ttl(keys.history(room)) == -1)
        #expect(try await ttl(keys.sequence(room)) == -1)
        let last = try #require(try await leave(forgetAfter: "1"))

        try await Task.sleep(for: .milliseconds(2100))
        for key in [keys.members(room), keys.history(room), keys.sequence(room)] {
            #expect(try await connection.send("EXISTS", key).integer == 0, "\(key) is gone")
        }
        let again = try #require(try await join())
        #expect(again.sequence > last.sequence, "the room used again numbers its events above the old ones, which the directory may remember")
        await connection.shutdown()
    }
}
