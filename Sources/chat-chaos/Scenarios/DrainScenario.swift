import Foundation

/// Scenario 2: SIGTERM of a node holding thousands of users while others
/// chat. It exits 0 within 5 s, its clients are closed with 1001 and
/// reconnect elsewhere through the load balancer, and the rest lose nothing.
struct DrainScenario {
    var drainedUsers: Int

    func run() async throws -> ScenarioReport {
        let cluster = try await ChaosCluster(nodes: 3, balancer: true)
        let balancer = cluster.balancerPort!
        var report = ScenarioReport(
            scenario: "drain", load: "\(drainedUsers) v2 users on the drained node, 40 others, 6 senders × 4 lines/s",
            fault: "SIGTERM of that node"
        )
        let observers = try await ChaosClient.joinAll((0..<40).map { (cluster.ports[$0 % 2], "stay\($0)", "chat.v1.json") })
        let drained = try await ChaosClient.joinAll(
            (0..<drainedUsers).map { (cluster.ports[2], "move\($0)", "chat.v2.json") }, width: 200
        )
        let senders = Array(observers.prefix(6))
        try await Task.sleep(for: .seconds(1))

        async let attempts = ChatLoad(senders: senders).run(for: .seconds(6))
        try await Task.sleep(for: .seconds(2))
        let node = try require(cluster.nodes[2])
        let signalled = ContinuousClock.now
        node.signal(SIGTERM)
        let outcome = await node.waitForExit(timeout: .seconds(10))
        let exitTime = ContinuousClock.now - signalled
        report.check("exits 0 within 5 s", outcome.status == 0 && exitTime <= .seconds(5), "status \(outcome.status) after \(seconds(exitTime))")

        var closedGoingAway = 0
        for client in drained where await client.transcript.closeCode == 1001 { closedGoingAway += 1 }
        report.check("clients closed with 1001", closedGoingAway == drained.count, "\(closedGoingAway)/\(drained.count)")

        let reconnected = await ReconnectedClients.reconnect(drained, through: balancer, width: 200, for: .seconds(30), since: signalled)
        let back = await reconnected.clients.count
        report.check("clients back elsewhere with their nick", back == drained.count, "\(back)/\(drained.count) in \(seconds(await reconnected.slowest))")
        _ = await attempts
        try await Task.sleep(for: .seconds(1))
        let (streams, broken) = await ChatLoad.mismatches(receivers: observers, senders: senders)
        report.check("others' streams intact", broken == 0, "\(streams - broken)/\(streams)")
        return report
    }
}

/// `#require` for a harness precondition.
func require<T>(_ value: T?, _ what: String = "a node") throws -> T {
    guard let value else { throw ChaosFailure("missing \(what)") }
    return value
}
