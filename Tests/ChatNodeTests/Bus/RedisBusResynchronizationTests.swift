@testable import ChatNode
import Logging
import Redis
import TestSupport
import Testing

@Suite("Resynchronising with Redis after an outage")
struct RedisBusResynchronizationTests {
    @Test("an outage while a run is under way: that run ends first, then exactly one more runs; never two at once")
    func oneAtATime() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        var configuration = NodeConfiguration(nodeID: "solo")
        configuration.redisURL = redis.url
        let metrics = ChatMetrics()
        let bus = try await RedisBus.start(
            configuration: configuration, url: try RedisURL(parsing: redis.url), metrics: metrics, logger: Logger(label: "test")
        )
        let running = Task { await bus.run() }

        // The subscription is cut and back twice in a row, as when Redis restarts
        // empty and the reconnection races the liveness beacon.
        for isUp in [false, true, false, true] {
            bus.inbox.post(.connection(.subscriber, isUp: isUp))
        }
        // A run waits 1.5 s before its last step: the second has not started beside it.
        try await Task.sleep(for: .milliseconds(500))
        #expect(metrics.render().contains("chat_redis_resynchronisations_total 1\n"))
        #expect(await bus.link.isResynchronising)

        // It starts once the first has ended, and nothing starts after it.
        let deadline = ContinuousClock.now + .seconds(10)
        while await bus.link.isResynchronising, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(metrics.render().contains("chat_redis_resynchronisations_total 2\n"))
        #expect(await bus.isAvailable)
        await bus.stop()
        await running.value
    }
}
