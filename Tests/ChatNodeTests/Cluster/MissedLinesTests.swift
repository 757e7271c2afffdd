import Foundation
import Logging
import Redis
import TestSupport
import Testing

/// A node whose subscription to the cluster's events is cut while the
/// others chat: its clients must not silently miss those lines.
@Suite("Lines a node missed while its subscription was cut")
struct MissedLinesTests {
    @Test("when Redis drops a stalled node's subscription (as it does past the output buffer limit), its clients still get every line once, in order")
    func subscriptionCut() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let stalled = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url, "--node-id", "stalled"])
        let stalledPort = try await stalled.waitUntilListening()
        let talker = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url, "--node-id", "talker"])
        let talkerPort = try await talker.waitUntilListening()
        let reader = try await WebSocketTestClient.connect(port: stalledPort)
        try await reader.send(#"{"type":"hello","nick":"reader"}"#)
        #expect(await reader.next(ofType: "welcome") != nil)
        let writer = try await WebSocketTestClient.connect(port: talkerPort)
        try await writer.send(#"{"type":"hello","nick":"writer"}"#)
        #expect(await writer.next(ofType: "welcome") != nil)

        let lineCount = 20
        try await writer.send(#"{"type":"say","text":"line 0"}"#)
        #expect(await reader.next(ofType: "message")?.string("text") == "line 0")
        #expect(await writer.next(ofType: "message")?.string("text") == "line 0")
        // The stalled node's subscriber is the older of the two (it started first).
        let admin = RedisConnection(url: try RedisURL(parsing: redis.url), logger: Logger(label: "test"))
        try await admin.connect()
        let subscribers = try await admin.send("CLIENT", "LIST", "TYPE", "pubsub").string ?? ""
        let ids = subscribers.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("id=") }.flatMap { Int($0.dropFirst(3)) }
        }
        #expect(ids.count == 2)
        stalled.signal(SIGSTOP)
        try await admin.send("CLIENT", "KILL", "ID", String(try #require(ids.min())))
        await admin.shutdown()
        for index in 1..<lineCount {
            try await writer.send(#"{"type":"say","text":"line \#(index)"}"#)
            #expect(await writer.next(ofType: "message")?.string("text") == "line \(index)")
        }
        stalled.signal(SIGCONT)

        var texts: [String] = []
        while texts.count < lineCount - 1, let event = await reader.next(ofType: "message", timeout: .seconds(10)) {
            texts.append(event.string("text") ?? "")
        }
        #expect(texts == (1..<lineCount).map { "line \($0)" })
        #expect(await reader.next(ofType: "message", timeout: .seconds(1)) == nil, "a line twice")
        stalled.signal(SIGTERM)
        talker.signal(SIGTERM)
        _ = await stalled.waitForExit()
        _ = await talker.waitForExit()
    }

    @Test("a line whose sender's node lost its subscription before the line came back reaches the sender once and everyone else once")
    func ownLineAcrossTheCut() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let cut = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url, "--node-id", "cut"])
        let cutPort = try await cut.waitUntilListening()
        let other = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url, "--node-id", "other"])
        let otherPort = try await other.waitUntilListening()
        let sender = try await WebSocketTestClient.connect(port: cutPort)
        try await sender.send(#"{"type":"hello","nick":"sender"}"#)
        #expect(await sender.next(ofType: "welcome") != nil)
        let neighbour = try await WebSocketTestClient.connect(port: cutPort)
        try await neighbour.send(#"{"type":"hello","nick":"neighbour"}"#)
        #expect(await neighbour.next(ofType: "welcome") != nil)
        let remote = try await WebSocketTestClient.connect(port: otherPort)
        try await remote.send(#"{"type":"hello","nick":"remote"}"#)
        #expect(await remote.next(ofType: "welcome") != nil)

        let admin = RedisConnection(url: try RedisURL(parsing: redis.url), logger: Logger(label: "test"))
        try await admin.connect()
        let subscribers = try await admin.send("CLIENT", "LIST", "TYPE", "pubsub").string ?? ""
        let ids = subscribers.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("id=") }.flatMap { Int($0.dropFirst(3)) }
        }
        // Redis holds the line's script; meanwhile the sender's node loses its subscription.
        try await admin.send("CLIENT", "PAUSE", "2000", "WRITE")
        try await sender.send(#"{"type":"say","text":"across the cut","ref":"r1"}"#)
        try await Task.sleep(for: .milliseconds(200))
        try await admin.send("CLIENT", "KILL", "ID", String(try #require(ids.min())))
        await admin.shutdown()

        for (client, name) in [(sender, "sender"), (neighbour, "neighbour"), (remote, "remote")] {
            var copies = 0
            while let event = await client.next(ofType: "message", timeout: .seconds(3)) {
                if event.string("text") == "across the cut" { copies += 1 }
            }
            #expect(copies == 1, "\(name) got \(copies) copies")
        }
        cut.signal(SIGTERM)
        other.signal(SIGTERM)
        _ = await cut.waitForExit()
        _ = await other.waitForExit()
    }
}
