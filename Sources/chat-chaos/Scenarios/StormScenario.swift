import ChatProtocol

/// Scenario 7: a connect storm, then every one of those clients drops its
/// TCP connection at once. Lists converge to the truth, the connection and
/// user gauges return to zero, and no file descriptor leaks.
struct StormScenario {
    var users: Int

    func run() async throws -> ScenarioReport {
        let cluster = try await ChaosCluster(nodes: 3)
        var report = ScenarioReport(
            scenario: "storm", load: "\(users) v2 users joining, 200 handshakes in flight", fault: "all \(users) drop their TCP connections at once"
        )
        let watcher = try await ChaosClient.join(port: cluster.ports[0], nick: "watcher", subprotocol: "chat.v2.json")
        try await Task.sleep(for: .milliseconds(500))
        let before = cluster.footprints()

        let started = ContinuousClock.now
        let crowd = try await ChaosClient.joinAll(
            (0..<users).map { (cluster.ports[$0 % 3], "storm\($0)", "chat.v2.json") }, width: 200
        )
        report.check("all joined", crowd.count == users, "\(crowd.count)/\(users) in \(seconds(ContinuousClock.now - started))")
        let truth = (crowd.map(\.nick) + ["watcher"]).sortedAsUserList()
        let full = await waitFor(timeout: .seconds(30)) { await watcher.asksWho() == truth }
        report.check("list complete after the storm", full != nil, full.map { "after \(seconds($0))" } ?? "never")

        await forEachConcurrently(crowd, width: 500) { await $0.disconnect() }
        let empty = await waitFor(timeout: .seconds(30)) { await watcher.asksWho() == ["watcher"] }
        report.check("list back to the truth after the drop", empty != nil, empty.map { "after \(seconds($0))" } ?? "never")
        let gauges = await waitFor(timeout: .seconds(15)) {
            for index in 0..<3 {
                let expected: Double = index == 0 ? 1 : 0
                guard await cluster.metric("chat_connections", node: index) == expected,
                    await cluster.metric("chat_joined_users", node: index) == expected
                else { return false }
            }
            return true
        }
        report.check("gauges back to zero", gauges != nil, gauges.map { "after \(seconds($0)) more" } ?? "never")
        let fdGrowth = ProcessFootprint.growth(from: before, to: cluster.footprints()).openFiles
        report.check("no leaked file descriptors", fdGrowth <= 2, "max growth \(fdGrowth)")
        return report
    }
}

extension ChaosClient {
    /// Sends `who` and returns the list it answers (nil if none within 2 s).
    func asksWho() async -> [String]? {
        await transcript.clearUserLists()
        await send(#"{"type":"who"}"#)
        let answered = await waitFor(timeout: .seconds(2)) { await !transcript.userLists.isEmpty }
        return answered == nil ? nil : await transcript.userLists.last
    }
}
