import ChatProtocol
import CoreMetrics
import Prometheus

/// The node's metrics, recorded through swift-metrics into the node's own
/// Prometheus registry, which `/metrics` renders.
///
/// Each node has its own registry rather than the process-wide
/// `MetricsSystem`, so several nodes can run in one test process. A class:
/// every connection's outbound buffer refers to it, and a copy of its
/// instruments is a few hundred bytes.
public final class ChatMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry

    /// Open WebSocket connections on this node.
    let connections: CoreMetrics.Meter
    /// Users joined on this node.
    let joinedUsers: CoreMetrics.Meter
    /// Users joined on this node, by the protocol version they speak (in `ProtocolVersion.allCases` order).
    private let joinedUsersByVersion: [CoreMetrics.Meter]
    /// How many users each shared v2 `presence` event named.
    let presenceBatchSize: ValueHistogram
    /// Client messages received (every text message, valid or not).
    let messagesReceived: CoreMetrics.Counter
    /// Events written to local clients (one per recipient).
    let eventsDelivered: CoreMetrics.Counter
    /// Messages published to the bus.
    let busPublishes: CoreMetrics.Counter
    /// Cluster events this node received from Redis: a node receives only its rooms' traffic.
    let busEventsReceived: CoreMetrics.Counter
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
    /// `hello`s refused with `unauthorized` (§7): their connections were closed.
    let loginsRefused: CoreMetrics.Counter
    /// Connections closed because their login token expired without a `refresh` (§7).
    let loginsExpired: CoreMetrics.Counter
    /// The largest gap so far between two successful liveness refreshes while
    /// Redis was reachable, in seconds; a node is presumed dead when it exceeds `--node-ttl`.
    let livenessRefreshGapMax: CoreMetrics.Gauge
    /// From a chat line's arrival at this node to its write to a local
    /// recipient's socket; one recipient sampled per event loop and tick.
    let deliveryLatency: DurationHistogram
    /// Round trips of the node's Redis command batches (every 8th is timed).
    let redisRoundTrip: DurationHistogram
    /// Bytes waiting in outbound buffers for clients, measured at scrape time.
    let outboundQueuedBytes: CoreMetrics.Gauge
    /// Events waiting in outbound buffers for clients, measured at scrape time.
    let outboundQueuedEvents: CoreMetrics.Gauge
    /// 1 while the Redis command connection is up, else 0 (cluster nodes only).
    let redisCommandsUp: CoreMetrics.Gauge
    /// 1 while the Redis subscriber connection is up and subscribed, else 0 (cluster nodes only).
    let redisSubscriberUp: CoreMetrics.Gauge
    /// Failovers announced by Sentinel (`+switch-master`) that this node followed.
    let redisFailovers: CoreMetrics.Counter
    /// Times this node claimed its users again and reconciled its view with
    /// Redis: after each outage, or after it was found reaped as dead.
    let redisResynchronisations: CoreMetrics.Counter
    /// Commands Redis answered with an error (out of memory, an ACL refusal…);
    /// each reached a client as `unavailable`.
    let redisRefusedCommands: CoreMetrics.Counter

    /// Creates the metrics in a fresh registry, each with its `# HELP` text.
    public init() {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        func counter(_ name: String, _ help: String) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: name, dimensions: [], handler: registry.makeCounter(name: name, help: help), factory: factory)
        }
        func meter(_ name: String, _ help: String) -> CoreMetrics.Meter {
            CoreMetrics.Meter(label: name, dimensions: [], handler: registry.makeGauge(name: name, help: help), factory: factory)
        }
        func gauge(_ name: String, _ help: String, labels: [(String, String)] = []) -> CoreMetrics.Gauge {
            let handler = labels.isEmpty
                ? registry.makeGauge(name: name, help: help) : registry.makeGauge(name: name, labels: labels, help: help)
            return CoreMetrics.Gauge(label: name, dimensions: labels, aggregate: false, handler: handler, factory: factory)
        }
        self.registry = registry
        connections = meter("chat_connections", "Open WebSocket connections on this node.")
        joinedUsers = meter("chat_joined_users", "Users joined on this node.")
        joinedUsersByVersion = ProtocolVersion.allCases.map { version in
            let name = "chat_joined_users_by_version"
            let labels = [("version", version.subprotocol)]
            return CoreMetrics.Meter(
                label: name, dimensions: labels,
                handler: registry.makeGauge(name: name, labels: labels, help: "Users joined on this node, by protocol version."),
                factory: factory
            )
        }
        presenceBatchSize = registry.makeValueHistogram(
            name: "chat_presence_batch_size",
            buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
            help: "Users named by each presence event sent to this node's v2 clients."
        )
        messagesReceived = counter("chat_messages_received_total", "Client messages received, valid or not.")
        eventsDelivered = counter("chat_events_delivered_total", "Events written to local clients, one per recipient.")
        busPublishes = counter("chat_bus_publishes_total", "Messages published to the bus.")
        busEventsReceived = counter(
            "chat_bus_events_received_total", "Cluster events received from Redis: only the rooms this node has members in, and its direct messages."
        )
        busFailures = counter("chat_bus_failures_total", "Bus operations that failed and were answered unavailable.")
        slowConsumerDroppedEvents = counter(
            "chat_slow_consumer_dropped_events_total", "Events dropped because a client did not read fast enough."
        )
        slowConsumerDisconnects = counter(
            "chat_slow_consumer_disconnects_total", "Connections closed with 1008 because they did not read fast enough."
        )
        rateLimited = counter("chat_rate_limited_total", "Client messages refused with rate_limited.")
        heartbeatTimeouts = counter("chat_heartbeat_timeouts_total", "Connections dropped for missing heartbeats.")
        loginsRefused = counter("chat_logins_refused_total", "Hellos refused with unauthorized; their connections were closed with 1008.")
        loginsExpired = counter("chat_logins_expired_total", "Connections closed with 1008 because their login token expired without a refresh.")
        livenessRefreshGapMax = gauge(
            "chat_liveness_refresh_gap_max_seconds", "Largest gap between two refreshes of this node's liveness key while Redis was reachable."
        )
        let latencyBuckets: [Duration] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5].map {
            .nanoseconds(Int64($0 * 1e9))
        }
        deliveryLatency = registry.makeDurationHistogram(
            name: "chat_delivery_latency_seconds",
            buckets: latencyBuckets,
            help: "Time from a chat line's arrival at this node to its write to a local recipient's socket (sampled)."
        )
        redisRoundTrip = registry.makeDurationHistogram(
            name: "chat_redis_round_trip_seconds",
            buckets: latencyBuckets,
            help: "Round trip of the node's Redis command batches (one in eight timed)."
        )
        outboundQueuedBytes = gauge("chat_outbound_queued_bytes", "Bytes waiting in outbound buffers for clients.")
        outboundQueuedEvents = gauge("chat_outbound_queued_events", "Events waiting in outbound buffers for clients.")
        let redisHelp = "1 while the node's Redis connection is up, else 0."
        redisCommandsUp = gauge("chat_redis_connection_up", redisHelp, labels: [("connection", "commands")])
        redisSubscriberUp = gauge("chat_redis_connection_up", redisHelp, labels: [("connection", "subscriber")])
        redisFailovers = counter("chat_redis_failovers_total", "Redis master failovers announced by Sentinel that this node followed.")
        redisResynchronisations = counter(
            "chat_redis_resynchronisations_total", "Times this node claimed its users again and reconciled with Redis (after an outage)."
        )
        redisRefusedCommands = counter(
            "chat_redis_refused_commands_total", "Commands Redis answered with an error (out of memory, an ACL refusal); clients got unavailable."
        )
        // Meters appear in the output only once touched; start them at zero.
        connections.set(0)
        joinedUsers.set(0)
        for meter in joinedUsersByVersion { meter.set(0) }
        for counter in [
            messagesReceived, eventsDelivered, busPublishes, busEventsReceived, busFailures, slowConsumerDroppedEvents, slowConsumerDisconnects, rateLimited,
            heartbeatTimeouts, redisFailovers, redisResynchronisations, redisRefusedCommands,
        ] {
            counter.increment(by: 0)
        }
    }

    /// Counts a user who joined on this node.
    func userJoined(speaking version: ProtocolVersion) {
        joinedUsers.increment()
        joinedUsersByVersion[version.metricsIndex].increment()
    }

    /// Counts a user who left this node.
    func userLeft(speaking version: ProtocolVersion) {
        joinedUsers.decrement()
        joinedUsersByVersion[version.metricsIndex].decrement()
    }

    /// Counts that every user of this node left at once (it is draining).
    func allUsersLeft() {
        joinedUsers.set(0)
        for meter in joinedUsersByVersion { meter.set(0) }
    }

    /// The Prometheus text exposition of every metric, the process's own
    /// figures and `chat_build_info`.
    public func render() -> String {
        registry.emitToString() + ProcessMetrics.render() + Self.buildInfo
    }

    /// A constant 1 labelled with the build's version and commit, by Prometheus convention.
    private static let buildInfo = """
        # HELP chat_build_info The version of chat-node that is running.
        # TYPE chat_build_info gauge
        chat_build_info{version="\(ChatNodeVersion.current)",commit="\(ChatNodeVersion.commit ?? "unknown")"} 1

        """
}

extension ProtocolVersion {
    fileprivate var metricsIndex: Int { Self.allCases.firstIndex(of: self)! }
}
