/// Scenario 6: a client sends as fast as it can. It gets `rate_limited`,
/// then is closed with 1008; the others' chat goes on untouched.
struct FloodScenario {
    var users: Int

    func run() async throws -> ScenarioReport {
        let cluster = try await ChaosCluster(nodes: 3)
        var report = ScenarioReport(
            scenario: "flood", load: "\(users) users, 6 senders × 4 lines/s", fault: "1 client sending 5,000 lines at full speed"
        )
        let clients = try await ChaosClient.joinAll((0..<users).map { (cluster.ports[$0 % 3], "calm\($0)", "chat.v1.json") })
        let flooder = try await ChaosClient.join(port: cluster.ports[0], nick: "flooder")
        let senders = Array(clients.prefix(6))
        try await Task.sleep(for: .milliseconds(500))

        async let attempts = ChatLoad(senders: senders).run(for: .seconds(4))
        var written = 0
        let flooding = ContinuousClock.now
        for index in 0..<5_000 {
            guard await flooder.say("flood \(index)") else { break }
            written += 1
        }
        let floodTime = ContinuousClock.now - flooding
        _ = await attempts
        try await Task.sleep(for: .seconds(1))

        let limited = await flooder.transcript.errorCodes.filter { $0 == "rate_limited" }.count
        let closed = await flooder.transcript.closeCode
        report.check("flooder told rate_limited", limited > 0, "\(limited) times after \(written) lines written")
        report.check("flooder closed with 1008", closed == 1008, closed.map { "\($0)" } ?? "not closed")
        let floodSeen = await clients[1].transcript.lines(from: "flooder").count
        // The burst (30), plus the refill (10 a second) while the flood lasted.
        let allowed = 30 + Int((Double(floodTime.components.seconds) + Double(floodTime.components.attoseconds) / 1e18) * 10) + 1
        report.check("others got only what the limit allows", floodSeen <= allowed, "\(floodSeen) lines (allowed \(allowed) in \(seconds(floodTime)))")
        let (streams, broken) = await ChatLoad.mismatches(receivers: clients, senders: senders)
        report.check("others' streams intact", broken == 0, "\(streams - broken)/\(streams)")
        report.check("no node crashed", cluster.nodePIDs.count == 3, "\(cluster.nodePIDs.count)/3 running")
        return report
    }
}
