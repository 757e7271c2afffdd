import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The listener the yardstick servers share: plain NIO, every connection
/// upgraded to a WebSocket speaking `subprotocol`, then handled by the
/// handler `makeHandler` returns for the connection's channel.
enum YardstickListener {
    /// Serves on `127.0.0.1:port` until the process ends.
    static func serve(
        group: MultiThreadedEventLoopGroup,
        port: Int,
        subprotocol: String,
        makeHandler: @escaping @Sendable (any Channel) -> any ChannelHandler
    ) throws {
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, _ in
                        channel.eventLoop.makeSucceededFuture(HTTPHeaders([("Sec-WebSocket-Protocol", subprotocol)]))
                    },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(makeHandler(channel))
                        }
                    }
                )
                return channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: "127.0.0.1", port: port)
            .wait()
        print("listening on http://127.0.0.1:\(port)")
        try server.closeFuture.wait()
    }
}
