import ChatProtocol
import Foundation
import Redis
import TestSupport

/// Scenario: the master of one shard of a Redis Cluster is killed while
/// every room chats. Only that shard's rooms may refuse lines, and only
/// until its replica is promoted (then within 10 s they work again); the
/// other shards' rooms go on with their latency within 2× of before;
/// nothing is lost silently and every member sees its room's lines in order.
struct ShardFailoverScenario {
    var usersPerRoom: Int
    /// Rooms per shard (3 shards).
    var roomsPerShard: Int

    func run() async throws -> ScenarioReport {
        let redis = try await RedisClusterDeployment()
        defer { for server in redis.servers { server.stop() } }
        try await redis.waitUntilReady()
        let nodes = try (0..<3).map { index in
            try NodeProcess(
                arguments: ["--port", "0", "--redis", redis.url, "--node-id", "chaos-\(index)", "--presence-interval", "0.05"],
                environment: ["LOG_LEVEL": "error"]
            )
        }
        defer { for node in nodes { node.signal(SIGKILL) } }
        var ports: [Int] = []
        for node in nodes { ports.append(try await node.waitUntilListening()) }

        // Rooms on every shard, by the slot of their keys.
        var roomsByMaster: [Int: [String]] = [:]
        for index in 0..<(10 * roomsPerShard + 100) where roomsByMaster.values.map(\.count).reduce(0, +) < 3 * roomsPerShard {
            let room = "room-\(index)"
            let master = try await redis.master(of: HashSlot(key: "chat:room:{\(room)}:events")).port
            if roomsByMaster[master, default: []].count < roomsPerShard { roomsByMaster[master, default: []].append(room) }
        }
        guard roomsByMaster.count == 3 else { throw ChaosFailure("rooms landed on \(roomsByMaster.count) shards, not 3") }
        let doomedPort = roomsByMaster.keys.sorted()[0]
        let doomedRooms = Set(roomsByMaster[doomedPort]!)
        let rooms = roomsByMaster.values.flatMap { $0 }.sorted()

        var report = ScenarioReport(
            scenario: "shard-failover",
            load: "\(rooms.count * usersPerRoom) v3 users in \(rooms.count) rooms on 3 shards, 2 senders per room × 4 lines/s",
            fault: "kill -9 of the master of 1 shard of 3 (its replica is promoted)"
        )
        var members: [String: [ChaosClient]] = [:]
        for (roomIndex, room) in rooms.enumerated() {
            let specs = (0..<usersPerRoom).map { user in
                (port: ports[(roomIndex + user) % 3], nick: "r\(roomIndex)u\(user)", subprotocol: "chat.v3.json")
            }
            let clients = try await ChaosClient.joinAll(specs)
            for client in clients { try await client.enter(room) }
            members[room] = clients
        }
        let origin = ContinuousClock.now
        let baseline = await chat(in: members, for: .seconds(5), origin: origin)
        let p99Before = await Self.p99(members.filter { !doomedRooms.contains($0.key) }, after: baseline.started, origin: origin)

        let slot = HashSlot(key: "chat:room:{\(doomedRooms.first!)}:events")
        let doomed = try await redis.master(of: slot)
        async let fault = chat(in: members, for: .seconds(14), origin: origin)
        try await Task.sleep(for: .seconds(1))
        doomed.stop()  // SIGKILL
        let killed = ContinuousClock.now
        var promoted: ContinuousClock.Instant?
        while promoted == nil, ContinuousClock.now - killed < .seconds(12) {
            if let master = try? await redis.master(of: slot), master.port != doomedPort { promoted = .now }
            try? await Task.sleep(for: .milliseconds(100))
        }
        let during = await fault
        try await Task.sleep(for: .seconds(1))

        let unaffected = members.filter { !doomedRooms.contains($0.key) }
        let affected = members.filter { doomedRooms.contains($0.key) }
        let p99During = await Self.p99(unaffected, after: killed, origin: origin)
        var refusedElsewhere = 0
        for client in unaffected.values.flatMap({ $0 }) { refusedElsewhere += await client.transcript.errorCodes.filter { $0 == "unavailable" }.count }
        report.check("other shards' rooms never refused", refusedElsewhere == 0, "\(refusedElsewhere) unavailable")
        report.check(
            "other shards' p99 within 2× of before", p99During <= p99Before * 2 + .milliseconds(20),
            "p99 \(milliseconds(p99Before)) → \(milliseconds(p99During))"
        )
        if let promoted {
            // The failed shard's rooms: the first line echoed after the promotion.
            var back: ContinuousClock.Instant?
            for client in affected.values.flatMap({ $0 }) {
                let lines = await client.transcript.lines
                let arrivals = await client.transcript.arrivals
                for (line, arrival) in zip(lines, arrivals) where arrival > killed && line.from == client.nick {
                    back = min(back ?? arrival, arrival)
                    break
                }
            }
            var refusedThere = 0
            for client in affected.values.flatMap({ $0 }) { refusedThere += await client.transcript.errorCodes.filter { $0 == "unavailable" }.count }
            let recovery = back.map { $0 - promoted }
            report.check(
                "failed shard's rooms back ≤ 10 s after promotion", recovery.map { $0 <= .seconds(10) } ?? false,
                "promoted \(seconds(promoted - killed)) after the kill; " + (recovery.map { "back \(seconds($0)) after it" } ?? "never back")
                    + "; \(refusedThere) lines refused there meanwhile"
            )
        } else {
            report.check("replica promoted", false, "not within 12 s")
        }

        // Nothing silent, nothing reordered: every attempted line came back or was refused, and every member saw the same stream.
        var unaccounted = 0
        var broken = 0
        var streams = 0
        for (_, clients) in members {
            let senders = Array(clients.prefix(2))
            for sender in senders {
                let echoed = await sender.transcript.lines(from: sender.nick).count
                let refused = await sender.transcript.errorCodes.filter { $0 == "unavailable" }.count
                let attempted = (baseline.attempts[sender.nick] ?? 0) + (during.attempts[sender.nick] ?? 0)
                unaccounted += max(0, attempted - echoed - refused)
            }
            let (roomStreams, roomBroken) = await ChatLoad.mismatches(receivers: clients, senders: senders)
            streams += roomStreams
            broken += roomBroken
        }
        report.check("no silent loss", unaccounted == 0, "\(unaccounted) lines neither echoed nor refused")
        report.check("every member's streams intact", broken == 0, "\(streams - broken)/\(streams)")

        // Every room's list complete: PROTOCOL.md promises it within 10 s of the shard's return.
        var incomplete: [String] = []
        for (room, clients) in members {
            let truth = clients.map(\.nick).sortedAsUserList()
            let asker = clients[clients.count - 1]
            var seen: [String]?
            let complete = await waitFor(timeout: .seconds(10)) {
                await asker.transcript.clearUserLists()
                await asker.send(#"{"type":"who","room":"\#(room)","limit":1000}"#)
                try? await Task.sleep(for: .milliseconds(300))
                seen = await asker.transcript.userLists.last
                return seen == truth
            }
            if complete == nil {
                let missing = Set(truth).subtracting(seen ?? []).sorted()
                let extra = Set(seen ?? []).subtracting(truth).sorted()
                incomplete.append("\(room): " + (seen == nil ? "no answer to who" : "missing \(missing), extra \(extra)"))
            }
        }
        report.check(
            "every room's list complete after", incomplete.isEmpty,
            "\(rooms.count - incomplete.count)/\(rooms.count) rooms" + (incomplete.isEmpty ? "" : "; " + incomplete.joined(separator: "; "))
        )
        report.check("no node crashed", nodes.allSatisfy(\.isRunning), "\(nodes.filter(\.isRunning).count)/3 running")
        return report
    }

    /// Two senders per room say numbered, timestamped lines at 4 a second for `duration`.
    private func chat(
        in members: [String: [ChaosClient]], for duration: Duration, origin: ContinuousClock.Instant
    ) async -> (started: ContinuousClock.Instant, attempts: [String: Int]) {
        let started = ContinuousClock.now
        let attempts = await withTaskGroup(of: (String, Int).self) { group in
            for (room, clients) in members {
                for sender in clients.prefix(2) {
                    group.addTask {
                        var sent = 0
                        let end = ContinuousClock.now + duration
                        while ContinuousClock.now < end {
                            sent += 1
                            let micros = (ContinuousClock.now - origin) / .microseconds(1)
                            guard await sender.say("\(sender.nick)#\(sent)@\(Int(micros))", in: room) else { break }
                            try? await Task.sleep(for: .milliseconds(250))
                        }
                        return (sender.nick, sent)
                    }
                }
            }
            var attempts: [String: Int] = [:]
            for await (nick, sent) in group { attempts[nick] = sent }
            return attempts
        }
        return (started, attempts)
    }

    /// The 99th percentile of the latency of the lines that reached these rooms' members after `after`.
    private static func p99(_ members: [String: [ChaosClient]], after: ContinuousClock.Instant, origin: ContinuousClock.Instant) async -> Duration {
        var latencies: [Duration] = []
        for client in members.values.flatMap({ $0 }) {
            let lines = await client.transcript.lines
            let arrivals = await client.transcript.arrivals
            for (line, arrival) in zip(lines, arrivals) where arrival >= after {
                guard let at = line.text.split(separator: "@").last, let micros = Int(at) else { continue }
                latencies.append(arrival - (origin + .microseconds(micros)))
            }
        }
        latencies.sort()
        return latencies.isEmpty ? .zero : latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
    }
}
