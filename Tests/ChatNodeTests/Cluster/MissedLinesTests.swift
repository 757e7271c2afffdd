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
        try await withTwoNodes { redis, stalled, talker in
            let reader = try await join("reader", port: stalled.port)
            let writer = try await join("writer", port: talker.port)
            let lineCount = 20
            try await writer.send(#"{"type":"say","text":"line 0"}"#)
            #expect(await reader.next(ofType: "message")?.string("text") == "line 0")
            #expect(await writer.next(ofType: "message")?.string("text") == "line 0")

            stalled.process.signal(SIGSTOP)
            try await redis.send("CLIENT", "KILL", "ID", String(stalled.subscriberID))
            for index in 1..<lineCount {
                try await writer.send(#"{"type":"say","text":"line \#(index)"}"#)
                #expect(await writer.next(ofType: "message")?.string("text") == "line \(index)")
            }
            stalled.process.signal(SIGCONT)

            var texts: [String] = []
            while texts.count < lineCount - 1, let event = await reader.next(ofType: "message", timeout: .seconds(10)) {
                texts.append(event.string("text") ?? "")
            }
            #expect(texts == (1..<lineCount).map { "line \($0)" })
            #expect(await reader.next(ofType: "message", timeout: .seconds(1)) == nil, "a line twice")
        }
    }

    @Test("a line whose sender's node lost its subscription before the line came back reaches the sender once and everyone else once")
    func ownLineAcrossTheCut() async throws {
        try await withTwoNodes { redis, cut, other in
            let sender = try await join("sender", port: cut.port)
            let neighbour = try await join("neighbour", port: cut.port)
            let remote = try await join("remote", port: other.port)

            // Redis holds the line's script; meanwhile the sender's node loses its subscription.
            try await redis.send("CLIENT", "PAUSE", "2000", "WRITE")
            try await sender.send(#"{"type":"say","text":"across the cut","ref":"r1"}"#)
            try await Task.sleep(for: .milliseconds(200))
            try await redis.send("CLIENT", "KILL", "ID", String(cut.subscriberID))

            for (client, name) in [(sender, "sender"), (neighbour, "neighbour"), (remote, "remote")] {
                var copies = 0
                while let event = await client.next(ofType: "message", timeout: .seconds(3)) {
                    if event.string("text") == "across the cut" { copies += 1 }
                }
                #expect(copies == 1, "\(name) got \(copies) copies")
            }
        }
    }

    /// A node process, its port, and the id Redis gives its subscriber connection.
    struct RunningNode {
        let process: NodeProcess
        let port: Int
        let subscriberID: Int
    }

    /// Runs `body` with a Redis (an admin connection to it) and two nodes
    /// started one after the other, then stops them.
    private func withTwoNodes(_ body: (RedisConnection, RunningNode, RunningNode) async throws -> Void) async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        let admin = RedisConnection(url: try RedisURL(parsing: redis.url), logger: Logger(label: "test"))
        try await admin.connect()
        var nodes: [RunningNode] = []
        for name in ["first", "second"] {
            let process = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url, "--node-id", name])
            let port = try await process.waitUntilListening()
            // Client ids grow: the newest subscriber is this node's.
            let subscribers = try await admin.send("CLIENT", "LIST", "TYPE", "pubsub").string ?? ""
            let ids = subscribers.split(separator: "\n").compactMap { line in
                line.split(separator: " ").first { $0.hasPrefix("id=") }.flatMap { Int($0.dropFirst(3)) }
            }
            nodes.append(RunningNode(process: process, port: port, subscriberID: try #require(ids.max())))
        }
        try await body(admin, nodes[0], nodes[1])
        await admin.shutdown()
        for node in nodes {
            node.process.signal(SIGCONT)
            node.process.signal(SIGTERM)
            _ = await node.process.waitForExit()
        }
    }

    private func join(_ nick: String, port: Int) async throws -> WebSocketTestClient {
        let client = try await WebSocketTestClient.connect(port: port)
        try await client.send(#"{"type":"hello","nick":"\#(nick)"}"#)
        #expect(await client.next(ofType: "welcome") != nil)
        return client
    }
}
