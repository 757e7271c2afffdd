import Logging
import NIOCore
import Synchronization

/// What every session and route of one node shares: its configuration,
/// its bus, its metrics and whether it is draining.
public final class ChatNode: Sendable {
    /// The node's settings.
    public let configuration: NodeConfiguration
    /// The node's metrics.
    public let metrics: ChatMetrics
    let bus: any ChatBus
    let originPolicy: OriginPolicy
    let messageIDs = MessageIDGenerator()
    let logger: Logger
    /// Checks login tokens; nil when the node needs none (no `--auth-key`).
    let login: LoginVerifier?
    /// The server API's bearer key; nil when the API is off (no `--api-key-file`).
    let apiKey: APIKey?
    /// The per-event-loop fan-out and connection registry.
    let deliveries: EventLoopDeliveries
    private let draining = Atomic<Bool>(false)
    private let serving = Atomic<Bool>(false)
    private let connectionCounter = Atomic<UInt64>(0)

    init(
        configuration: NodeConfiguration, bus: any ChatBus, deliveries: EventLoopDeliveries, metrics: ChatMetrics, logger: Logger,
        login: LoginVerifier? = nil, apiKey: APIKey? = nil
    ) {
        self.configuration = configuration
        self.login = login
        self.apiKey = apiKey
        self.deliveries = deliveries
        self.bus = bus
        self.metrics = metrics
        self.originPolicy = OriginPolicy(allowedOrigins: configuration.allowedOrigins)
        self.logger = logger
    }

    /// Whether the node can serve chat: the bus is connected and it is not shutting down.
    public func isReady() async -> Bool {
        guard !isDraining else { return false }
        return await bus.isAvailable
    }

    /// Whether a graceful shutdown has begun.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Marks the node as accepting connections, so its shutdown is worth a log line
    /// (a node that never listened, say for a port in use, fails with one line only).
    func beginServing() {
        serving.store(true, ordering: .relaxed)
    }

    /// Marks the node as shutting down: `/readyz` answers 503 from now on.
    func beginDraining() {
        draining.store(true, ordering: .relaxed)
    }

    /// Shuts the chat side down: refuses new sessions, releases every local
    /// user in one bus operation (others see them leave), then closes every
    /// WebSocket connection with 1001 so its client reconnects elsewhere.
    ///
    /// Releasing waits at most `drainBusTimeout`: an unreachable Redis must
    /// not hold up the shutdown (its records are then reaped as a dead node's).
    func drain() async {
        beginDraining()
        let wasServing = serving.load(ordering: .relaxed)
        if wasServing { logger.info("shutting down: releasing this node's users, then closing their connections with 1001") }
        let bus = self.bus
        _ = await awaitShutdownStep(within: configuration.drainBusTimeout) { await bus.drain() }
        deliveries.closeAll(.goingAway, reason: "node shutting down")
        // Wait for the closing handshakes (each connection gives up after `closeTimeout`):
        // a process that exits while a client's close reply lies unread makes the kernel
        // reset that connection, and the client can lose the close frame it was sent.
        let deadline = ContinuousClock.now + configuration.closeTimeout
        while ContinuousClock.now < deadline, await deliveries.openConnections() > 0 {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if wasServing { logger.info("every connection told to reconnect elsewhere") }
    }

    /// A fresh id for a new connection.
    func nextConnectionID() -> UInt64 {
        connectionCounter.add(1, ordering: .relaxed).newValue
    }
}
