import ArgumentParser
import ChatProtocol
import Foundation
import Histogram
import Logging
import Redis
import TestSupport

/// Benchmarks that report what they measured; nothing here asserts a target.
@main
struct ChatBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-bench",
        abstract: "Measures the Redis client and a running chat node or cluster.",
        subcommands: [PublishBenchmark.self, FanoutBenchmark.self]
    )
}

/// Pipelined PUBLISH throughput of `RedisConnection`, comparable with
/// `redis-benchmark -q -P 16 PUBLISH chan payload`.
struct PublishBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "publish")

    @Option(help: "Redis URL") var redis = "redis://127.0.0.1:6379"
    @Option(help: "How many PUBLISH commands") var count = 1_000_000
    @Option(help: "Commands per batch (one flush each)") var batch = 512
    @Option(help: "Batches in flight at once") var window = 8
    @Option(help: "Payload bytes") var payloadSize = 7

    func run() async throws {
        let connection = RedisConnection(url: try RedisURL(parsing: redis), logger: Logger(label: "bench"))
        try await connection.connect()
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: payloadSize)
        let command = RedisCommand([Array("PUBLISH".utf8), Array("chan".utf8), payload])
        let batches = count / batch
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<min(window, batches) {
                group.addTask { _ = try await connection.sendBatch(Array(repeating: command, count: batch)) }
                next += 1
            }
            while try await group.next() != nil {
                if next < batches {
                    group.addTask { _ = try await connection.sendBatch(Array(repeating: command, count: batch)) }
                    next += 1
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "PUBLISH: %d commands in %.2f s = %.0f requests per second (batch %d, window %d)",
                     batches * batch, seconds, Double(batches * batch) / seconds, batch, window))
        await connection.shutdown()
    }
}

/// End-to-end latency and delivery rate of broadcasts through running nodes.
struct FanoutBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fanout")

    @Option(parsing: .upToNextOption, help: "Node ports; clients are spread over them") var ports: [Int]
    @Option(help: "Receiving clients") var clients = 100
    @Option(help: "Messages the sender broadcasts") var messages = 2000
    @Option(help: "Messages per second the sender attempts") var rate = 500.0

    func run() async throws {
        var receivers: [WebSocketTestClient] = []
        for index in 0..<clients {
            let client = try await WebSocketTestClient.connect(port: ports[index % ports.count])
            try await client.send(#"{"type":"hello","nick":"r\#(index)"}"#)
            _ = await client.nextMessage()
            receivers.append(client)
        }
        let sender = try await WebSocketTestClient.connect(port: ports[0])
        try await sender.send(#"{"type":"hello","nick":"sender"}"#)
        _ = await sender.nextMessage()
        try await Task.sleep(for: .milliseconds(500))

        let origin = ContinuousClock.now
        func micros() -> UInt64 {
            let elapsed = ContinuousClock.now - origin
            return UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
        }
        let collectors = receivers.map { client in
            Task { () -> Histogram<UInt64> in
                var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
                var received = 0
                while received < messages, let event = await client.nextMessage(timeout: .seconds(10)) {
                    guard event["type"]?.stringValue == "message", let text = event["text"]?.stringValue,
                        let sent = UInt64(text.dropFirst(2)) else { continue }
                    _ = histogram.record(micros() - sent)
                    received += 1
                }
                return histogram
            }
        }
        let started = ContinuousClock.now
        let interval = Duration.seconds(1 / rate)
        for index in 0..<messages {
            try await sender.send(#"{"type":"say","text":"t=\#(micros())"}"#)
            let due = started + interval * (index + 1)
            if due > .now { try await Task.sleep(until: due) }
        }
        var total = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for collector in collectors { total.add(await collector.value) }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("fan-out: \(messages) messages x \(clients) receivers over \(ports.count) node(s): \(total.totalCount) deliveries in \(String(format: "%.2f", seconds)) s (\(String(format: "%.0f", Double(total.totalCount) / seconds)) per second)")
        print("latency µs: p50 \(total.valueAtPercentile(50)) p90 \(total.valueAtPercentile(90)) p99 \(total.valueAtPercentile(99)) max \(total.maxRecorded)")
    }
}
