import ChatProtocol
import NIOCore
import TestSupport
import Testing

@testable import ChatNode

@Suite("--event-loops: the threads a node runs on")
struct NodeEventLoopsTests {
    @Test("by default a node uses the process-wide loops and its bus gets a thread of its own")
    func defaultLoops() {
        let loops = NodeEventLoops(count: nil)
        #expect(!loops.isOwned)
        #expect(loops.service == nil)
        #expect((loops.sharedBusLoop == nil) == (loops.count > 1))
    }

    @Test("with one loop the bus shares it; with more, the bus has its own")
    func sharedOnlyWithOneLoop() async throws {
        let one = NodeEventLoops(count: 1)
        let shared = try #require(one.sharedBusLoop)
        #expect(shared === one.group.next())
        #expect(one.isOwned && one.service != nil)
        let three = NodeEventLoops(count: 3)
        #expect(three.sharedBusLoop == nil)
        try await one.group.shutdownGracefully()
        try await three.group.shutdownGracefully()
    }

    @Test("single-threaded nodes chat in rooms, in the lobby and by whisper with a node of default threads, then stop")
    func singleThreadedCluster() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        var configurations = nodeConfigurations(3, redisURL: redis.url) { _ in }
        configurations[0].eventLoops = 1
        configurations[1].eventLoops = 1
        try await withRunningNodes(configurations) { nodes in
            let (ada, _) = try await nodes[0].join("ada", subprotocol: "chat.v3.json")
            let (bo, _) = try await nodes[1].join("bo", subprotocol: "chat.v3.json")
            let (cy, _) = try await nodes[2].join("cy", subprotocol: "chat.v3.json")
            _ = try await ada.enter("ops")
            _ = try await bo.enter("ops")
            let snapshot = try await cy.enter("ops")
            #expect(snapshot.strings("users") == ["ada", "bo", "cy"])
            for index in 0..<20 {
                try await [ada, bo, cy][index % 3].send(#"{"type":"say","room":"ops","text":"line \#(index)"}"#)
            }
            var orders: [[String]] = []
            for client in [ada, bo, cy] {
                var texts: [String] = []
                while texts.count < 20, let message = await client.next(ofType: "message") { texts.append(message.string("text") ?? "") }
                orders.append(texts)
            }
            #expect(orders[0].count == 20)
            #expect(orders[1] == orders[0] && orders[2] == orders[0], "every member sees the room's lines in one order")

            let (dee, welcome) = try await nodes[1].join("dee")
            #expect(welcome.strings("users") == ["dee"])
            try await dee.send(#"{"type":"whisper","to":"ada","text":"psst"}"#)
            #expect(await ada.next(ofType: "direct")?.string("text") == "psst")
        }
    }

    @Test("a standalone single-threaded node answers hello, join and say")
    func standaloneSingleThreaded() async throws {
        try await withNode({ $0.eventLoops = 1 }) { node in
            let (eve, _) = try await node.join("eve", subprotocol: "chat.v3.json")
            _ = try await eve.enter("solo")
            try await eve.send(#"{"type":"say","room":"solo","text":"alone"}"#)
            #expect(await eve.next(ofType: "message")?.string("text") == "alone")
        }
    }
}
