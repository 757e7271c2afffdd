import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ChatProtocol
import Logging
import Redis
import TestSupport
import Testing

/// A Redis that lets the node in but refuses some of what it needs: an ACL
/// user set up too narrowly, or a Redis out of memory.
@Suite("Redis that refuses the node")
struct RedisPermissionsTests {
    /// The ACL rules docs/OPERATIONS.md documents for the node's user.
    static let documentedRules = ["~chat:*", "&chat:*", "-@all", "+@connection", "+@read", "+@write", "+@pubsub", "+@scripting"]

    @Test("an ACL user without the cluster's channels, keys or scripts: one line naming the refusal and the rules needed, exit 1, no hang", arguments: [
        ["~chat:*", "resetchannels", "+@all"],
        ["~other:*", "&chat:*", "+@all"],
        ["~chat:*", "&chat:*", "-@all", "+@connection", "+@read", "+@write", "+@pubsub"],
    ])
    func refusedAtStart(_ rules: [String]) async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        try await addUser("narrow", rules: rules, to: redis)
        let outcome = try await NodeProcess(arguments: ["--port", "0", "--redis", "redis://narrow:pw@127.0.0.1:\(redis.port)"])
            .waitForExit(timeout: .seconds(15))
        #expect(outcome.status == 1)
        #expect(outcome.stderr.split(separator: "\n").count == 1, "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.contains("NOPERM"))
        #expect(outcome.stderr.contains("an ACL user needs ~chat:* &chat:*"))
    }

    @Test("the ACL rules docs/OPERATIONS.md documents are enough: joins, lines, direct messages and who work")
    func documentedRulesSuffice() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        try await addUser("chat", rules: Self.documentedRules, to: redis)
        let node = try NodeProcess(arguments: ["--port", "0", "--redis", "redis://chat:pw@127.0.0.1:\(redis.port)"])
        let port = try await node.waitUntilListening()
        let amy = try await WebSocketTestClient.connect(port: port)
        try await amy.send(#"{"type":"hello","nick":"amy"}"#)
        #expect(await amy.next(ofType: "welcome") != nil)
        let ben = try await WebSocketTestClient.connect(port: port)
        try await ben.send(#"{"type":"hello","nick":"ben"}"#)
        #expect(await ben.next(ofType: "welcome") != nil)
        try await amy.send(#"{"type":"say","text":"hi"}"#)
        #expect(await ben.next(ofType: "message")?.string("text") == "hi")
        try await amy.send(#"{"type":"whisper","to":"ben","text":"psst"}"#)
        #expect(await ben.next(ofType: "direct")?.string("text") == "psst")
        try await ben.send(#"{"type":"who"}"#)
        #expect(await ben.next(ofType: "users")?.strings("users") == ["amy", "ben"])
        node.signal(SIGTERM)
        #expect(await node.waitForExit().status == 0)
    }

    @Test("a command Redis refuses while running (out of memory) is answered unavailable and logged for the operator")
    func refusedWhileRunning() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        let node = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url])
        let port = try await node.waitUntilListening()
        let admin = RedisConnection(url: try RedisURL(parsing: redis.url), logger: Logger(label: "test"))
        try await admin.connect()
        try await admin.send("CONFIG", "SET", "maxmemory", "1")
        let client = try await WebSocketTestClient.connect(port: port)
        try await client.send(#"{"type":"hello","nick":"amy"}"#)
        #expect(await client.next(ofType: "error")?.string("code") == "unavailable")
        let url = try #require(URL(string: "http://127.0.0.1:\(port)/metrics"))
        let metrics = String(decoding: try await URLSession.shared.data(from: url).0, as: UTF8.self)
        let refused = metrics.split(separator: "\n").first { $0.hasPrefix("chat_redis_refused_commands_total ") }
        #expect(refused.flatMap { Double($0.split(separator: " ")[1]) }.map { $0 >= 1 } == true, "\(String(describing: refused))")
        try await admin.send("CONFIG", "SET", "maxmemory", "0")
        await admin.shutdown()
        node.signal(SIGTERM)
        let outcome = await node.waitForExit()
        #expect(outcome.status == 0)
        #expect(outcome.stderr.contains("Redis refused a command"), "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.contains("OOM"))
    }

    @Test("after SCRIPT FLUSH the node loads its scripts again: a refused line is answered unavailable, the next ones get through")
    func flushedScriptsAreLoadedAgain() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        let node = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url])
        let port = try await node.waitUntilListening()
        let client = try await WebSocketTestClient.connect(port: port)
        try await client.send(#"{"type":"hello","nick":"amy"}"#)
        #expect(await client.next(ofType: "welcome") != nil)
        let admin = RedisConnection(url: try RedisURL(parsing: redis.url), logger: Logger(label: "test"))
        try await admin.connect()
        try await admin.send("SCRIPT", "FLUSH")
        var outcomes: [String] = []
        for index in 0..<20 where outcomes.last != "message" {
            try await client.send(#"{"type":"say","text":"line \#(index)","ref":"s\#(index)"}"#)
            var reply: [String: ChatProtocol.JSONValue]?
            while reply == nil, let event = await client.nextMessage() {
                if event.string("ref") == "s\(index)" { reply = event }
            }
            outcomes.append(reply?.string("type") == "error" ? reply?.string("code") ?? "?" : reply?.string("type") ?? "none")
            if outcomes.last != "message" { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(outcomes.last == "message", "\(outcomes)")
        #expect(outcomes.dropLast().allSatisfy { $0 == "unavailable" }, "\(outcomes)")
        await admin.shutdown()
        node.signal(SIGTERM)
        _ = await node.waitForExit()
    }

    private func addUser(_ name: String, rules: [String], to redis: RedisServerProcess) async throws {
        let admin = RedisConnection(url: try RedisURL(parsing: redis.url), logger: Logger(label: "test"))
        try await admin.connect()
        _ = try await admin.send(RedisCommand(["ACL", "SETUSER", name, "on", ">pw", "resetkeys", "resetchannels"] + rules))
        await admin.shutdown()
    }
}
