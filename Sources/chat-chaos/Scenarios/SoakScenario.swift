/// Scenario 9 (long mode): steady chat for minutes. Memory and file
/// descriptors stay flat and no errors accumulate.
struct SoakScenario {
    var users: Int
    var duration: Duration

    func run() async throws -> ScenarioReport {
        let cluster = try await ChaosCluster(nodes: 3)
        var report = ScenarioReport(
            scenario: "soak", load: "\(users) users, 10 senders × 4 lines/s for \(seconds(duration))", fault: "none (time)"
        )
        let clients = try await ChaosClient.joinAll((0..<users).map { (cluster.ports[$0 % 3], "soak\($0)", $0 % 2 == 0 ? "chat.v1.json" : "chat.v2.json") })
        let senders = Array(clients.prefix(10))
        async let attempts = ChatLoad(senders: senders).run(for: duration)
        // The first sample after a warm-up minute (allocator pools fill), the last at the end.
        try await Task.sleep(for: min(duration / 6, .seconds(60)))
        let first = cluster.footprints()
        _ = await attempts
        try await Task.sleep(for: .seconds(2))
        let (fdGrowth, rssGrowth) = ProcessFootprint.growth(from: first, to: cluster.footprints())
        report.check("RSS flat", rssGrowth <= 1.15, String(format: "max ×%.2f from the first sample", rssGrowth))
        report.check("file descriptors flat", fdGrowth <= 2, "max growth \(fdGrowth)")
        let failures = await cluster.total("chat_bus_failures_total")
        report.check("no errors", failures == 0, "\(Int(failures)) bus failures")
        let (streams, broken) = await ChatLoad.mismatches(receivers: Array(clients.prefix(30)), senders: senders)
        report.check("streams intact", broken == 0, "\(streams - broken)/\(streams) sampled")
        return report
    }
}
