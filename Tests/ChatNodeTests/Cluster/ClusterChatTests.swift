import ChatProtocol
import TestSupport
import Testing

@Suite("Chat across nodes")
struct ClusterChatTests {
    @Test("broadcast, joined, left and who work across three nodes")
    func broadcastAcrossNodes() async throws {
        try await withCluster { cluster in
            let (alice, _) = try await cluster.nodes[0].join("alice")
            let (bob, bobWelcome) = try await cluster.nodes[1].join("bob")
            let (carol, carolWelcome) = try await cluster.nodes[2].join("carol")
            #expect(bobWelcome.strings("users") == ["alice", "bob"])
            #expect(carolWelcome.strings("users") == ["alice", "bob", "carol"])
            #expect(carolWelcome.string("node") == "node-2")
            #expect(await alice.next(ofType: "joined")?.string("nick") == "bob")
            #expect(await alice.next(ofType: "joined")?.string("nick") == "carol")
            #expect(await bob.next(ofType: "joined")?.string("nick") == "carol")

            try await bob.send(#"{"type":"say","text":"hello cluster","ref":"b1"}"#)
            let own = await bob.next(ofType: "message")
            #expect(own?.string("ref") == "b1")
            for client in [alice, carol] {
                let message = await client.next(ofType: "message")
                #expect(message?.string("from") == "bob")
                #expect(message?.string("text") == "hello cluster")
                #expect(message?.string("id") == own?.string("id"))
                #expect(message?["ref"] == nil)
            }

            try await carol.send(#"{"type":"who"}"#)
            #expect(await carol.next(ofType: "users")?.strings("users") == ["alice", "bob", "carol"])

            await carol.disconnect()
            for client in [alice, bob] {
                let left = await client.next(ofType: "left")
                #expect(left?.string("nick") == "carol")
                #expect(left?.string("reason") == "quit")
            }
        }
    }

    @Test("whisper from every node to every node reaches only sender and recipient")
    func whisperEverywhere() async throws {
        try await withCluster { cluster in
            var clients: [WebSocketTestClient] = []
            for (index, node) in cluster.nodes.enumerated() {
                clients.append(try await node.join("user\(index)").0)
            }
            for (from, sender) in clients.enumerated() {
                for to in clients.indices where to != from {
                    try await sender.send(#"{"type":"whisper","to":"USER\#(to)","text":"\#(from)->\#(to)","ref":"w"}"#)
                    let own = await sender.next(ofType: "direct")
                    #expect(own?.string("to") == "user\(to)")
                    #expect(own?.string("ref") == "w")
                    let received = await clients[to].next(ofType: "direct")
                    #expect(received?.string("text") == "\(from)->\(to)")
                    #expect(received?.string("from") == "user\(from)")
                    #expect(received?["ref"] == nil)
                }
            }
            for client in clients {
                #expect(await client.next(ofType: "direct", timeout: .milliseconds(300)) == nil)
            }
        }
    }

    @Test("a nick is unique across the cluster: of many simultaneous claims exactly one wins")
    func nickRace() async throws {
        try await withCluster { cluster in
            var clients: [WebSocketTestClient] = []
            for index in 0..<12 {
                clients.append(try await cluster.nodes[index % 3].connect())
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask { try await client.send(#"{"type":"hello","nick":"\#(index % 2 == 0 ? "Racer" : "racer")"}"#) }
                }
                try await group.waitForAll()
            }
            var welcomes = 0
            var taken = 0
            for client in clients {
                let reply = await client.nextMessage()
                if reply?.string("type") == "welcome" { welcomes += 1 }
                if reply?.string("code") == "nick_taken" { taken += 1 }
            }
            #expect(welcomes == 1)
            #expect(taken == 11)
        }
    }

    @Test("history is shared: a newcomer on any node gets the cluster's last messages")
    func sharedHistory() async throws {
        try await withCluster({ $0.rate = 0 }) { cluster in
            let (alice, _) = try await cluster.nodes[0].join("alice")
            for index in 1...60 {
                try await alice.send(#"{"type":"say","text":"m\#(index)"}"#)
            }
            for _ in 1...60 { _ = await alice.next(ofType: "message") }
            try await Task.sleep(for: .milliseconds(200))
            let (_, welcome) = try await cluster.nodes[2].join("late")
            guard case .array(let history) = welcome["history"] else { Issue.record("no history"); return }
            let texts = history.compactMap { value -> String? in
                guard case .object(let line) = value else { return nil }
                return line.string("text")
            }
            #expect(texts == (11...60).map { "m\($0)" })
        }
    }

    @Test("one sender's messages and whispers arrive in order on other nodes")
    func orderingAcrossNodes() async throws {
        try await withCluster({ $0.rate = 0 }) { cluster in
            let (sender, _) = try await cluster.nodes[0].join("sender")
            let (remote, _) = try await cluster.nodes[1].join("remote")
            let (local, _) = try await cluster.nodes[0].join("local")
            _ = await sender.next(ofType: "joined")
            for index in 0..<300 {
                if index % 3 == 0 {
                    try await sender.send(#"{"type":"whisper","to":"remote","text":"\#(index)"}"#)
                } else {
                    try await sender.send(#"{"type":"say","text":"\#(index)"}"#)
                }
            }
            var remoteTexts: [String] = []
            while remoteTexts.count < 300, let event = await remote.nextMessage() {
                if let type = event.string("type"), type == "message" || type == "direct", let text = event.string("text") {
                    remoteTexts.append(text)
                }
            }
            #expect(remoteTexts == (0..<300).map(String.init))
            var localTexts: [String] = []
            while localTexts.count < 200, let event = await local.nextMessage() {
                if event.string("type") == "message", let text = event.string("text") { localTexts.append(text) }
            }
            #expect(localTexts == (0..<300).filter { $0 % 3 != 0 }.map(String.init))
        }
    }

    @Test("clusters with different --cluster prefixes share one Redis without seeing each other")
    func clusterPrefix() async throws {
        try await withCluster(nodes: 1) { cluster in
            let (alice, _) = try await cluster.nodes[0].join("alice")
            try await withNode({
                $0.redisURL = cluster.redis.url
                $0.cluster = "blue"
            }) { blue in
                let (blueAlice, welcome) = try await blue.join("alice")
                #expect(welcome.strings("users") == ["alice"])
                try await blueAlice.send(#"{"type":"say","text":"blue only"}"#)
                _ = await blueAlice.next(ofType: "message")
            }
            #expect(await alice.next(ofType: "message", timeout: .milliseconds(300)) == nil)
        }
    }
}
