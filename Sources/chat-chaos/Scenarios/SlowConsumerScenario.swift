import Foundation

/// Scenario 5: a tenth of the clients stop reading while lines pour in.
/// They are closed with 1008 (the node's slow-consumer limit), the others'
/// p99 latency stays within 2× of the same load without them, and the
/// nodes' memory stays bounded.
struct SlowConsumerScenario {
    var users: Int
    var phase: Duration

    func run() async throws -> ScenarioReport {
        let cluster = try await ChaosCluster(nodes: 3, arguments: ["--rate", "0"])
        let stalled = users / 10
        var report = ScenarioReport(
            scenario: "slow-consumers",
            load: "\(users) users, 3 senders × up to 100 lines/s of 2 KB, \(seconds(phase)) per phase",
            fault: "\(stalled) clients stop reading"
        )
        let clients = try await ChaosClient.joinAll((0..<users - stalled).map { (cluster.ports[$0 % 3], "reader\($0)", "chat.v1.json") })
        // Slow links: a 4 KB receive window, so what they do not read backs up at the node, not in this process.
        let slow = try await ChaosClient.joinAll(
            (0..<stalled).map { (cluster.ports[$0 % 3], "stalled\($0)", "chat.v1.json") }, receiveBufferBytes: 4096
        )
        let senders = Array(clients.prefix(3))
        let readers = Array(clients.dropFirst(3))
        let origin = ContinuousClock.now
        let baselineRSS = cluster.footprints().map(\.residentBytes).reduce(0, +)

        // Without slow clients, then with them, the same load.
        let (calm, _) = try await p99(of: readers, during: phase, senders: senders, origin: origin) { true }
        for client in slow { await client.stopReading() }
        let sampler = Task {
            var peak = 0
            while !Task.isCancelled {
                peak = max(peak, cluster.footprints().map(\.residentBytes).reduce(0, +))
                try? await Task.sleep(for: .milliseconds(200))
            }
            return peak
        }
        // The same load, for at least as long, and until the node has closed every stalled client.
        let (stressed, stressedFor) = try await p99(of: readers, during: phase, senders: senders, origin: origin) {
            Int(await cluster.total("chat_slow_consumer_disconnects_total")) >= stalled
        }
        sampler.cancel()
        let peakRSS = await sampler.value

        let disconnects = await cluster.total("chat_slow_consumer_disconnects_total")
        report.check(
            "stalled clients closed with 1008", Int(disconnects) == stalled,
            "\(Int(disconnects))/\(stalled) by the node's count after \(seconds(stressedFor)) of load"
        )
        report.check(
            "others' p99 within 2× of the run without them", stressed <= calm * 2 + .milliseconds(5),
            "p99 \(milliseconds(calm)) → \(milliseconds(stressed))"
        )
        var everyLine = 0
        for reader in readers.prefix(20) where await reader.transcript.lines.count == (await senders[0].transcript.lines.count) { everyLine += 1 }
        report.check("others got every line", everyLine == min(20, readers.count), "\(everyLine)/\(min(20, readers.count)) sampled readers")
        // Each stalled client may hold up to 1 MB queued at its node, plus the socket's buffer.
        let growth = peakRSS - baselineRSS
        report.check("node memory bounded", growth < stalled * (2 << 20) + (64 << 20), "3 nodes' RSS +\(growth >> 20) MB at peak")
        return report
    }

    /// Runs the senders for `duration`, then on until `done` holds (60 s at most),
    /// and returns the 99th percentile of the readers' latencies for those lines.
    private func p99(
        of readers: [ChaosClient], during duration: Duration, senders: [ChaosClient], origin: ContinuousClock.Instant,
        until done: @escaping @Sendable () async -> Bool
    ) async throws -> (p99: Duration, lasted: Duration) {
        let started = ContinuousClock.now
        let finished = LoadSwitch()
        let watcher = Task {
            try? await Task.sleep(for: duration)
            while !(await done()), ContinuousClock.now - started < .seconds(60) { try? await Task.sleep(for: .milliseconds(250)) }
            await finished.stop()
        }
        let padding = String(repeating: "x", count: 1900)
        await withTaskGroup(of: Void.self) { group in
            for sender in senders {
                group.addTask {
                    while await finished.isRunning {
                        let micros = (ContinuousClock.now - origin) / .microseconds(1)
                        guard await sender.say("t\(Int(micros)) \(padding)") else { return }
                        try? await Task.sleep(for: .milliseconds(10))
                    }
                }
            }
        }
        await watcher.value
        let lasted = ContinuousClock.now - started
        try await Task.sleep(for: .seconds(1))
        var latencies: [Duration] = []
        for reader in readers {
            let lines = await reader.transcript.lines
            let arrivals = await reader.transcript.arrivals
            for (line, arrival) in zip(lines, arrivals) where arrival >= started {
                guard line.text.hasPrefix("t"), let micros = Int(line.text.dropFirst().prefix { $0 != " " }) else { continue }
                latencies.append(arrival - (origin + .microseconds(micros)))
            }
        }
        latencies.sort()
        guard !latencies.isEmpty else { throw ChaosFailure("no line arrived") }
        return (latencies[min(latencies.count - 1, latencies.count * 99 / 100)], lasted)
    }
}

/// Tells the senders of a phase when to stop.
private actor LoadSwitch {
    private(set) var isRunning = true
    func stop() { isRunning = false }
}

/// Milliseconds with one decimal, for reports.
func milliseconds(_ duration: Duration) -> String {
    String(format: "%.1f ms", Double(duration / .microseconds(1)) / 1000)
}
