import ChatNode
import ChatProtocol
import Logging
import ServiceLifecycle
import TestSupport
import Testing

/// Several nodes in this test process sharing one private `redis-server`.
struct TestCluster {
    let redis: RedisServerProcess
    let nodes: [TestNode]
}

/// Runs `body` against `count` nodes joined through a fresh Redis, then shuts them down.
func withCluster<T>(
    nodes count: Int = 3,
    _ configure: (inout NodeConfiguration) -> Void = { _ in },
    _ body: (TestCluster) async throws -> T
) async throws -> T {
    let redis = try RedisServerProcess()
    var logger = Logger(label: "test-cluster")
    logger.logLevel = .critical
    var groups: [ServiceGroup] = []
    var runs: [Task<Void, any Error>] = []
    var nodes: [TestNode] = []
    defer { redis.stop() }
    do {
        for index in 0..<count {
            var configuration = NodeConfiguration(nodeID: "node-\(index)")
            configuration.port = 0
            configuration.redisURL = redis.url
            configuration.nodeTTL = .seconds(1)
            configure(&configuration)
            let ports = EventQueue<Int>()
            let server = try await ChatNodeServer(configuration: configuration, logger: logger) { _, port in ports.push(port) }
            let group = ServiceGroup(services: server.services, logger: logger)
            groups.append(group)
            runs.append(Task { try await group.run() })
            guard let port = await ports.next(timeout: .seconds(10)) else { throw TestSupportError("node \(index) did not start") }
            nodes.append(TestNode(port: port, server: server))
        }
        let result = try await body(TestCluster(redis: redis, nodes: nodes))
        for group in groups.reversed() { await group.triggerGracefulShutdown() }
        for run in runs { try await run.value }
        return result
    } catch {
        for group in groups { await group.triggerGracefulShutdown() }
        for run in runs { _ = try? await run.value }
        throw error
    }
}

extension WebSocketTestClient {
    /// The next message whose `type` is `type`, skipping others; nil on timeout.
    func next(ofType type: String, timeout: Duration = .seconds(5)) async -> [String: JSONValue]? {
        while let event = await nextMessage(timeout: timeout) {
            if event["type"]?.stringValue == type { return event }
        }
        return nil
    }
}
