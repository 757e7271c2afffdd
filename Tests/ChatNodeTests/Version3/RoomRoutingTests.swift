import ChatNode
import ChatProtocol
import Foundation
import TestSupport
import Testing

@Suite("chat.v3.json on a cluster: a node receives only its rooms' traffic; a dead node's users leave every room")
struct RoomRoutingTests {
    /// `chat_bus_events_received_total` of a node in this process.
    private func eventsReceived(_ node: TestNode) -> Double {
        let line = node.server.node.metrics.render().split(separator: "\n").first { $0.hasPrefix("chat_bus_events_received_total ") }
        return line.flatMap { Double($0.split(separator: " ")[1]) } ?? -1
    }

    @Test("a node none of whose clients is in a room receives none of its events; it does while one is, and stops after the part")
    func interestRouting() async throws {
        try await withCluster(nodes: 2) { cluster in
            let (here, other) = (cluster.nodes[0], cluster.nodes[1])
            let (amy, _) = try await here.joinV3("amy")
            let (bea, _) = try await other.joinV3("bea")
            _ = try await amy.enter("busy")
            _ = try await bea.enter("quiet")
            // Bea's own `joined` comes back after her `room` reply.
            try await Task.sleep(for: .milliseconds(300))
            let before = eventsReceived(other)
            for index in 0..<20 {
                try await amy.send(#"{"type":"say","room":"busy","text":"\#(index)"}"#)
            }
            var seen = 0
            while seen < 20, await amy.next(ofType: "message") != nil { seen += 1 }
            #expect(seen == 20)
            #expect(eventsReceived(other) == before, "the other node got events of a room none of its clients is in")

            _ = try await bea.enter("busy")
            try await amy.send(#"{"type":"say","room":"busy","text":"now you"}"#)
            #expect(await bea.next(ofType: "message")?.string("text") == "now you")
            #expect(eventsReceived(other) > before)

            try await bea.send(#"{"type":"part","room":"busy"}"#)
            _ = await bea.next(ofType: "parted")
            // The part's own `left` may still come back; after it, nothing more.
            try await Task.sleep(for: .milliseconds(300))
            let afterPart = eventsReceived(other)
            for index in 0..<10 {
                try await amy.send(#"{"type":"say","room":"busy","text":"again \#(index)"}"#)
            }
            seen = 0
            while seen < 10, await amy.next(ofType: "message") != nil { seen += 1 }
            #expect(eventsReceived(other) == afterPart)
        }
    }

    @Test("kill -9 of a node: its users leave each of their rooms with node_down, once, and their nicks are free")
    func nodeDeathAcrossRooms() async throws {
        try await withCluster(nodes: 1, { $0.presenceInterval = .milliseconds(50) }) { cluster in
            let victim = try NodeProcess(arguments: [
                "--port", "0", "--redis", cluster.redis.url, "--node-ttl", "1", "--node-id", "victim",
            ])
            let victimPort = try await victim.waitUntilListening()
            let (watcher, _) = try await cluster.nodes[0].joinV3("watcher")
            for room in ["r1", "r2"] { _ = try await watcher.enter(room) }
            var doomed: [WebSocketTestClient] = []
            for nick in ["d1", "d2"] {
                let client = try await WebSocketTestClient.connect(port: victimPort, subprotocols: ["chat.v3.json"])
                try await client.send(#"{"type":"hello","nick":"\#(nick)"}"#)
                _ = await client.next(ofType: "welcome")
                for room in ["r1", "r2"] { _ = try await client.enter(room) }
                doomed.append(client)
            }
            var joined: [String: Set<String>] = [:]
            while joined.values.reduce(0, { $0 + $1.count }) < 4, let presence = await watcher.next(ofType: "presence") {
                for nick in presence.strings("joined") ?? [] { joined[presence.string("room") ?? "", default: []].insert(nick) }
            }
            #expect(joined == ["r1": ["d1", "d2"], "r2": ["d1", "d2"]])

            victim.signal(SIGKILL)
            var left: [String: [String]] = [:]
            while left.values.reduce(0, { $0 + $1.count }) < 4, let presence = await watcher.next(ofType: "presence", timeout: .seconds(6)) {
                guard case .array(let departures) = presence["left"] else { continue }
                for case .object(let departure) in departures {
                    #expect(departure.string("reason") == "node_down")
                    left[presence.string("room") ?? "", default: []].append(departure.string("nick") ?? "")
                }
                #expect(presence.integer("count") == 1)
            }
            #expect(left.mapValues { $0.sorted() } == ["r1": ["d1", "d2"], "r2": ["d1", "d2"]])
            #expect(await watcher.next(ofType: "presence", timeout: .seconds(1)) == nil)
            let (back, _) = try await cluster.nodes[0].joinV3("d1")
            #expect(try await back.enter("r1").integer("count") == 2)
        }
    }
}

@Suite("chat.v3.json on a cluster: total order per room")
struct RoomOrderTests {
    @Test("three senders on three nodes: every member sees the room's lines in one order, the order its history lists them")
    func totalOrderPerRoom() async throws {
        try await withCluster(nodes: 3, { $0.rate = 0 }) { cluster in
            var senders: [WebSocketTestClient] = []
            var members: [WebSocketTestClient] = []
            for index in 0..<3 {
                let (sender, _) = try await cluster.nodes[index].joinV3("s\(index)")
                let (member, _) = try await cluster.nodes[(index + 1) % 3].joinV3("m\(index)")
                _ = try await sender.enter("ord")
                _ = try await member.enter("ord")
                // A second room on the same connections: its lines interleave but are not ordered with these.
                _ = try await sender.enter("other")
                senders.append(sender)
                members.append(member)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, sender) in senders.enumerated() {
                    group.addTask {
                        for line in 0..<30 {
                            try await sender.send(#"{"type":"say","room":"ord","text":"\#(index)-\#(line)"}"#)
                            try await sender.send(#"{"type":"say","room":"other","text":"x"}"#)
                        }
                    }
                }
                try await group.waitForAll()
            }
            var orders: [[String]] = []
            for member in members + senders {
                var ids: [String] = []
                while ids.count < 90, let line = await member.next(ofType: "message") {
                    if line.string("room") == "ord", let id = line.string("id") { ids.append(id) }
                }
                orders.append(ids)
            }
            #expect(orders[0].count == 90)
            for order in orders.dropFirst() { #expect(order == orders[0]) }
            let (late, _) = try await cluster.nodes[0].joinV3("late")
            let room = try await late.enter("ord", since: orders[0][39])
            #expect(room.historyIDs == Array(orders[0][40...]))
        }
    }
}
