import Logging
import Redis
import TestSupport
import Testing

/// The cluster client against a real local Redis Cluster (3 masters, 3 replicas).
@Suite("Redis Cluster client", .serialized)
struct RedisClusterClientTests {
    let logger = Logger(label: "test")

    private func connectedClient(to cluster: RedisClusterDeployment, scripts: [RedisScript] = []) async throws -> RedisClusterClient {
        try await cluster.waitUntilReady()
        let client = RedisClusterClient(url: try RedisURL(parsing: cluster.url), scripts: scripts, logger: logger)
        try await client.connect()
        return client
    }

    private func set(_ key: String, _ value: String, with client: RedisClusterClient) async throws -> RedisReply {
        try await client.send(RedisCommand(["SET", key, value]))
    }

    private func get(_ key: String, with client: RedisClusterClient) async throws -> String? {
        try await client.send(RedisCommand(["GET", key])).string
    }

    @Test("commands go to the master of their key's slot: 300 keys land on all three masters, and the slots agree with CLUSTER KEYSLOT")
    func routesBySlot() async throws {
        let cluster = try await RedisClusterDeployment()
        let client = try await connectedClient(to: cluster)
        #expect(await client.masters.count == 3)
        for index in 0..<300 {
            #expect(try await set("key-\(index)", "value-\(index)", with: client).string == "OK")
        }
        var total = 0
        for port in try await cluster.masterPorts() {
            let size = try await cluster.ask(port, ["DBSIZE"]).integer ?? 0
            #expect(size > 50, "master \(port) holds \(size) of 300 keys")
            total += Int(size)
        }
        #expect(total == 300)
        for index in stride(from: 0, to: 300, by: 37) {
            let key = "key-\(index)"
            #expect(try await cluster.ask(cluster.servers[0].port, ["CLUSTER", "KEYSLOT", key]).integer == Int64(HashSlot(key: key).value))
            #expect(try await get(key, with: client) == "value-\(index)")
        }
        await client.shutdown()
    }

    @Test("a script runs by SHA on the master of its keys' one hash tag")
    func scriptsOnOneSlot() async throws {
        let cluster = try await RedisClusterDeployment()
        let script = RedisScript("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('INCR', KEYS[2])")
        let client = try await connectedClient(to: cluster, scripts: [script])
        for room in ["lobby", "swift", "rust", "go"] {
            let keys = ["chat:room:{\(room)}:history", "chat:room:{\(room)}:seq"]
            let reply = try await client.send(script.command(keys: keys.map { Array($0.utf8) }, arguments: [Array("x".utf8)]))
            #expect(reply.integer == 1, "\(room): \(reply)")
        }
        await client.shutdown()
    }

    @Test("after a slot moves to another master, MOVED sends the command there and the map follows")
    func followsMoved() async throws {
        let cluster = try await RedisClusterDeployment()
        let client = try await connectedClient(to: cluster)
        let key = "moving-key"
        let slot = HashSlot(key: key)
        #expect(try await set(key, "before", with: client).string == "OK")
        let source = try await cluster.master(of: slot)
        let target = try #require(try await cluster.masterPorts().first { $0 != source.port })
        try await migrate(slot, key: key, from: source.port, to: target, in: cluster, finish: true)

        #expect(try await get(key, with: client) == "before")
        #expect(await client.slots.master(for: slot)?.port == target)
        #expect(try await set(key, "after", with: client).string == "OK")
        #expect(try await cluster.ask(target, ["GET", key]).string == "after")
        await client.shutdown()
    }

    @Test("while a slot migrates, ASK sends one command to the importing master; the map stays")
    func followsAsk() async throws {
        let cluster = try await RedisClusterDeployment()
        let client = try await connectedClient(to: cluster)
        let key = "halfway-key"
        let slot = HashSlot(key: key)
        #expect(try await set(key, "value", with: client).string == "OK")
        let source = try await cluster.master(of: slot)
        let target = try #require(try await cluster.masterPorts().first { $0 != source.port })
        try await migrate(slot, key: key, from: source.port, to: target, in: cluster, finish: false)

        #expect(try await get(key, with: client) == "value")
        #expect(await client.slots.master(for: slot)?.port == source.port)
        await client.shutdown()
    }

    @Test("when a master dies its replica is promoted; the client finds the new master within 10 s, other masters answer throughout")
    func followsFailover() async throws {
        let cluster = try await RedisClusterDeployment()
        let client = try await connectedClient(to: cluster)
        let (doomedKey, otherKey) = try await keysOnTwoMasters(in: cluster)
        #expect(try await set(doomedKey, "kept", with: client).string == "OK")
        #expect(try await set(otherKey, "other", with: client).string == "OK")
        // Let the replica copy the key before its master dies.
        try await Task.sleep(for: .milliseconds(500))
        let doomed = try await cluster.master(of: HashSlot(key: doomedKey))
        doomed.stop()
        let killed = ContinuousClock.now

        var recovered: Duration?
        while recovered == nil, ContinuousClock.now - killed < .seconds(20) {
            #expect(try await get(otherKey, with: client) == "other", "a master that did not fail keeps answering")
            if let value = try? await get(doomedKey, with: client), value == "kept" { recovered = ContinuousClock.now - killed }
            try await Task.sleep(for: .milliseconds(100))
        }
        let took = try #require(recovered, "the client never reached the promoted replica")
        #expect(took < .seconds(10), "took \(took)")
        #expect(await client.slots.master(for: HashSlot(key: doomedKey))?.port != doomed.port)
        await client.shutdown()
    }

    @Test("a sharded subscription whose slot moves reports its channel cut, then resumed once the new master confirmed it; what is published there from then on arrives")
    func subscriptionFollowsSlot() async throws {
        let cluster = try await RedisClusterDeployment()
        let client = try await connectedClient(to: cluster)
        let subscriber = RedisClusterSubscriber(client: client, logger: logger)
        try await subscriber.connect()
        enum Seen: Sendable, Equatable {
            case change(ChannelChange)
            case message(String)
        }
        let seen = EventQueue<Seen>()
        await subscriber.onChannelChange { seen.push(.change($0)) }
        await subscriber.deliverMessages { seen.push(.message(String(decoding: $0.payload, as: UTF8.self))) }
        let channel = "chat:room:{moving}:events"
        let slot = HashSlot(key: channel)
        try await subscriber.subscribe([channel])
        let source = try await cluster.master(of: slot).port
        let target = try #require(try await cluster.masterPorts().first { $0 != source })
        _ = try await cluster.ask(source, ["SPUBLISH", channel, "before"])
        #expect(await seen.next(timeout: .seconds(5)) == .message("before"))

        try await cluster.migrate(slot, from: source, to: target)
        #expect(await seen.next(timeout: .seconds(5)) == .change(.cut([channel])))
        #expect(await seen.next(timeout: .seconds(10)) == .change(.resumed([channel])))
        _ = try await cluster.ask(target, ["SPUBLISH", channel, "after"])
        #expect(await seen.next(timeout: .seconds(5)) == .message("after"))
        await subscriber.shutdown()
        await client.shutdown()
    }

    @Test("a channel whose new master refuses it (the slot still importing there) stays cut and is tried again; it is resumed once the slot is that master's")
    func refusedSubscriptionIsRetried() async throws {
        let cluster = try await RedisClusterDeployment()
        let client = try await connectedClient(to: cluster)
        let subscriber = RedisClusterSubscriber(client: client, logger: logger)
        try await subscriber.connect()
        let changes = EventQueue<ChannelChange>()
        await subscriber.onChannelChange { changes.push($0) }
        let channel = "chat:room:{refused}:events"
        let slot = HashSlot(key: channel)
        try await subscriber.subscribe([channel])
        let source = try await cluster.master(of: slot).port
        let target = try #require(try await cluster.masterPorts().first { $0 != source })
        let sourceID = try #require(try await cluster.ask(source, ["CLUSTER", "MYID"]).string)
        let targetID = try #require(try await cluster.ask(target, ["CLUSTER", "MYID"]).string)
        _ = try await cluster.ask(target, ["CLUSTER", "SETSLOT", String(slot.value), "IMPORTING", sourceID])
        _ = try await cluster.ask(source, ["CLUSTER", "SETSLOT", String(slot.value), "MIGRATING", targetID])
        // Only the source hands the slot over: it drops the channel, and the target, still importing, refuses it.
        _ = try await cluster.ask(source, ["CLUSTER", "SETSLOT", String(slot.value), "NODE", targetID])
        #expect(await changes.next(timeout: .seconds(5)) == .cut([channel]))
        #expect(await changes.next(timeout: .seconds(1)) == nil, "not resumed while every master refuses it")

        for master in try await cluster.masterPorts() {
            _ = try await cluster.ask(master, ["CLUSTER", "SETSLOT", String(slot.value), "NODE", targetID])
        }
        #expect(await changes.next(timeout: .seconds(10)) == .resumed([channel]))
        let received = EventQueue<String>()
        await subscriber.deliverMessages { received.push(String(decoding: $0.payload, as: UTF8.self)) }
        _ = try await cluster.ask(target, ["SPUBLISH", channel, "after"])
        #expect(await received.next(timeout: .seconds(5)) == "after")
        await subscriber.shutdown()
        await client.shutdown()
    }

    @Test("a cluster URL whose seeds do not answer is refused with one sentence naming them")
    func unreachableSeeds() async throws {
        let port = try FreePort.find()
        let client = RedisClusterClient(url: try RedisURL(parsing: "redis-cluster://127.0.0.1:\(port)"), logger: logger)
        await #expect {
            try await client.connect()
        } throws: { error in
            "\(error)".contains("no node of the Redis Cluster answered CLUSTER SLOTS") && "\(error)".contains("127.0.0.1:\(port)")
        }
        await client.shutdown()
    }

    /// Two keys whose slots have different masters.
    private func keysOnTwoMasters(in cluster: RedisClusterDeployment) async throws -> (String, String) {
        let first = "failover-key"
        let master = try await cluster.master(of: HashSlot(key: first))
        for index in 0..<1000 {
            let candidate = "other-key-\(index)"
            if try await cluster.master(of: HashSlot(key: candidate)).port != master.port { return (first, candidate) }
        }
        throw TestSupportError("no key on another master")
    }

    /// Moves `slot` (holding `key`) from one master to another the way
    /// `redis-cli --cluster reshard` does; without `finish`, stops halfway
    /// (the key moved, the slot still the source's), so the source answers ASK.
    private func migrate(_ slot: HashSlot, key: String, from source: Int, to target: Int, in cluster: RedisClusterDeployment, finish: Bool) async throws {
        let sourceID = try #require(try await cluster.ask(source, ["CLUSTER", "MYID"]).string)
        let targetID = try #require(try await cluster.ask(target, ["CLUSTER", "MYID"]).string)
        #expect(try await cluster.ask(target, ["CLUSTER", "SETSLOT", String(slot.value), "IMPORTING", sourceID]).string == "OK")
        #expect(try await cluster.ask(source, ["CLUSTER", "SETSLOT", String(slot.value), "MIGRATING", targetID]).string == "OK")
        #expect(try await cluster.ask(source, ["MIGRATE", "127.0.0.1", String(target), key, "0", "5000"]).string == "OK")
        guard finish else { return }
        for master in try await cluster.masterPorts() {
            _ = try await cluster.ask(master, ["CLUSTER", "SETSLOT", String(slot.value), "NODE", targetID])
        }
    }
}
