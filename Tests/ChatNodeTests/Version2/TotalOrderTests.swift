import ChatNode
import ChatProtocol
import TestSupport
import Testing

@Suite("Total order and resume across nodes")
struct TotalOrderTests {
    private static let v2 = "chat.v2.json"

    /// The ids of the next `count` message events `client` receives.
    private func messageIDs(_ client: WebSocketTestClient, count: Int) async -> [String] {
        var ids: [String] = []
        while ids.count < count, let event = await client.nextMessage(timeout: .seconds(10)) {
            if event.string("type") == "message", let id = event.string("id") { ids.append(id) }
        }
        return ids
    }


    @Test("three senders on three nodes: every client, v1 or v2, sees one order, and history lists it the same way")
    func oneOrder() async throws {
        try await withCluster({ $0.rate = 0 }) { cluster in
            var senders: [WebSocketTestClient] = []
            var listeners: [WebSocketTestClient] = []
            for (index, node) in cluster.nodes.enumerated() {
                senders.append(try await node.join("sender\(index)", subprotocol: index == 1 ? Self.v2 : "chat.v1.json").0)
                listeners.append(try await node.join("listener\(index)", subprotocol: index == 1 ? "chat.v1.json" : Self.v2).0)
            }
            let perSender = 40
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, sender) in senders.enumerated() {
                    group.addTask {
                        for line in 0..<perSender { try await sender.send(#"{"type":"say","text":"\#(index)-\#(line)","ref":"\#(line)"}"#) }
                    }
                }
                try await group.waitForAll()
            }
            var orders: [[String]] = []
            for client in senders + listeners {
                orders.append(await messageIDs(client, count: 3 * perSender))
            }
            #expect(orders[0].count == 3 * perSender)
            for order in orders.dropFirst() { #expect(order == orders[0]) }
            let (_, late) = try await cluster.nodes[2].join("late", subprotocol: Self.v2)
            #expect(late.historyIDs == Array(orders[0].suffix(50)))
        }
    }

    @Test("lines come back to their sender in order, before the replies to anything it sent after them")
    func ownLinesBeforeLaterReplies() async throws {
        try await withCluster(nodes: 2, { $0.rate = 0 }) { cluster in
            let (sender, _) = try await cluster.nodes[0].join("sender", subprotocol: Self.v2)
            let (other, _) = try await cluster.nodes[1].join("other")
            for round in 0..<5 {
                for line in 0..<20 { try await sender.send(#"{"type":"say","text":"\#(round)-\#(line)","ref":"s\#(line)"}"#) }
                try await sender.send(#"{"type":"whisper","to":"other","text":"psst","ref":"w"}"#)
                try await sender.send(#"{"type":"say","text":" "}"#)
                try await sender.send(#"{"type":"who","ref":"u"}"#)
                try await sender.send(#"{"type":"ping","ref":"p"}"#)
                var seen: [String] = []
                while seen.count < 24, let event = await sender.nextMessage(timeout: .seconds(5)) {
                    if event.string("type") == "presence" { continue }
                    seen.append(event.string("ref") ?? event.string("code") ?? "?")
                }
                #expect(seen == (0..<20).map { "s\($0)" } + ["w", "text_invalid", "u", "p"], "round \(round)")
                for line in 0..<20 { #expect(await other.next(ofType: "message")?.string("text") == "\(round)-\(line)") }
                #expect(await other.next(ofType: "direct")?.string("text") == "psst")
            }
        }
    }

    @Test("lines sent without waiting: a refused one's error comes between the lines sent before and after it")
    func refusalBetweenPipelinedLines() async throws {
        try await withCluster(nodes: 2, { $0.rate = 0 }) { cluster in
            let (sender, _) = try await cluster.nodes[0].joinV3("sender")
            let (other, _) = try await cluster.nodes[1].joinV3("other")
            _ = try await sender.enter("talk")
            _ = try await other.enter("talk")
            for round in 0..<3 {
                for line in 0..<30 {
                    try await sender.send(#"{"type":"say","room":"talk","text":"\#(round)-\#(line)","ref":"a\#(line)"}"#)
                }
                try await sender.send(#"{"type":"say","room":"elsewhere","text":"lost","ref":"refused"}"#)
                for line in 30..<60 {
                    try await sender.send(#"{"type":"say","room":"talk","text":"\#(round)-\#(line)","ref":"a\#(line)"}"#)
                }
                var seen: [String] = []
                while seen.count < 61, let event = await sender.nextMessage(timeout: .seconds(5)) {
                    if event.string("type") == "presence" { continue }
                    seen.append(event.string("code") ?? event.string("ref") ?? "?")
                }
                #expect(seen == (0..<30).map { "a\($0)" } + ["not_in_room"] + (30..<60).map { "a\($0)" }, "round \(round)")
                for line in 0..<60 { #expect(await other.next(ofType: "message")?.string("text") == "\(round)-\(line)") }
            }
        }
    }

    @Test("a client that reconnects to another node with since misses and repeats nothing")
    func resumeOnAnotherNode() async throws {
        try await withCluster(nodes: 2, { $0.rate = 0 }) { cluster in
            let (talker, _) = try await cluster.nodes[0].join("talker")
            let (reader, _) = try await cluster.nodes[0].join("reader", subprotocol: Self.v2)
            for line in 0..<10 { try await talker.send(#"{"type":"say","text":"before \#(line)"}"#) }
            let seen = await messageIDs(reader, count: 10)
            await reader.disconnect()
            for line in 0..<15 { try await talker.send(#"{"type":"say","text":"after \#(line)"}"#) }
            let all = await messageIDs(talker, count: 25)
            let (back, welcome) = try await cluster.nodes[1].join("reader", subprotocol: Self.v2, since: try #require(seen.last))
            #expect(welcome["resumed"] == .bool(true))
            #expect(seen + welcome.historyIDs == all)
            try await talker.send(#"{"type":"say","text":"live"}"#)
            #expect(await back.next(ofType: "message")?.string("text") == "live")
        }
    }

    @Test("the cluster keeps its history for resuming through node restarts")
    func historySurvivesNodes() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        func configuration(_ id: String) -> NodeConfiguration {
            var configuration = NodeConfiguration(nodeID: id)
            configuration.port = 0
            configuration.redisURL = redis.url
            configuration.rate = 0
            return configuration
        }
        let ids = try await withRunningNodes([configuration("first")]) { nodes in
            let (talker, _) = try await nodes[0].join("talker")
            for line in 0..<120 { try await talker.send(#"{"type":"say","text":"\#(line)"}"#) }
            return await messageIDs(talker, count: 120)
        }
        try await withRunningNodes([configuration("second")]) { nodes in
            let (_, welcome) = try await nodes[0].join("reader", subprotocol: Self.v2, since: ids[9])
            #expect(welcome["resumed"] == .bool(true))
            #expect(welcome.historyIDs == Array(ids[10...]))
        }
    }

    @Test("presence reaches v2 clients on every node in batches, and their lists equal who")
    func presenceAcrossNodes() async throws {
        try await withCluster({ $0.presenceInterval = .milliseconds(200) }) { cluster in
            var watchers: [(WebSocketTestClient, PresenceTracker)] = []
            for (index, node) in cluster.nodes.enumerated() {
                let (client, welcome) = try await node.join("watcher\(index)", subprotocol: Self.v2)
                watchers.append((client, PresenceTracker(welcome: welcome)))
            }
            var others: [WebSocketTestClient] = []
            for index in 0..<30 {
                others.append(try await cluster.nodes[index % 3].join("user\(index)", subprotocol: index % 2 == 0 ? Self.v2 : "chat.v1.json").0)
            }
            for client in others.prefix(10) { await client.disconnect() }
            for index in watchers.indices {
                _ = await watchers[index].1.drain(watchers[index].0, quiet: .milliseconds(1200))
                try await watchers[index].0.send(#"{"type":"who"}"#)
                let who = try #require(await watchers[index].0.next(ofType: "users"))
                #expect(watchers[index].1.violations.isEmpty, "\(watchers[index].1.violations)")
                #expect(watchers[index].1.users == Set(who.strings("users") ?? []))
                #expect(watchers[index].1.users.count == 23)
            }
        }
    }
}
