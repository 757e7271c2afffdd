import ChatProtocol
import Foundation
import Logging
import Redis
import TestSupport
import Testing

/// What a node keeps in Redis for a user, key by key: each nick a key of its
/// own, and the instance's own sets of its nicks and rooms, so a Redis
/// Cluster spreads them and clean-ups read only one instance's share.
@Suite("Redis layout of users and instances")
struct RedisLayoutTests {
    @Test("a nick is a key of its own, listed in its instance's set of nicks; quitting removes both, and no all-users hash exists")
    func nickKeys() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        let node = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url])
        let port = try await node.waitUntilListening()
        let admin = RedisConnection(url: try RedisURL(parsing: redis.url), logger: Logger(label: "test"))
        try await admin.connect()

        let client = try await WebSocketTestClient.connect(port: port)
        try await client.send(#"{"type":"hello","nick":"Åsa"}"#)
        #expect(await client.next(ofType: "welcome") != nil)
        let stored = try await admin.send("GET", "chat:nick:{åsa}").string
        #expect(stored?.contains(#""nick":"Åsa""#) == true, "\(String(describing: stored))")
        let sets = try #require(try await admin.send("KEYS", "chat:inst:*:nicks").array?.compactMap(\.string))
        #expect(sets.count == 1)
        #expect(try await admin.send("SMEMBERS", sets[0]).array?.compactMap(\.string) == ["åsa"])
        #expect(try await admin.send("EXISTS", "chat:users").integer == 0)

        await client.disconnect()
        var released = false
        for _ in 0..<100 where !released {
            released = try await admin.send("EXISTS", "chat:nick:{åsa}").integer == 0
            if !released { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(released)
        #expect(try await admin.send("SCARD", sets[0]).integer == 0)
        await admin.shutdown()
        node.signal(SIGTERM)
        _ = await node.waitForExit()
    }

    @Test("a dead instance's nicks, memberships and sets are removed by another node's reaper")
    func reaperReadsTheDeadInstancesSets() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        let doomed = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url, "--node-ttl", "1"])
        let survivor = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url, "--node-ttl", "1"])
        let doomedPort = try await doomed.waitUntilListening()
        let survivorPort = try await survivor.waitUntilListening()
        let admin = RedisConnection(url: try RedisURL(parsing: redis.url), logger: Logger(label: "test"))
        try await admin.connect()

        let victim = try await WebSocketTestClient.connect(port: doomedPort, subprotocols: ["chat.v3.json"])
        try await victim.send(#"{"type":"hello","nick":"victim"}"#)
        #expect(await victim.next(ofType: "welcome") != nil)
        try await victim.send(#"{"type":"join","room":"rust"}"#)
        #expect(await victim.next(ofType: "room") != nil)
        let watcher = try await WebSocketTestClient.connect(port: survivorPort, subprotocols: ["chat.v3.json"])
        try await watcher.send(#"{"type":"hello","nick":"watcher"}"#)
        #expect(await watcher.next(ofType: "welcome") != nil)
        try await watcher.send(#"{"type":"join","room":"rust"}"#)
        #expect(await watcher.next(ofType: "room") != nil)
        #expect(try await admin.send("KEYS", "chat:inst:*").array?.count == 4, "each instance's nicks and rooms")

        doomed.signal(SIGKILL)
        var departure: [String: JSONValue]?
        while departure == nil, let presence = await watcher.next(ofType: "presence", timeout: .seconds(10)) {
            if presence.strings("joined") == [], presence["left"] != .array([]) { departure = presence }
        }
        guard case .array(let lefts) = departure?["left"], case .object(let left) = lefts.first else {
            Issue.record("no departure of victim: \(String(describing: departure))")
            return
        }
        #expect(left.string("nick") == "victim" && left.string("reason") == "node_down")
        #expect(try await admin.send("EXISTS", "chat:nick:{victim}").integer == 0)
        #expect(try await admin.send("HEXISTS", "chat:room:{rust}:members", "victim").integer == 0)
        #expect(try await admin.send("KEYS", "chat:inst:*").array?.count == 2, "only the survivor's sets are left")
        await admin.shutdown()
        survivor.signal(SIGTERM)
        _ = await survivor.waitForExit()
    }
}
