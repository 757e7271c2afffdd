@testable import ChatNode
import Logging
import Redis
import TestSupport
import Testing

@Suite("Resynchronising with Redis after an outage")
struct RedisBusResynchronizationTests {
    @Test("a request made while a resynchronisation has not yet claimed the users again is covered by it: one runs, never two at once")
    func oneAtATime() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        var configuration = NodeConfiguration(nodeID: "solo")
        configuration.redisURL = redis.url
        let metrics = ChatMetrics()
        let bus = try await RedisBus.start(
            configuration: configuration, url: try RedisURL(parsing: redis.url), metrics: metrics, logger: Logger(label: "test")
        )
        let running = Task { await bus.run() }

        // After an empty restart, the reconnection and the liveness beacon (which finds
        // this node reaped) both ask for one, a moment apart.
        await requestTwiceAtOnce(bus)
        #expect(metrics.render().contains("chat_redis_resynchronisations_total 1\n"))

        // A request after it finished starts a new one.
        await bus.resynchronize()
        #expect(metrics.render().contains("chat_redis_resynchronisations_total 2\n"))
        await bus.stop()
        await running.value
    }

    /// Asks twice: the second request waits on the bus behind the first, which
    /// runs until it waits for Redis's first reply.
    private func requestTwiceAtOnce(_ bus: isolated RedisBus) async {
        let second = Task { await bus.resynchronize() }
        await bus.resynchronize()
        await second.value
    }
}
