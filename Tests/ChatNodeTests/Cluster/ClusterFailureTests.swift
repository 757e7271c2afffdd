import ChatNode
import ChatProtocol
import Foundation
import Logging
import Redis
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("Node and Redis failures")
struct ClusterFailureTests {
    @Test("kill -9 of a node: each other client gets exactly one left/node_down per user, and the nick is free again")
    func nodeDeath() async throws {
        try await withCluster(nodes: 2) { cluster in
            let victim = try NodeProcess(arguments: [
                "--port", "0", "--redis", cluster.redis.url, "--node-ttl", "1", "--node-id", "victim",
            ])
            let victimPort = try await victim.waitUntilListening()
            let doomed = try await WebSocketTestClient.connect(port: victimPort)
            try await doomed.send(#"{"type":"hello","nick":"doomed"}"#)
            #expect(await doomed.nextMessage()?.string("type") == "welcome")
            let (watcherA, welcomeA) = try await cluster.nodes[0].join("watcherA")
            let (watcherB, _) = try await cluster.nodes[1].join("watcherB")
            #expect(welcomeA.strings("users")?.contains("doomed") == true)
            _ = await watcherA.next(ofType: "joined")

            let killedAt = ContinuousClock.now
            victim.signal(SIGKILL)
            for watcher in [watcherA, watcherB] {
                let left = await watcher.next(ofType: "left", timeout: .seconds(6))
                #expect(left?.string("nick") == "doomed")
                #expect(left?.string("reason") == "node_down")
            }
            let detection = ContinuousClock.now - killedAt
            #expect(detection < .seconds(3), "node-ttl 1 s + 2 s")
            print("node death detected after \(detection)")
            for watcher in [watcherA, watcherB] {
                #expect(await watcher.next(ofType: "left", timeout: .seconds(1)) == nil)
            }
            let (_, welcome) = try await cluster.nodes[1].join("doomed")
            #expect(welcome.string("nick") == "doomed")
        }
    }

    @Test("SIGTERM of a node: its clients get 1001, the others see each user leave with quit, the nicks are free at once, and it leaves no trace in Redis")
    func nodeShutdown() async throws {
        try await withCluster(nodes: 1) { cluster in
            let redis = RedisConnection(url: try RedisURL(parsing: cluster.redis.url), logger: Logger(label: "test"))
            try await redis.connect()
            defer { Task { await redis.shutdown() } }
            let before = try await redis.send("SMEMBERS", "chat:instances").array?.compactMap(\.string) ?? []
            let leaving = try NodeProcess(arguments: ["--port", "0", "--redis", cluster.redis.url, "--node-id", "leaving"])
            let port = try await leaving.waitUntilListening()
            var movers: [WebSocketTestClient] = []
            for index in 0..<3 {
                let client = try await WebSocketTestClient.connect(port: port)
                try await client.send(#"{"type":"hello","nick":"mover\#(index)"}"#)
                #expect(await client.next(ofType: "welcome") != nil)
                movers.append(client)
            }
            let (watcher, _) = try await cluster.nodes[0].join("watcher")

            leaving.signal(SIGTERM)
            for client in movers {
                #expect(await client.closeCode() == .some(1001))
            }
            var departed: [String] = []
            for _ in 0..<3 {
                let left = await watcher.next(ofType: "left")
                #expect(left?.string("reason") == "quit")
                departed += [left?.string("nick")].compactMap { $0 }
            }
            #expect(departed.sorted() == ["mover0", "mover1", "mover2"])
            let (_, welcome) = try await cluster.nodes[0].join("mover1")
            #expect(welcome.string("nick") == "mover1")
            #expect(await leaving.waitForExit().status == 0)
            // It withdrew: other nodes need not wait out its liveness key to forget it.
            let after = try await redis.send("SMEMBERS", "chat:instances").array?.compactMap(\.string) ?? []
            #expect(Set(after) == Set(before), "instances before it started \(before), after it stopped \(after)")
            let aliveKeys = try await redis.send("KEYS", "chat:alive:*").array?.count
            #expect(aliveKeys == before.count)
        }
    }

    @Test("Redis outage: clients stay, chat is unavailable and readyz 503; after a restart with an empty Redis presence is complete again")
    func redisOutage() async throws {
        try await withCluster(nodes: 2) { cluster in
            let (alice, _) = try await cluster.nodes[0].join("alice")
            let (bob, _) = try await cluster.nodes[1].join("bob")
            let (carol, _) = try await cluster.nodes[1].join("carol")
            var aliceList = UserList(["alice", "bob", "carol"])
            _ = await alice.next(ofType: "joined"); _ = await alice.next(ofType: "joined")

            #expect(cluster.nodes[0].server.node.metrics.render().contains(#"chat_redis_connection_up{connection="commands"} 1"#))
            cluster.redis.stop()
            #expect(await waitUntil { await readiness(cluster.nodes[0].port) == 503 })
            #expect(await waitUntil { cluster.nodes[0].server.node.metrics.render().contains(#"chat_redis_connection_up{connection="commands"} 0"#) })
            try await alice.send(#"{"type":"say","text":"anyone?","ref":"s"}"#)
            let refused = await alice.next(ofType: "error")
            #expect(refused?.string("code") == "unavailable")
            #expect(refused?.string("ref") == "s")
            try await alice.send(#"{"type":"who"}"#)
            #expect(await alice.next(ofType: "error")?.string("code") == "unavailable")
            let newcomer = try await cluster.nodes[0].connect()
            try await newcomer.send(#"{"type":"hello","nick":"newcomer"}"#)
            #expect(await newcomer.next(ofType: "error")?.string("code") == "unavailable")
            await carol.disconnect()
            // Long enough that counting the outage as a late liveness refresh would show.
            try await Task.sleep(for: .seconds(2))

            let restartedAt = ContinuousClock.now
            try await cluster.redis.start()
            var users: [String]?
            let complete = await waitUntil(timeout: .seconds(10)) {
                try? await alice.send(#"{"type":"who"}"#)
                while let event = await alice.nextMessage(timeout: .milliseconds(500)) {
                    aliceList.apply(event)
                    if event.string("type") == "users" {
                        users = event.strings("users")
                        return users == ["alice", "bob"]
                    }
                }
                return false
            }
            #expect(complete, "who after restart: \(users ?? [])")
            print("presence complete \(ContinuousClock.now - restartedAt) after the Redis restart")
            #expect(await readiness(cluster.nodes[0].port) == 200)
            // Let any late reconciliation events arrive, then compare.
            while let event = await alice.nextMessage(timeout: .seconds(2)) { aliceList.apply(event) }
            #expect(aliceList.sorted == ["alice", "bob"])

            try await bob.send(#"{"type":"say","text":"back"}"#)
            #expect(await alice.next(ofType: "message")?.string("text") == "back")
            // Refreshes run every third of the 1 s node-ttl; the outage is not one late refresh.
            let gap = livenessGap(in: cluster.nodes[0].server.node.metrics.render())
            #expect(gap.map { $0 < 1.5 } == true, "chat_liveness_refresh_gap_max_seconds \(String(describing: gap))")
        }
    }

    @Test("Redis that stops answering without closing (a partition, SIGSTOP): the node notices within 5 s, answers unavailable, recovers")
    func silentRedis() async throws {
        try await withCluster(nodes: 1) { cluster in
            let (alice, _) = try await cluster.nodes[0].join("alice")
            cluster.redis.pause()
            defer { cluster.redis.resume() }
            let pausedAt = ContinuousClock.now
            #expect(await waitUntil(timeout: .seconds(6)) { await readiness(cluster.nodes[0].port) == 503 })
            print("silent Redis noticed after \(ContinuousClock.now - pausedAt)")
            try await alice.send(#"{"type":"say","text":"hello?"}"#)
            // The bound is loose: on a loaded machine the answer itself can take a moment.
            #expect(await alice.next(ofType: "error", timeout: .seconds(5))?.string("code") == "unavailable")
            cluster.redis.resume()
            #expect(await waitUntil(timeout: .seconds(15)) { await readiness(cluster.nodes[0].port) == 200 })
            try await alice.send(#"{"type":"say","text":"back"}"#)
            #expect(await alice.next(ofType: "message")?.string("text") == "back")
        }
    }

    @Test("an unreachable --redis at start-up is one line on standard error and a non-zero exit")
    func unreachableAtStartup() async throws {
        let port = try FreePort.find()
        let outcome = try await NodeProcess(arguments: ["--port", "0", "--redis", "redis://127.0.0.1:\(port)"]).waitForExit()
        #expect(outcome.status != 0)
        #expect(outcome.stdout.isEmpty)
        #expect(outcome.stderr.split(separator: "\n").count == 1, "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.contains("Redis"))
    }
}

/// A client's user list as built from `welcome`, `joined` and `left`.
struct UserList {
    private var nicks: Set<String>

    init(_ nicks: [String]) {
        self.nicks = Set(nicks)
    }

    mutating func apply(_ event: [String: JSONValue]) {
        switch event["type"]?.stringValue {
        case "joined": if let nick = event["nick"]?.stringValue { nicks.insert(nick) }
        case "left": if let nick = event["nick"]?.stringValue { nicks.remove(nick) }
        default: break
        }
    }

    var sorted: [String] { Array(nicks).sortedAsUserList() }
}

func readiness(_ port: Int) async -> Int {
    let url = URL(string: "http://127.0.0.1:\(port)/readyz")!
    guard let (_, response) = try? await URLSession.shared.data(from: url) else { return 0 }
    return (response as? HTTPURLResponse)?.statusCode ?? 0
}

/// Polls `condition` until it holds or `timeout` passes.
/// The value of `chat_liveness_refresh_gap_max_seconds` in a metrics page.
private func livenessGap(in metrics: String) -> Double? {
    metrics.split(separator: "\n")
        .first { $0.hasPrefix("chat_liveness_refresh_gap_max_seconds ") }
        .flatMap { Double($0.split(separator: " ")[1]) }
}

func waitUntil(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return false
}

@Suite("Redis restarts with its data (compose's append-only Redis)")
struct DurableRedisTests {
    @Test("after kill -9 of a persistent Redis and a restart, every room's history is intact and resumable")
    func historySurvivesRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let redis = try await RedisServerProcess(dataDirectory: directory.path)
        defer { redis.stop() }
        var configuration = NodeConfiguration(nodeID: "durable")
        configuration.port = 0
        configuration.redisURL = redis.url
        configuration.rate = 0
        try await withRunningNodes([configuration]) { nodes in
            let (old, _) = try await nodes[0].join("old", subprotocol: "chat.v2.json")
            let (new, _) = try await nodes[0].join("new", subprotocol: "chat.v3.json")
            _ = try await new.enter("rust")
            var lobbyIDs: [String] = []
            var rustIDs: [String] = []
            for index in 0..<5 {
                try await old.send(#"{"type":"say","text":"lobby \#(index)"}"#)
                try await new.send(#"{"type":"say","room":"rust","text":"rust \#(index)"}"#)
            }
            while lobbyIDs.count < 5, let line = await old.next(ofType: "message") { lobbyIDs.append(line.string("id") ?? "") }
            while rustIDs.count < 5, let line = await new.next(ofType: "message") { rustIDs.append(line.string("id") ?? "") }
            await old.disconnect()
            await new.disconnect()

            redis.stop()
            try await redis.start()
            var ready = false
            for _ in 0..<100 where !ready {
                try await Task.sleep(for: .milliseconds(100))
                let url = try #require(URL(string: "http://127.0.0.1:\(nodes[0].port)/readyz"))
                ready = ((try? await URLSession.shared.data(from: url))?.1 as? HTTPURLResponse)?.statusCode == 200
            }
            #expect(ready)
            let (_, welcome) = try await nodes[0].join("back", subprotocol: "chat.v2.json", since: lobbyIDs[0])
            #expect(welcome["resumed"] == .bool(true))
            #expect(welcome.historyIDs == Array(lobbyIDs[1...]))
            let (v3, _) = try await nodes[0].joinV3("back3")
            let room = try await v3.enter("rust", since: rustIDs[0])
            #expect(room["resumed"] == .bool(true))
            #expect(room.historyIDs == Array(rustIDs[1...]))
        }
    }
}
