import ChatNode
import ChatProtocol
import Foundation
import TestSupport
import Testing

/// `redis-sentinel://` (PROTOCOL.md §4): nodes find the master through
/// Sentinel and follow it when Sentinel fails over to the replica.
@Suite("Redis behind Sentinel", .serialized)
struct SentinelFailoverTests {
    @Test("kill -9 of the master while clients chat: chat works again within 10 s of the Sentinels naming the new master, lists equal who")
    func masterKilled() async throws {
        let deployment = try await RedisSentinelDeployment()
        try await deployment.waitUntilReady()
        try await withSentinelCluster(deployment) { nodes in
            var clients: [(nick: String, client: WebSocketTestClient, list: UserList)] = []
            for (index, nick) in ["alice", "bob", "carol"].enumerated() {
                let (client, welcome) = try await nodes[index].join(nick)
                clients.append((nick, client, UserList(welcome.strings("users") ?? [])))
            }
            try await settleLists(&clients, expecting: ["alice", "bob", "carol"])
            try await clients[0].client.send(#"{"type":"say","text":"before"}"#)
            for index in 1...2 { #expect(await clients[index].client.next(ofType: "message")?.string("text") == "before") }

            let killedAt = ContinuousClock.now
            deployment.master.stop()
            let announced = await waitUntil(timeout: .seconds(20)) { await deployment.masterPort() == deployment.replica.port }
            try #require(announced, "the Sentinels never named the replica as master")
            let announcedAt = ContinuousClock.now

            // alice keeps talking; the first line bob and carol both get marks recovery.
            var recoveredAt: ContinuousClock.Instant?
            var attempt = 0
            while recoveredAt == nil, ContinuousClock.now < announcedAt + .seconds(15) {
                attempt += 1
                try await clients[0].client.send(#"{"type":"say","text":"after-\#(attempt)"}"#)
                if let line = await clients[1].client.next(ofType: "message", timeout: .milliseconds(300)),
                    line.string("text")?.hasPrefix("after-") == true
                {
                    recoveredAt = .now
                }
            }
            let recovered = try #require(recoveredAt, "no line went through after the failover")
            print("Sentinel failover: master killed → new master named \(announcedAt - killedAt); named → first line delivered \(recovered - announcedAt); killed → delivered \(recovered - killedAt)")
            #expect(recovered - announcedAt <= .seconds(10))

            try await settleLists(&clients, expecting: ["alice", "bob", "carol"])
            try await clients[2].client.send(#"{"type":"say","text":"final"}"#)
            for index in 0...1 {
                var texts: [String] = []
                while let line = await clients[index].client.next(ofType: "message", timeout: .seconds(5)), let text = line.string("text") {
                    texts.append(text)
                    if text == "final" { break }
                }
                #expect(texts.last == "final", "\(clients[index].nick) got \(texts)")
            }
            for node in nodes {
                #expect(node.server.node.metrics.render().contains("chat_redis_failovers_total 1"))
            }
        }
    }

    @Test("a failover ordered while the old master stays up (it becomes a replica): nodes move to the new master")
    func masterDemoted() async throws {
        let deployment = try await RedisSentinelDeployment()
        try await deployment.waitUntilReady()
        try await withSentinelCluster(deployment, nodes: 2) { nodes in
            var clients: [(nick: String, client: WebSocketTestClient, list: UserList)] = []
            for (index, nick) in ["dora", "ed"].enumerated() {
                let (client, welcome) = try await nodes[index].join(nick)
                clients.append((nick, client, UserList(welcome.strings("users") ?? [])))
            }
            try await settleLists(&clients, expecting: ["dora", "ed"])
            try await deployment.failOver()
            #expect(await waitUntil(timeout: .seconds(20)) { await deployment.masterPort() == deployment.replica.port })
            var delivered = false
            for attempt in 1...40 where !delivered {
                try await clients[0].client.send(#"{"type":"say","text":"moved-\#(attempt)"}"#)
                delivered = await clients[1].client.next(ofType: "message", timeout: .milliseconds(300)) != nil
            }
            #expect(delivered)
            try await settleLists(&clients, expecting: ["dora", "ed"])
            // A newcomer's nick claim is written to the new master, which every node reads.
            let (newcomer, welcome) = try await nodes[1].join("fay")
            #expect(welcome.strings("users")?.contains("dora") == true)
            try await newcomer.send(#"{"type":"say","text":"hi from fay"}"#)
            #expect(await clients[0].client.next(ofType: "message")?.string("text") == "hi from fay")
        }
    }

    @Test("an unknown master name or no reachable Sentinel at start-up is one line on standard error and a non-zero exit")
    func unusableAtStartup() async throws {
        let deployment = try await RedisSentinelDeployment()
        try await deployment.waitUntilReady()
        let unknown = "redis-sentinel://127.0.0.1:\(deployment.sentinelPorts[0])#nosuchmaster"
        let nobody = "redis-sentinel://127.0.0.1:\(try FreePort.find()),127.0.0.1:\(try FreePort.find())#chat"
        for (url, expected) in [(unknown, "knows no master named \"nosuchmaster\""), (nobody, "no Sentinel named the master")] {
            let outcome = try await NodeProcess(arguments: ["--port", "0", "--redis", url]).waitForExit()
            #expect(outcome.status != 0)
            #expect(outcome.stderr.split(separator: "\n").count == 1, "stderr: \(outcome.stderr)")
            #expect(outcome.stderr.contains(expected), "stderr: \(outcome.stderr)")
        }
    }
}

/// Runs `body` against `count` nodes that reach Redis through `deployment`'s Sentinels.
private func withSentinelCluster(
    _ deployment: RedisSentinelDeployment, nodes count: Int = 3, _ body: ([TestNode]) async throws -> Void
) async throws {
    let configurations = (0..<count).map { index in
        var configuration = NodeConfiguration(nodeID: "sentinel-node-\(index)")
        configuration.port = 0
        configuration.redisURL = deployment.url()
        configuration.nodeTTL = .seconds(5)
        return configuration
    }
    try await withRunningNodes(configurations, body)
}

/// Asks every client for `who` until all answer `expected`, then checks the
/// list each built from `welcome`, `joined` and `left` is the same.
private func settleLists(
    _ clients: inout [(nick: String, client: WebSocketTestClient, list: UserList)], expecting expected: [String]
) async throws {
    for index in clients.indices {
        var answer: [String]?
        let settled = await waitUntil(timeout: .seconds(15)) {
            try? await clients[index].client.send(#"{"type":"who"}"#)
            while let event = await clients[index].client.nextMessage(timeout: .milliseconds(500)) {
                clients[index].list.apply(event)
                if event.string("type") == "users" {
                    answer = event.strings("users")
                    return answer == expected
                }
            }
            return false
        }
        #expect(settled, "\(clients[index].nick): who answered \(answer ?? [])")
    }
    for index in clients.indices {
        while let event = await clients[index].client.nextMessage(timeout: .milliseconds(700)) { clients[index].list.apply(event) }
        #expect(clients[index].list.sorted == expected, "\(clients[index].nick)'s list")
    }
}
