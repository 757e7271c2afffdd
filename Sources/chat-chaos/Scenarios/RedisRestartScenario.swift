import ChatProtocol

/// Scenario 3: Redis restarted (with its data, or empty) while clients chat.
/// The outage shows as `unavailable` and 503, never as silent loss or a
/// hang; afterwards every list is complete within 10 s, no node crashed,
/// and the nodes' memory and file descriptors are back to where they were.
struct RedisRestartScenario {
    var usersPerNode: Int
    var keepsData: Bool

    func run() async throws -> ScenarioReport {
        let cluster = try await ChaosCluster(nodes: 3, persistentRedis: keepsData)
        var report = ScenarioReport(
            scenario: keepsData ? "redis-restart-with-data" : "redis-restart-empty",
            load: "\(usersPerNode * 3) users, 6 senders × 4 lines/s",
            fault: "kill -9 of Redis, restarted after 2 s \(keepsData ? "with its data" : "empty")"
        )
        let clients = try await ChaosClient.joinAll((0..<usersPerNode * 3).map { index in
            (cluster.ports[index % 3], "user\(index)", index % 2 == 0 ? "chat.v1.json" : "chat.v2.json")
        })
        let senders = Array(clients.prefix(6))
        try await Task.sleep(for: .seconds(1))
        let before = cluster.footprints()

        async let attempts = ChatLoad(senders: senders).run(for: .seconds(7))
        try await Task.sleep(for: .seconds(2))
        cluster.redis.stop()
        let noticed = await waitFor(timeout: .seconds(5)) {
            var all503 = true
            for index in 0..<3 where await cluster.readiness(node: index) != 503 { all503 = false }
            return all503
        }
        report.check("readyz 503 during the outage", noticed != nil, noticed.map { "all nodes after \(seconds($0))" } ?? "not seen")
        try await Task.sleep(for: .seconds(2))
        try await cluster.redis.start()
        let restartedAt = ContinuousClock.now
        let sent = await attempts

        // Nothing silent: every line a sender attempted came back or was refused.
        var unaccounted = 0
        var refused = 0
        for sender in senders {
            let echoed = await sender.transcript.lines(from: sender.nick).count
            let errors = await sender.transcript.errorCodes.filter { $0 == "unavailable" }.count
            refused += errors
            unaccounted += max(0, (sent[sender.nick] ?? 0) - echoed - errors)
        }
        report.check("no silent loss", unaccounted == 0, "\(refused) lines refused with unavailable, \(unaccounted) unanswered")

        // Every list complete again.
        let truth = clients.map(\.nick).sortedAsUserList()
        let complete = await waitFor(timeout: .seconds(15)) {
            for client in clients.prefix(9) {
                await client.transcript.clearUserLists()
                await client.send(#"{"type":"who"}"#)
            }
            try? await Task.sleep(for: .milliseconds(300))
            for client in clients.prefix(9) where await client.transcript.userLists.last != truth { return false }
            return true
        }
        let recovery = complete.map { _ in ContinuousClock.now - restartedAt }
        report.check("lists complete ≤ 10 s after restart", recovery.map { $0 <= .seconds(10) } ?? false, recovery.map(seconds) ?? "never")
        report.check("no node crashed", cluster.nodePIDs.count == 3, "\(cluster.nodePIDs.count)/3 running")

        try await Task.sleep(for: .seconds(2))
        let (fdGrowth, rssGrowth) = ProcessFootprint.growth(from: before, to: cluster.footprints())
        report.check("file descriptors back", fdGrowth <= 2, "max growth \(fdGrowth)")
        report.check("RSS back", rssGrowth <= 1.5, String(format: "max ×%.2f", rssGrowth))
        return report
    }
}
