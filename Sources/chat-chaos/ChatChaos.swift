import ArgumentParser
import Foundation

/// Runs fault-injection scenarios against real local clusters and prints one
/// line per scenario: the load held, the fault, and each invariant with the
/// figure measured. Exits non-zero when any invariant fails.
@main
struct ChatChaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-chaos",
        abstract: "Breaks a local chat cluster under load and checks what PROTOCOL.md promises."
    )

    /// How hard to push: `short` fits in CI, `long` is for releases.
    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case short, long
    }

    @Option(help: "short (CI, a few minutes) or long (releases)") var mode: Mode = .short
    @Option(parsing: .upToNextOption, help: "Only these scenarios (default: all of the mode)") var scenario: [String] = []
    @Option(help: "How long the soak lasts, in seconds (long mode)") var soakSeconds = 600

    func run() async throws {
        let long = mode == .long
        var scenarios: [(String, () async throws -> ScenarioReport)] = [
            ("node-kill", { try await NodeKillScenario(usersPerNode: long ? 100 : 50).run() }),
            ("redis-restart-empty", { try await RedisRestartScenario(usersPerNode: long ? 100 : 30, keepsData: false).run() }),
            ("redis-restart-with-data", { try await RedisRestartScenario(usersPerNode: long ? 100 : 30, keepsData: true).run() }),
            ("drain", { try await DrainScenario(drainedUsers: long ? 3_000 : 1_500).run() }),
            ("rolling-restart", { try await RollingRestartScenario(usersPerNode: long ? 200 : 30).run() }),
            ("partition", { try await PartitionScenario(usersPerNode: long ? 100 : 20, cut: .seconds(long ? 12 : 8)).run() }),
            ("slow-consumers", { try await SlowConsumerScenario(users: long ? 300 : 100, phase: .seconds(long ? 20 : 8)).run() }),
            ("flood", { try await FloodScenario(users: long ? 300 : 60).run() }),
            ("hostile-bytes", { try await HostileBytesScenario(randomCases: long ? 5_000 : 400).run() }),
            ("storm", { try await StormScenario(users: long ? 10_000 : 2_000).run() }),
            ("shard-failover", { try await ShardFailoverScenario(usersPerRoom: 10, roomsPerShard: long ? 100 : 2).run() }),
        ]
        if long {
            scenarios.append(("soak", { try await SoakScenario(users: 300, duration: .seconds(soakSeconds)).run() }))
        }
        if !scenario.isEmpty { scenarios = scenarios.filter { scenario.contains($0.0) } }
        var failed = 0
        for (name, run) in scenarios {
            let started = ContinuousClock.now
            let report: ScenarioReport
            do {
                report = try await run()
            } catch {
                emit("FAIL \(name) | set-up failed: \(error)")
                failed += 1
                continue
            }
            emit(report.line + " | took \(seconds(ContinuousClock.now - started))")
            if !report.passed { failed += 1 }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

/// Writes one line to standard output at once (unbuffered), so a CI log shows each
/// scenario as it finishes rather than all of them at the end.
private func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
