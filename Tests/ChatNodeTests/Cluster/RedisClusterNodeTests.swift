import ChatProtocol
import Foundation
import Logging
import Redis
import TestSupport
import Testing

@testable import ChatNode

/// Runs `body` against `count` nodes joined through a fresh Redis Cluster
/// (3 masters, 3 replicas), then shuts them down.
func withRedisCluster<T>(
    nodes count: Int = 2,
    _ configure: (inout NodeConfiguration) -> Void = { _ in },
    _ body: (RedisClusterDeployment, [TestNode]) async throws -> T
) async throws -> T {
    let cluster = try await RedisClusterDeployment()
    try await cluster.waitUntilReady()
    return try await withRunningNodes(nodeConfigurations(count, redisURL: cluster.url, configure)) { nodes in try await body(cluster, nodes) }
}

/// Nodes on a Redis Cluster (`redis-cluster://`, PROTOCOL.md §4): rooms
/// live on the shard of their hash slot, and everything of §2, §5 and §6 holds.
@Suite("Nodes on a Redis Cluster", .serialized)
struct RedisClusterNodeTests {
    /// One room name per master: rooms whose keys land on each shard.
    private func roomsOnEveryShard(of cluster: RedisClusterDeployment) async throws -> [String] {
        var byMaster: [Int: String] = [:]
        for index in 0..<200 where byMaster.count < 3 {
            let room = "room-\(index)"
            let master = try await cluster.master(of: HashSlot(key: "chat:room:{\(room)}:members")).port
            if byMaster[master] == nil { byMaster[master] = room }
        }
        try #require(byMaster.count == 3, "rooms on only \(byMaster.count) masters")
        return byMaster.values.sorted()
    }

    @Test("rooms on each of three shards: joins, presence, lines in order, room_list and resume work across two nodes")
    func roomsOnEveryShard() async throws {
        try await withRedisCluster({ $0.presenceInterval = .milliseconds(50) }) { cluster, nodes in
            let rooms = try await roomsOnEveryShard(of: cluster)
            let (ann, _) = try await nodes[0].joinV3("ann")
            let (ben, _) = try await nodes[1].joinV3("ben")
            for room in rooms {
                _ = try await ann.enter(room)
                let snapshot = try await ben.enter(room)
                #expect(snapshot.strings("users") == ["ann", "ben"], "\(room): \(snapshot)")
            }
            for room in rooms {
                // Both nodes receive the room by sharded pub/sub, from its slot's master only.
                let channel = "chat:room:{\(room)}:events"
                let master = try await cluster.master(of: HashSlot(key: channel)).port
                let counts = try await cluster.ask(master, ["PUBSUB", "SHARDNUMSUB", channel]).array
                #expect(counts?.last?.integer == 2, "\(room): \(String(describing: counts))")
            }
            for room in rooms {
                for index in 0..<3 {
                    try await ann.send(#"{"type":"say","room":"\#(room)","text":"\#(room) line \#(index)"}"#)
                }
            }
            var received: [String: [String]] = [:]
            var lastIDs: [String: String] = [:]
            while received.values.map(\.count).reduce(0, +) < 9, let line = await ben.next(ofType: "message") {
                received[line.string("room") ?? "?", default: []].append(line.string("text") ?? "")
                lastIDs[line.string("room") ?? "?"] = line.string("id")
            }
            for room in rooms {
                #expect(received[room] == (0..<3).map { "\(room) line \($0)" }, "\(room)")
            }

            #expect(try await ann.roomList() == rooms.map { "\($0):2" } + ["lobby:0"])

            // Resume in the last room: ben parts, misses two lines, and joins again with since.
            let room = rooms[2]
            let lastSeen = try #require(lastIDs[room])
            try await ben.send(#"{"type":"part","room":"\#(room)"}"#)
            _ = await ben.next(ofType: "parted")
            try await ann.send(#"{"type":"say","room":"\#(room)","text":"missed 1"}"#)
            try await ann.send(#"{"type":"say","room":"\#(room)","text":"missed 2"}"#)
            _ = await ann.next(ofType: "message")
            _ = await ann.next(ofType: "message")
            let resumed = try await ben.enter(room, since: lastSeen)
            #expect(resumed["resumed"] == .bool(true))
            guard case .array(let history) = resumed["history"] else {
                Issue.record("no history in \(resumed)")
                return
            }
            let texts = history.compactMap { line -> String? in
                guard case .object(let fields) = line else { return nil }
                return fields.string("text")
            }
            #expect(texts == ["missed 1", "missed 2"])
        }
    }

    @Test("v1 and v2 users share the lobby across nodes, nicks stay unique, whispers reach the other node")
    func lobbyAndWhispers() async throws {
        try await withRedisCluster({ $0.presenceInterval = .milliseconds(50) }) { _, nodes in
            let (cy, welcome) = try await nodes[0].join("cy", subprotocol: "chat.v1.json")
            #expect(welcome.strings("users") == ["cy"])
            let (di, diWelcome) = try await nodes[1].join("di", subprotocol: "chat.v2.json")
            #expect(diWelcome.strings("users") == ["cy", "di"])
            #expect(await cy.next(ofType: "joined")?.string("nick") == "di")

            let clash = try await nodes[1].connect()
            try await clash.send(#"{"type":"hello","nick":"CY"}"#)
            #expect(await clash.nextErrorCode() == "nick_taken")

            try await di.send(#"{"type":"whisper","to":"cy","text":"psst"}"#)
            #expect(await cy.next(ofType: "direct")?.string("text") == "psst")
            try await cy.send(#"{"type":"say","text":"hello lobby"}"#)
            #expect(await di.next(ofType: "message")?.string("text") == "hello lobby")
        }
    }

    @Test("a node that dies on a Redis Cluster: its users leave every room with node_down and their nicks are free again")
    func deadNodeIsReaped() async throws {
        let cluster = try await RedisClusterDeployment()
        try await cluster.waitUntilReady()
        let doomed = try NodeProcess(arguments: ["--port", "0", "--redis", cluster.url, "--node-ttl", "1"])
        let doomedPort = try await doomed.waitUntilListening()
        try await withRunningNodes([{
            var configuration = NodeConfiguration(nodeID: "survivor")
            configuration.port = 0
            configuration.redisURL = cluster.url
            configuration.nodeTTL = .seconds(1)
            configuration.presenceInterval = .milliseconds(50)
            return configuration
        }()]) { nodes in
            let rooms = try await roomsOnEveryShard(of: cluster)
            let victim = try await WebSocketTestClient.connect(port: doomedPort, subprotocols: ["chat.v3.json"])
            try await victim.send(#"{"type":"hello","nick":"victim"}"#)
            _ = await victim.next(ofType: "welcome")
            let (watcher, _) = try await nodes[0].joinV3("watcher")
            for room in rooms {
                _ = try await victim.enter(room)
                _ = try await watcher.enter(room)
            }
            doomed.signal(SIGKILL)
            var departedFrom: Set<String> = []
            while departedFrom.count < 3, let presence = await watcher.next(ofType: "presence", timeout: .seconds(10)) {
                guard case .array(let left) = presence["left"], !left.isEmpty, let room = presence.string("room") else { continue }
                #expect(left.contains(.object(["nick": .string("victim"), "reason": .string("node_down")])), "\(presence)")
                departedFrom.insert(room)
            }
            #expect(departedFrom == Set(rooms))
            let (again, _) = try await nodes[0].joinV3("victim")
            await again.disconnect()
        }
    }

    @Test("when the master of a busy room's shard dies, rooms of other shards go on, and the room works again within 10 s of its replica's promotion, with every list complete")
    func shardFailover() async throws {
        try await withRedisCluster({ $0.presenceInterval = .milliseconds(50) }) { cluster, nodes in
            let rooms = try await roomsOnEveryShard(of: cluster)
            let (room, elsewhere) = (rooms[0], rooms[1])
            let (ann, _) = try await nodes[0].joinV3("ann")
            let (ben, _) = try await nodes[1].joinV3("ben")
            // Carl speaks in a room of another shard, which must not notice the failover.
            let (carl, _) = try await nodes[1].joinV3("carl")
            _ = try await ann.enter(room)
            _ = try await ben.enter(room)
            _ = try await carl.enter(elsewhere)
            try await ann.send(#"{"type":"say","room":"\#(room)","text":"before"}"#)
            #expect(await ben.next(ofType: "message")?.string("text") == "before")
            try await Task.sleep(for: .milliseconds(500))  // the replica copies the room

            let slot = HashSlot(key: "chat:room:{\(room)}:events")
            let doomed = try await cluster.master(of: slot)
            doomed.stop()
            let killed = ContinuousClock.now
            var promoted: ContinuousClock.Instant?
            var recovered: ContinuousClock.Instant?
            var attempt = 0
            var log: [String] = []
            var elsewhereRefused: [String] = []
            while recovered == nil, ContinuousClock.now - killed < .seconds(40) {
                if promoted == nil, let master = try? await cluster.master(of: slot), master.port != doomed.port { promoted = .now }
                attempt += 1
                try await carl.send(#"{"type":"say","room":"\#(elsewhere)","text":"meanwhile \#(attempt)","ref":"c\#(attempt)"}"#)
                while let event = await carl.nextMessage(timeout: .seconds(2)) {
                    guard event.string("ref") == "c\(attempt)" else { continue }
                    if event.string("type") != "message" { elsewhereRefused.append("\(ContinuousClock.now - killed): \(event)") }
                    break
                }
                try await ann.send(#"{"type":"say","room":"\#(room)","text":"after \#(attempt)","ref":"a\#(attempt)"}"#)
                var answer: [String: JSONValue]?
                while answer == nil, let event = await ann.nextMessage(timeout: .seconds(2)) {
                    log.append("\(ContinuousClock.now - killed) ann: \(event)")
                    if event.string("ref") == "a\(attempt)" { answer = event }
                }
                if answer?.string("type") == "message" {
                    recovered = .now
                } else {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            let back = try #require(recovered, "the room never worked again: \(log.joined(separator: "\n"))")
            #expect(elsewhereRefused.isEmpty, "a room on another shard was refused: \(elsewhereRefused)")
            if promoted == nil, let master = try? await cluster.master(of: slot), master.port != doomed.port { promoted = back }
            let promotion = try #require(promoted, "the replica was never promoted: \(log.joined(separator: "\n"))")
            #expect(back - promotion < .seconds(10), "back \(back - promotion) after the promotion")
            var seen: String?
            while seen != "after \(attempt)", let line = await ben.nextMessage(timeout: .seconds(10)) {
                log.append("\(ContinuousClock.now - killed) ben: \(line)")
                if line.string("type") == "message" { seen = line.string("text") }
            }
            #expect(seen == "after \(attempt)", "\(log.joined(separator: "\n"))")
            // Ben's node may still be catching up: within 10 s of the promotion its list is complete.
            var members: [String]?
            var asked = 0
            while members == nil, ContinuousClock.now < promotion + .seconds(10) {
                asked += 1
                try await ben.send(#"{"type":"who","room":"\#(room)","ref":"w\#(asked)"}"#)
                while let event = await ben.nextMessage(timeout: .seconds(2)) {
                    guard event.string("ref") == "w\(asked)" else { continue }
                    members = event.strings("users")
                    break
                }
                if members == nil { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(members == ["ann", "ben"])
        }
    }

    @Test("resharding a busy room's slot to another master: every line is delivered once and in order, or refused; the room works on the new master")
    func reshardingABusyRoom() async throws {
        try await withRedisCluster({
            $0.presenceInterval = .milliseconds(50)
            $0.rate = 0
        }) { cluster, nodes in
            let room = try await roomsOnEveryShard(of: cluster)[0]
            let (ann, _) = try await nodes[0].joinV3("ann")
            let (ben, _) = try await nodes[1].joinV3("ben")
            _ = try await ann.enter(room)
            _ = try await ben.enter(room)
            let slot = HashSlot(key: "chat:room:{\(room)}:events")
            let source = try await cluster.master(of: slot).port
            let target = try #require(try await cluster.masterPorts().first { $0 != source })

            // Ann says numbered lines while the slot moves; each is echoed or refused.
            let sending = Task {
                var echoed: [String] = []
                var refused: [String] = []
                for number in 1...150 {
                    try await ann.send(#"{"type":"say","room":"\#(room)","text":"line \#(number)","ref":"s\#(number)"}"#)
                    while let event = await ann.nextMessage(timeout: .seconds(5)) {
                        guard event.string("ref") == "s\(number)" else { continue }
                        if event.string("type") == "message" { echoed.append("line \(number)") } else { refused.append(event.string("code") ?? "") }
                        break
                    }
                    try await Task.sleep(for: .milliseconds(10))
                }
                return (echoed, refused)
            }
            try await Task.sleep(for: .milliseconds(500))
            try await cluster.migrate(slot, from: source, to: target)
            let (echoed, refused) = try await sending.value
            #expect(echoed.count + refused.count == 150)
            #expect(refused.allSatisfy { $0 == "unavailable" }, "\(refused)")
            #expect(echoed.count >= 75, "most lines went through: \(refused.count) refused")
            var received: [String] = []
            while received.count < echoed.count, let event = await ben.nextMessage(timeout: .seconds(10)) {
                if event.string("type") == "message", let text = event.string("text") { received.append(text) }
            }
            #expect(received == echoed, "ben got every echoed line once and in order")

            try await ann.send(#"{"type":"say","room":"\#(room)","text":"on the new master"}"#)
            #expect(await ben.next(ofType: "message")?.string("text") == "on the new master")
            let counts = try await cluster.ask(target, ["PUBSUB", "SHARDNUMSUB", "chat:room:{\(room)}:events"]).array
            #expect(counts?.last?.integer == 2, "both nodes subscribe at the new master: \(String(describing: counts))")
        }
    }

    @Test("a shard that comes back empty gets back what lives on it: the nick and the memberships hashed there are claimed again")
    func shardBackEmpty() async throws {
        try await withRedisCluster(nodes: 1) { cluster, nodes in
            let rooms = try await roomsOnEveryShard(of: cluster)
            let (ann, _) = try await nodes[0].joinV3("ann")
            for room in rooms { _ = try await ann.enter(room) }
            let nickKey = "chat:nick:{ann}"
            let master = try await cluster.master(of: HashSlot(key: nickKey)).port
            let roomThere = try #require(try await asyncFirst(rooms) { try await cluster.master(of: HashSlot(key: "chat:room:{\($0)}:members")).port == master })
            #expect(try await cluster.ask(master, ["EXISTS", nickKey]).integer == 1)

            // The shard loses everything, as a master restarted without its data would.
            _ = try await cluster.ask(master, ["FLUSHALL"])
            #expect(try await cluster.ask(master, ["EXISTS", nickKey]).integer == 0)
            let bus = try #require(nodes[0].server.node.bus as? RedisBus)
            bus.inbox.post(.shard(.recovered(RedisServerAddress(host: "127.0.0.1", port: master))))

            let deadline = ContinuousClock.now + .seconds(10)
            var restored = false
            while !restored, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                let nick = try await cluster.ask(master, ["EXISTS", nickKey]).integer
                let member = try await cluster.ask(master, ["HEXISTS", "chat:room:{\(roomThere)}:members", "ann"]).integer
                restored = nick == 1 && member == 1
            }
            #expect(restored, "ann's nick and membership are on the shard again")
        }
    }

    private func asyncFirst(_ items: [String], where predicate: (String) async throws -> Bool) async throws -> String? {
        for item in items where try await predicate(item) { return item }
        return nil
    }

    @Test("a password-protected cluster: a node with the password serves and comes back after a restart with the room's history; a wrong password is one line and exit 1")
    func passwordAndRestart() async throws {
        let cluster = try await RedisClusterDeployment(password: "cluster-secret")
        try await cluster.waitUntilReady()
        let wrong = cluster.url.replacingOccurrences(of: ":cluster-secret@", with: ":wrong@")
        let refused = try await NodeProcess(arguments: ["--port", "0", "--redis", wrong]).waitForExit(timeout: .seconds(30))
        #expect(refused.status != 0)
        #expect(refused.stderr.split(separator: "\n").count == 1, "stderr: \(refused.stderr)")
        #expect(!refused.stderr.contains("RedisError("), "a sentence, not a type dump: \(refused.stderr)")

        var node = try NodeProcess(arguments: ["--port", "0", "--redis", cluster.url, "--node-id", "restarted"])
        var port = try await node.waitUntilListening()
        var client = try await WebSocketTestClient.connect(port: port, subprotocols: ["chat.v3.json"])
        try await client.send(#"{"type":"hello","nick":"ann"}"#)
        #expect(await client.next(ofType: "welcome") != nil)
        _ = try await client.enter("kept")
        try await client.send(#"{"type":"say","room":"kept","text":"before the restart"}"#)
        let line = try #require(await client.next(ofType: "message"))
        node.signal(SIGTERM)
        #expect(await node.waitForExit().status == 0)

        node = try NodeProcess(arguments: ["--port", "0", "--redis", cluster.url, "--node-id", "restarted"])
        port = try await node.waitUntilListening()
        client = try await WebSocketTestClient.connect(port: port, subprotocols: ["chat.v3.json"])
        try await client.send(#"{"type":"hello","nick":"ann"}"#)
        #expect(await client.next(ofType: "welcome") != nil, "the nick was released by the drain")
        let room = try await client.enter("kept")
        guard case .array(let history) = room["history"], case .object(let first) = history.first else {
            Issue.record("no history after the restart: \(room)")
            return
        }
        #expect(first.string("id") == line.string("id"))
        node.signal(SIGTERM)
        #expect(await node.waitForExit().status == 0)
    }

    @Test("rediss-cluster:// speaks TLS to every master, checked against --redis-ca; another authority is one sentence and exit 1")
    func clusterOverTLS() async throws {
        let certificates = try await TestCertificates.make()
        let cluster = try await RedisClusterDeployment(tls: certificates)
        try await cluster.waitUntilReady()
        let otherAuthority = try await TestCertificates.make().authority
        let refused = try await NodeProcess(arguments: ["--port", "0", "--redis", cluster.url, "--redis-ca", otherAuthority])
            .waitForExit(timeout: .seconds(30))
        #expect(refused.status != 0)
        #expect(refused.stderr.split(separator: "\n").count == 1, "stderr: \(refused.stderr)")
        #expect(refused.stderr.contains("is not signed by an authority this node trusts"), "stderr: \(refused.stderr)")
        #expect(!refused.stderr.contains("BoringSSL") && !refused.stderr.contains(".cc:"), "no TLS library dump: \(refused.stderr)")

        let node = try NodeProcess(arguments: ["--port", "0", "--redis", cluster.url, "--redis-ca", certificates.authority])
        let port = try await node.waitUntilListening()
        let client = try await WebSocketTestClient.connect(port: port, subprotocols: ["chat.v3.json"])
        try await client.send(#"{"type":"hello","nick":"sealed"}"#)
        #expect(await client.next(ofType: "welcome") != nil)
        // One room on each shard, so every master's connections carry TLS.
        for room in try await roomsOnEveryShard(of: cluster) {
            _ = try await client.enter(room)
            try await client.send(#"{"type":"say","room":"\#(room)","text":"over TLS"}"#)
            #expect(await client.next(ofType: "message")?.string("room") == room)
        }
        node.signal(SIGTERM)
        #expect(await node.waitForExit().status == 0)
    }

    @Test("a cluster URL nobody answers at: one line naming the seeds, exit 1")
    func unreachableAtStart() async throws {
        let port = try FreePort.find()
        let outcome = try await NodeProcess(arguments: ["--port", "0", "--redis", "redis-cluster://127.0.0.1:\(port)"])
            .waitForExit(timeout: .seconds(15))
        #expect(outcome.status == 1)
        #expect(outcome.stderr.split(separator: "\n").count == 1, "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.contains("127.0.0.1:\(port)"), "stderr: \(outcome.stderr)")
    }
}
