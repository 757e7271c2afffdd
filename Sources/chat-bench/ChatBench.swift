import ArgumentParser
import ChatProtocol
import Foundation
import Histogram
import Logging
import Redis

/// Benchmarks that report what they measured; nothing here asserts a target.
@main
struct ChatBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-bench",
        abstract: "Measures the Redis client and a running chat node or cluster.",
        subcommands: [PublishBenchmark.self, FanoutBenchmark.self, StormBenchmark.self, APIPublishBenchmark.self, BaselineServer.self, MinimalV2Server.self, MinimalRoomsServer.self]
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
    @Option(help: "Subprotocol every client speaks: chat.v1.json, chat.v2.json or chat.v3.json") var subprotocol = "chat.v1.json"
    @Option(help: "chat.v3.json: rooms of equal size (client i in room i / size; with several rooms, each room's members on one node); 0: everyone in lobby") var rooms = 0
    @Option(help: "Messages the sender broadcasts") var messages = 2000
    @Option(help: "Messages per second the sender attempts") var rate = 500.0
    @Option(help: "Receivers that also send, each `--messages` at `--rate` (0: one extra client sends, and receives nothing)") var senders = 0
    @Option(parsing: .upToNextOption, help: "Server processes (pids) whose CPU to measure") var pids: [Int32] = []

    func run() async throws {
        let origin = ContinuousClock.now
        var receivers: [LatencyProbe] = []
        let roomSize = rooms > 0 ? max(clients / rooms, 1) : clients
        for index in 0..<clients {
            // In rooms, a room's members share a node, so a node receives only its own rooms' lines.
            let port = rooms > 1 ? ports[(index / roomSize) % ports.count] : ports[index % ports.count]
            let room = rooms > 0 ? "room-\(index / roomSize)" : nil
            receivers.append(try await LatencyProbe.connect(port: port, nick: "r\(index)", subprotocol: subprotocol, room: room, origin: origin))
        }
        let sending: [LatencyProbe]
        if senders > 0, rooms > 0 {
            // Spread over the rooms, so over the nodes too: the first member of every (rooms / senders)th room.
            sending = (0..<senders).map { receivers[($0 * rooms / senders) * roomSize] }
        } else if senders > 0 {
            sending = Array(receivers.prefix(senders))
        } else {
            sending = [try await LatencyProbe.connect(port: ports[0], nick: "sender", subprotocol: subprotocol, origin: origin)]
        }
        try await Task.sleep(for: .seconds(1))

        @Sendable func micros() -> UInt64 {
            let elapsed = ContinuousClock.now - origin
            return UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
        }
        let started = ContinuousClock.now
        let cpuBefore = ProcessSample.read(pids).cpuSeconds
        let interval = Duration.seconds(1 / rate)
        let (messages, offsets) = (self.messages, Double(sending.count))
        try await withThrowingTaskGroup { group in
            for (position, sender) in sending.enumerated() {
                // Senders start evenly spread over one interval, so lines do not arrive in bursts.
                let start = started + interval * (Double(position) / offsets)
                group.addTask {
                    let roomField = sender.room.map { #""room":"\#($0)","# } ?? ""
                    for index in 0..<messages {
                        try await sender.send(#"{"type":"say",\#(roomField)"text":"t=\#(micros())"}"#)
                        let due = start + interval * (index + 1)
                        if due > .now { try await Task.sleep(until: due) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let sent = ContinuousClock.now - started
        let expected = UInt64(messages * sending.count * roomSize)
        var total = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            total = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
            for receiver in receivers { total.add(try await receiver.histogram()) }
            if total.totalCount >= expected { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let elapsed = ContinuousClock.now - started
        let cpu = ProcessSample.read(pids).cpuSeconds - cpuBefore
        func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        if rooms > 0 { print("rooms: \(rooms) of \(roomSize) members, each room's members on one node") }
        print("fan-out: \(sending.count) x \(messages) messages (sent in \(String(format: "%.2f", seconds(sent))) s) x \(clients) receivers over \(ports.count) node(s): \(total.totalCount)/\(expected) deliveries in \(String(format: "%.2f", seconds(elapsed))) s (\(String(format: "%.0f", Double(total.totalCount) / seconds(elapsed))) per second)")
        if !pids.isEmpty {
            let lines = Double(messages * sending.count)
            print(String(
                format: "server CPU: %.2f s, %.0f deliveries per server CPU-second, %.1f µs per line",
                cpu, Double(total.totalCount) / max(cpu, 0.001), cpu * 1e6 / lines
            ))
        }
        print("latency µs: p50 \(total.valueAtPercentile(50)) p90 \(total.valueAtPercentile(90)) p99 \(total.valueAtPercentile(99)) max \(total.maxRecorded)")
        for receiver in receivers { try? await receiver.channel.close() }
        if senders == 0 { try? await sending[0].channel.close() }
    }
}
