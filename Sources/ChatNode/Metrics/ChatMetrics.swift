import CoreMetrics
import Prometheus

/// The node's metrics, recorded through swift-metrics into the node's own
/// Prometheus registry, which `/metrics` renders.
///
/// Each node has its own registry rather than the process-wide
/// `MetricsSystem`, so several nodes can run in one test process.
public struct ChatMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry

    /// Open WebSocket connections on this node.
    let connections: CoreMetrics.Meter
    /// Users joined on this node.
    let joinedUsers: CoreMetrics.Meter
    /// Client messages received (every text message, valid or not).
    let messagesReceived: CoreMetrics.Counter
    /// Events written to local clients (one per recipient).
    let eventsDelivered: CoreMetrics.Counter
    /// Messages published to the bus.
    let busPublishes: CoreMetrics.Counter
    /// Bus operations that failed (each answered `unavailable`).
    let busFailures: CoreMetrics.Counter
    /// Events dropped because a client did not read fast enough.
    let slowConsumerDroppedEvents: CoreMetrics.Counter
    /// Connections closed because they did not read fast enough.
    let slowConsumerDisconnects: CoreMetrics.Counter
    /// Client messages refused with `rate_limited`.
    let rateLimited: CoreMetrics.Counter
    /// Connections dropped for missing heartbeats.
    let heartbeatTimeouts: CoreMetrics.Counter
    /// The largest gap so far between two successful liveness refreshes, in
    /// seconds; a node is presumed dead when it exceeds `--node-ttl`.
    let livenessRefreshGapMax: CoreMetrics.Gauge
    /// Bytes waiting in outbound buffers for clients, measured at scrape time.
    let outboundQueuedBytes: CoreMetrics.Gauge
    /// Events waiting in outbound buffers for clients, measured at scrape time.
    let outboundQueuedEvents: CoreMetrics.Gauge
    /// 1 while the Redis command connection is up, else 0 (cluster nodes only).
    let redisCommandsUp: CoreMetrics.Gauge
    /// 1 while the Redis subscriber connection is up and subscribed, else 0 (cluster nodes only).
    let redisSubscriberUp: CoreMetrics.Gauge

    /// Creates the metrics in a fresh registry.
    public init() {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        self.registry = registry
        connections = CoreMetrics.Meter(label: "chat_connections", factory: factory)
        joinedUsers = CoreMetrics.Meter(label: "chat_joined_users", factory: factory)
        messagesReceived = CoreMetrics.Counter(label: "chat_messages_received_total", factory: factory)
        eventsDelivered = CoreMetrics.Counter(label: "chat_events_delivered_total", factory: factory)
        busPublishes = CoreMetrics.Counter(label: "chat_bus_publishes_total", factory: factory)
        busFailures = CoreMetrics.Counter(label: "chat_bus_failures_total", factory: factory)
        slowConsumerDroppedEvents = CoreMetrics.Counter(label: "chat_slow_consumer_dropped_events_total", factory: factory)
        slowConsumerDisconnects = CoreMetrics.Counter(label: "chat_slow_consumer_disconnects_total", factory: factory)
        rateLimited = CoreMetrics.Counter(label: "chat_rate_limited_total", factory: factory)
        heartbeatTimeouts = CoreMetrics.Counter(label: "chat_heartbeat_timeouts_total", factory: factory)
        livenessRefreshGapMax = CoreMetrics.Gauge(label: "chat_liveness_refresh_gap_max_seconds", factory: factory)
        outboundQueuedBytes = CoreMetrics.Gauge(label: "chat_outbound_queued_bytes", factory: factory)
        outboundQueuedEvents = CoreMetrics.Gauge(label: "chat_outbound_queued_events", factory: factory)
        redisCommandsUp = CoreMetrics.Gauge(label: "chat_redis_connection_up", dimensions: [("connection", "commands")], factory: factory)
        redisSubscriberUp = CoreMetrics.Gauge(label: "chat_redis_connection_up", dimensions: [("connection", "subscriber")], factory: factory)
        // Meters appear in the output only once touched; start them at zero.
        connections.set(0)
        joinedUsers.set(0)
        for counter in [messagesReceived, eventsDelivered, busPublishes, busFailures, slowConsumerDroppedEvents, slowConsumerDisconnects, rateLimited, heartbeatTimeouts] {
            counter.increment(by: 0)
        }
    }

    /// The Prometheus text exposition of every metric, the process's own
    /// figures and `chat_build_info`.
    public func render() -> String {
        registry.emitToString() + ProcessMetrics.render() + Self.buildInfo
    }

    /// A constant 1 labelled with the build's version, by Prometheus convention.
    private static let buildInfo = """
        # HELP chat_build_info The version of chat-node that is running.
        # TYPE chat_build_info gauge
        chat_build_info{version="\(ChatNodeVersion.current)"} 1

        """
}
