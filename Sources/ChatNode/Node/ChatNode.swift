import Logging
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
    private let draining = Atomic<Bool>(false)
    private let connectionCounter = Atomic<UInt64>(0)

    init(configuration: NodeConfiguration, bus: any ChatBus, metrics: ChatMetrics, logger: Logger) {
        self.configuration = configuration
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

    /// Marks the node as shutting down: `/readyz` answers 503 from now on.
    func beginDraining() {
        draining.store(true, ordering: .relaxed)
    }

    /// A fresh id for a new connection.
    func nextConnectionID() -> UInt64 {
        connectionCounter.add(1, ordering: .relaxed).newValue
    }
}
