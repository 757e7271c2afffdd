import ChatProtocol

/// Scenario 4: the link between one node and Redis drops every packet while
/// the node stays up. The node notices within a bounded time (503,
/// `unavailable`), keeps its clients, and heals; the other nodes reap its
/// users only once its liveness key expired, and afterwards every list in
/// the cluster equals `who` and the isolated node's clients have every line
/// sent during the cut.
struct PartitionScenario {
    var usersPerNode: Int
    var cut: Duration
    var nodeTTL = 3

    func run() async throws -> ScenarioReport {
        var report = ScenarioReport(
            scenario: "partition", load: "\(usersPerNode * 3) users, 6 senders × 4 lines/s",
            fault: "iptables DROP between 1 node and Redis for \(seconds(cut)) (node-ttl \(nodeTTL) s)"
        )
        guard NetworkNamespace.isAvailable else {
            report.skip("needs root, ip and iptables")
            return report
        }
        let namespace: NetworkNamespace
        do {
            namespace = try NetworkNamespace()
        } catch {
            // A container without CAP_NET_ADMIN, say: the scenario cannot run here; the others can.
            report.skip("cannot make a network namespace here: \(error)")
            return report
        }
        let cluster = try await ChaosCluster(nodes: 3, arguments: ["--node-ttl", String(nodeTTL)], isolation: namespace)
        var clients: [ChaosClient] = []
        for index in 0..<usersPerNode * 3 {
            let node = index % 3
            clients.append(try await ChaosClient.join(host: cluster.host(of: node), port: cluster.ports[node], nick: "p\(index)"))
        }
        let isolated = clients.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)
        let others = clients.enumerated().filter { $0.offset % 3 != 0 }.map(\.element)
        let truth = clients.map(\.nick).sortedAsUserList()
        try await Task.sleep(for: .seconds(1))

        async let attempts = ChatLoad(senders: Array(others.prefix(6))).run(for: cut + .seconds(4))
        try await Task.sleep(for: .seconds(1))
        do {
            try namespace.cut(port: cluster.redis.port)
        } catch {
            report.skip("iptables refused to cut the link: \(error)")
            return report
        }
        let noticed = await waitFor(timeout: .seconds(10)) { await cluster.readiness(node: 0) == 503 }
        report.check("isolated node reports 503", noticed != nil, noticed.map { "after \(seconds($0))" } ?? "never")
        await isolated[0].say("during the cut")
        let refused = await waitFor(timeout: .seconds(5)) { await isolated[0].transcript.errorCodes.contains("unavailable") }
        report.check("its chat answers unavailable", refused != nil, refused.map { "after \(seconds($0))" } ?? "no answer")
        try await Task.sleep(for: cut - (noticed ?? .zero))
        namespace.heal()
        let healedAt = ContinuousClock.now
        _ = await attempts

        var kept = 0
        for client in isolated where await !client.transcript.isDisconnected { kept += 1 }
        report.check("isolated node kept its clients", kept == isolated.count, "\(kept)/\(isolated.count)")
        // Reaped only if the cut outlasted the liveness key.
        var reaped = 0
        for departure in await others[0].transcript.departures where departure.reason == "node_down" { reaped += 1 }
        let expectReaped = cut > .seconds(nodeTTL + 2)
        report.check(
            expectReaped ? "others reaped its users (cut > ttl)" : "others did not reap its users (cut < ttl)",
            expectReaped ? reaped == isolated.count : reaped == 0, "\(reaped) node_down seen"
        )
        let converged = await waitFor(timeout: .seconds(20)) {
            for client in [isolated[0], isolated[1], others[0], others[1]] where await client.asksWho() != truth { return false }
            return true
        }
        let recovery = converged.map { _ in ContinuousClock.now - healedAt }
        report.check("every list equals who after healing", recovery != nil, recovery.map { "after \(seconds($0))" } ?? "never")
        // The lines sent during the cut reach the isolated node's clients after it, once and in order.
        let (streams, broken) = await ChatLoad.mismatches(receivers: isolated, senders: Array(others.prefix(6)))
        report.check("isolated clients got every line sent during the cut", broken == 0, "\(streams - broken)/\(streams) streams intact")
        return report
    }
}
