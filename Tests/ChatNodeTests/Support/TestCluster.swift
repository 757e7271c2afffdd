import ChatNode
import ChatProtocol
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
    let redis = try await RedisServerProcess()
    defer { redis.stop() }
    let configurations = nodeConfigurations(count, redisURL: redis.url, configure)
    return try await withRunningNodes(configurations) { nodes in
        try await body(TestCluster(redis: redis, nodes: nodes))
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

/// `count` node configurations sharing the Redis at `redisURL`: free ports, a 1 s node TTL, then `configure`.
func nodeConfigurations(_ count: Int, redisURL: String, _ configure: (inout NodeConfiguration) -> Void) -> [NodeConfiguration] {
    (0..<count).map { index in
        var configuration = NodeConfiguration(nodeID: "node-\(index)")
        configuration.port = 0
        configuration.redisURL = redisURL
        configuration.nodeTTL = .seconds(1)
        configuration.helloTimeout = TestTimeouts.hello
        configure(&configuration)
        return configuration
    }
}
