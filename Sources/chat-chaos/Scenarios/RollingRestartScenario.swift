import Foundation

/// Scenario: every node restarted in turn (SIGTERM, a new process on the
/// same port, the next one only once `/readyz` answers 200), as
/// `scripts/rolling-restart.sh` does with compose, while users chat. Each
/// step's drained clients (those on that node, some drained twice when they
/// had moved to a later node) reconnect through the load balancer and resume
/// (v2) with nothing missed or repeated; the others' streams stay intact;
/// after each step every list is complete.
struct RollingRestartScenario {
    var usersPerNode: Int

    func run() async throws -> ScenarioReport {
        let cluster = try await ChaosCluster(nodes: 3, balancer: true)
        let balancer = cluster.balancerPort!
        var report = ScenarioReport(
            scenario: "rolling-restart", load: "\(usersPerNode * 3) v2 users, 4 senders × 4 lines/s during each step",
            fault: "SIGTERM and restart of each node in turn, the next once /readyz is 200"
        )
        // Clients move between nodes as they reconnect through the balancer: each belongs to the node its welcome names.
        var clients = try await (0..<3).asyncMap { node in
            try await ChaosClient.joinAll((0..<usersPerNode).map { (cluster.ports[node], "n\(node)u\($0)", "chat.v2.json") })
        }.flatMap { $0 }
        func on(_ node: Int) -> [ChaosClient] { clients.filter { $0.welcome["node"]?.stringValue == "chaos-\(node)" } }
        var exits: [String] = []
        var resumedBack = 0
        var gapless = 0
        var intact = (streams: 0, broken: 0)
        var listsComplete = 0
        var slowestReady = Duration.zero
        var listMismatch = ""
        var drainedTotal = 0
        for step in 0..<3 {
            let others = (0..<3).filter { $0 != step }
            let senders = others.flatMap { on($0).prefix(2) }
            // Only this step's lines are compared: earlier steps' are in the transcripts too.
            var marks: [ObjectIdentifier: Int] = [:]
            for client in clients { marks[ObjectIdentifier(client)] = await client.transcript.lines.count }
            func lines(of client: ChaosClient, from sender: String) async -> [String] {
                let all = await client.transcript.lines
                return all[min(marks[ObjectIdentifier(client)] ?? 0, all.count)...].filter { $0.from == sender }.map(\.text)
            }
            try await Task.sleep(for: .milliseconds(500))
            async let attempts = ChatLoad(senders: senders).run(for: .seconds(5))
            try await Task.sleep(for: .seconds(1))
            let node = try require(cluster.nodes[step])
            let signalled = ContinuousClock.now
            node.signal(SIGTERM)
            let outcome = await node.waitForExit(timeout: .seconds(10))
            exits.append("\(outcome.status) after \(seconds(ContinuousClock.now - signalled))")
            try await cluster.startNode(step)
            let ready = await waitFor(timeout: .seconds(15)) { await cluster.readiness(node: step) == 200 }
            slowestReady = max(slowestReady, ready.map { _ in ContinuousClock.now - signalled } ?? .seconds(99))

            let drained = on(step)
            drainedTotal += drained.count
            let reconnected = await ReconnectedClients.reconnect(drained, through: balancer, width: 100, for: .seconds(20), since: signalled) { client in
                _ = await waitFor(timeout: .seconds(5)) { await client.transcript.isDisconnected }
                return await client.transcript.lines.last?.id
            }
            _ = await attempts
            try await Task.sleep(for: .seconds(1))

            let back = await reconnected.clients
            var truth: [String: [String]] = [:]
            for sender in senders { truth[sender.nick] = await lines(of: sender, from: sender.nick) }
            for client in drained {
                guard let again = back[client.nick] else { continue }
                if again.welcome["resumed"] == .bool(true) { resumedBack += 1 }
                var complete = true
                for sender in senders {
                    let seen = await lines(of: client, from: sender.nick)
                        + again.historyLines.filter { $0.from == sender.nick }.map(\.text)
                        + (await again.transcript.lines(from: sender.nick))
                    if seen != truth[sender.nick] { complete = false }
                }
                if complete { gapless += 1 }
            }
            for receiver in clients where !drained.contains(where: { $0 === receiver }) {
                for sender in senders where sender !== receiver {
                    intact.streams += 1
                    if await lines(of: receiver, from: sender.nick) != truth[sender.nick] { intact.broken += 1 }
                }
            }
            clients = clients.map { back[$0.nick] ?? $0 }

            // Every list complete: who, asked of one client per node, names everyone.
            let truthList = clients.map(\.nick).sortedAsUserList()
            let complete = await waitFor(timeout: .seconds(10)) {
                let askers = (0..<3).compactMap { on($0).first }
                for asker in askers {
                    await asker.transcript.clearUserLists()
                    await asker.send(#"{"type":"who"}"#)
                }
                try? await Task.sleep(for: .milliseconds(300))
                for asker in askers where await asker.transcript.userLists.last != truthList {
                    listMismatch = "step \(step): \(asker.nick) saw \(await asker.transcript.userLists.last?.count ?? -1) of \(truthList.count)"
                    return false
                }
                return true
            }
            if complete != nil { listsComplete += 1 }
        }
        let total = drainedTotal
        report.check("each node exits 0 within 5 s", exits.allSatisfy { $0.hasPrefix("0 ") }, exits.joined(separator: ", "))
        report.check("each replacement ready", slowestReady <= .seconds(15), "slowest /readyz 200 \(seconds(slowestReady)) after its SIGTERM")
        report.check("drained clients resumed", resumedBack == total, "\(resumedBack)/\(total)")
        report.check("drained clients missed and repeated nothing", gapless == total, "\(gapless)/\(total)")
        report.check("others' streams intact", intact.broken == 0, "\(intact.streams - intact.broken)/\(intact.streams)")
        report.check("every list complete after each step", listsComplete == 3, "\(listsComplete)/3 steps" + (listsComplete == 3 ? "" : "; \(listMismatch)"))
        return report
    }
}

extension Range where Element == Int {
    /// `map` with an async transform, in order.
    func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
