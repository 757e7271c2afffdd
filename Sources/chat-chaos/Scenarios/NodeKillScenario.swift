/// Scenario 1: `kill -9` of one of three nodes while its users and the
/// others chat. Observers elsewhere lose nothing, see each of its users
/// leave with `node_down` once, in time; its users reconnect through the
/// load balancer, take their nicks back and resume (v2) without gaps.
struct NodeKillScenario {
    var usersPerNode: Int
    var nodeTTL = 2

    func run() async throws -> ScenarioReport {
        let cluster = try await ChaosCluster(nodes: 3, arguments: ["--node-ttl", String(nodeTTL)], balancer: true)
        let balancer = cluster.balancerPort!
        var report = ScenarioReport(
            scenario: "node-kill", load: "\(usersPerNode * 3) users, 10 senders × 4 lines/s", fault: "kill -9 of 1 node of 3"
        )
        let observers = try await ChaosClient.joinAll((0..<usersPerNode * 2).map { index in
            (cluster.ports[index % 2], "obs\(index)", "chat.v1.json")
        })
        let victims = try await ChaosClient.joinAll((0..<usersPerNode).map { index in
            (cluster.ports[2], "vic\(index)", "chat.v2.json")
        })
        let senders = Array(observers.prefix(10))
        try await Task.sleep(for: .seconds(1))

        // Chat for 8 s; the node dies 3 s in.
        async let attempts = ChatLoad(senders: senders).run(for: .seconds(8))
        try await Task.sleep(for: .seconds(3))
        let killedAt = ContinuousClock.now
        cluster.kill9(2)

        // Each victim reconnects through HAProxy as soon as it notices, resuming after its last line.
        let reconnected = await ReconnectedClients.reconnect(victims, through: balancer, width: 100, for: .seconds(20), since: killedAt) { victim in
            // Everything the old connection received is in the transcript once it saw the end.
            _ = await waitFor(timeout: .seconds(5)) { await victim.transcript.isDisconnected }
            return await victim.transcript.lines.last?.id
        }
        _ = await attempts
        try await Task.sleep(for: .seconds(2))

        // Observers: nothing lost from senders on surviving nodes, in order.
        let (streams, broken) = await ChatLoad.mismatches(receivers: observers, senders: senders)
        report.check("observer streams intact", broken == 0, "\(streams - broken)/\(streams)")

        // Observers: exactly one node_down per victim, within node-ttl + 2 s.
        var wrongCounts = 0
        var latest = Duration.zero
        for observer in observers {
            let departures = await observer.transcript.departures
            var count: [String: Int] = [:]
            for departure in departures where departure.reason == "node_down" && departure.nick.hasPrefix("vic") {
                count[departure.nick, default: 0] += 1
                latest = max(latest, departure.at - killedAt)
            }
            if count.count != victims.count || count.values.contains(where: { $0 != 1 }) { wrongCounts += 1 }
        }
        report.check(
            "node_down once per observer", wrongCounts == 0, "\(observers.count - wrongCounts)/\(observers.count) observers"
        )
        report.check("node_down within ttl+2 s", latest <= .seconds(nodeTTL + 2), "last after \(seconds(latest))")

        // Victims: back with their nicks, resumed, and nothing missed or repeated.
        let back = await reconnected.clients
        report.check("victims back with their nick", back.count == victims.count, "\(back.count)/\(victims.count) in \(seconds(await reconnected.slowest))")
        var resumed = 0
        var gapless = 0
        var truth: [String: [String]] = [:]
        for sender in senders { truth[sender.nick] = await sender.transcript.lines(from: sender.nick) }
        for victim in victims {
            guard let again = back[victim.nick] else { continue }
            if again.welcome["resumed"] == .bool(true) { resumed += 1 }
            var complete = true
            for sender in senders {
                let seen = await victim.transcript.lines(from: sender.nick)
                    + again.historyLines.filter { $0.from == sender.nick }.map(\.text)
                    + (await again.transcript.lines(from: sender.nick))
                if seen != truth[sender.nick] { complete = false }
            }
            if complete { gapless += 1 }
        }
        report.check("v2 resumed", resumed == victims.count, "\(resumed)/\(victims.count)")
        report.check("v2 nothing missed or repeated", gapless == victims.count, "\(gapless)/\(victims.count)")
        return report
    }
}

/// Clients that reconnected, by nick, and how long the slowest took.
actor ReconnectedClients {
    /// Reconnects each of `clients` through `port` with its nick (v2, resuming after
    /// what `resumePoint` says), retrying every 250 ms for up to `patience`;
    /// times are measured from `start`.
    static func reconnect(
        _ clients: [ChaosClient], through port: Int, width: Int, for patience: Duration, since start: ContinuousClock.Instant,
        resumePoint: @escaping @Sendable (ChaosClient) async -> String? = { _ in nil }
    ) async -> ReconnectedClients {
        let reconnected = ReconnectedClients()
        await forEachConcurrently(clients, width: width) { client in
            let since = await resumePoint(client)
            let deadline = ContinuousClock.now + patience
            while ContinuousClock.now < deadline {
                if let again = try? await ChaosClient.join(port: port, nick: client.nick, subprotocol: "chat.v2.json", since: since) {
                    await reconnected.add(client.nick, again, after: ContinuousClock.now - start)
                    return
                }
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        return reconnected
    }

    private(set) var clients: [String: ChaosClient] = [:]
    private(set) var slowest = Duration.zero

    func add(_ nick: String, _ client: ChaosClient, after elapsed: Duration) {
        clients[nick] = client
        slowest = max(slowest, elapsed)
    }
}
