import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import Redis
import ServiceLifecycle

/// Why a node could not start; `message` is the one line `chat-node` prints.
public struct NodeStartupError: Error, CustomStringConvertible {
    /// What went wrong, in words an operator can act on.
    public let message: String

    public var description: String { message }
}

/// A node ready to run: its services, in start order.
public struct ChatNodeServer: Sendable {
    /// The node's shared state.
    public let node: ChatNode
    /// Everything to run in one `ServiceGroup`, in this order: the node's own
    /// event loops (with `--event-loops`), the bus, the HTTP server, then the
    /// drain signal (shut down in reverse).
    public let services: [any Service]

    /// Builds a node from its configuration. `onListening` receives the bound
    /// host and port once the server accepts connections.
    public init(
        configuration: NodeConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
    ) async throws(NodeStartupError) {
        let metrics = ChatMetrics()
        var login: LoginVerifier?
        if let keys = configuration.authKey {
            do {
                login = try await LoginVerifier.load(keys: keys, audience: configuration.authAudience, issuer: configuration.authIssuer)
            } catch {
                throw NodeStartupError(message: error.message)
            }
        }
        let apiKey = try configuration.apiKeyFile.map(APIKey.load)
        let loops = NodeEventLoops(count: configuration.eventLoops)
        let bus: any ChatBus
        let deliveries: EventLoopDeliveries
        do throws(NodeStartupError) {
            bus = try await Self.makeBus(configuration: configuration, metrics: metrics, logger: logger, loops: loops)
            do {
                deliveries = try await EventLoopDeliveries.make(for: loops.group, pingInterval: TimeAmount(configuration.pingInterval))
            } catch {
                throw NodeStartupError(message: "cannot prepare the event loops: \(error)")
            }
        } catch {
            await loops.shutDownIfOwned()
            throw error
        }
        let node = ChatNode(
            configuration: configuration, bus: bus, deliveries: deliveries, metrics: metrics, logger: logger, login: login, apiKey: apiKey
        )
        let app = Application(
            router: NodeRoutes.router(for: node),
            server: HTTPServerBuilder { responder in ChatServerChannel(responder: responder, node: node) },
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: nil,
                backlog: configuration.listenBacklog
            ),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                node.beginServing()
                await onListening(configuration.host, port)
            },
            eventLoopGroupProvider: .shared(loops.group),
            logger: logger
        )
        self.node = node
        self.services = [loops.service].compactMap { $0 } + [BusService(bus: bus), app, DrainSignal(node: node)]
    }

    /// The Redis bus for `--redis` (on the clients' loop when the node has
    /// only one), else the in-process bus.
    private static func makeBus(
        configuration: NodeConfiguration, metrics: ChatMetrics, logger: Logger, loops: NodeEventLoops
    ) async throws(NodeStartupError) -> any ChatBus {
        guard let text = configuration.redisURL else {
            return InProcessBus(configuration: configuration, metrics: metrics, loop: loops.group.any())
        }
        var url: RedisURL
        do {
            url = try RedisURL(parsing: text)
        } catch {
            throw NodeStartupError(message: "--redis: \(error.message)")
        }
        url.certificateAuthorityFile = configuration.redisCertificateAuthorityFile
        return try await RedisBus.start(configuration: configuration, url: url, metrics: metrics, logger: logger, sharedLoop: loops.sharedBusLoop)
    }
}
