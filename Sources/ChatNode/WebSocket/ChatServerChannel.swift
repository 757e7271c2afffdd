import ChatProtocol
import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// The node's connection setup: HTTP/1.1 for the routes, upgraded to a chat
/// WebSocket on `/chat` when the handshake passes the Origin check and names
/// a supported subprotocol.
///
/// A handshake that fails those checks is answered with 403 or 400 and a
/// `text/plain` reason, then closed. (NIO has consumed the request head by
/// then, so it cannot continue to the router.)
struct ChatServerChannel: ServerChildChannel, HTTPChannelHandler {
    enum Connection: Sendable {
        case webSocket(NIOAsyncChannel<ConnectionEvent, OutboundItem>, ProtocolVersion)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refusedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, status: Int, reason: String)
    }

    struct Value: ServerChildChannelValue {
        let connection: EventLoopFuture<Connection>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let node: ChatNode

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // The handshake is decided once, in `shouldUpgrade`; the pipeline
            // handlers that run next read the decision from here.
            let decision = NIOLoopBoundBox<HandshakeDecision?>(nil, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<Connection>(
                maxFrameSize: node.configuration.maximumMessageBytes,
                enableAutomaticErrorHandling: false,
                shouldUpgrade: { channel, head in
                    let decided = decide(head)
                    decision.value = decided
                    guard case .upgrade(let version) = decided else {
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    return channel.eventLoop.makeSucceededFuture(HTTPHeaders([("Sec-WebSocket-Protocol", version.subprotocol)]))
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard case .upgrade(let version) = decision.value else { throw ChannelError.inappropriateOperationForState }
                        try channel.syncOptions?.setOption(
                            .socketOption(.so_sndbuf),
                            value: SocketOptionValue(node.configuration.socketSendBufferBytes)
                        )
                        try channel.pipeline.syncOperations.addHandler(
                            WebSocketConnectionHandler(settings: connectionSettings, metrics: node.metrics)
                        )
                        let webSocket = try NIOAsyncChannel<ConnectionEvent, OutboundItem>(wrappingChannelSynchronously: channel)
                        return .webSocket(webSocket, version)
                    }
                }
            )
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration<Connection>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: .seconds(60), logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        if case .refuse(let status, let reason) = decision.value {
                            return .refusedUpgrade(http, status: status, reason: reason)
                        }
                        return .http(http)
                    }
                }
            )
            var pipelineConfiguration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgradeConfiguration)
            pipelineConfiguration.enablePipelining = false
            pipelineConfiguration.enableErrorHandling = false
            pipelineConfiguration.enableResponseHeaderValidation = false
            let connection = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipelineConfiguration)
            return Value(connection: connection, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.connection.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refusedUpgrade(let http, let status, let reason):
                try await refuse(http, status: status, reason: reason)
            case .webSocket(let webSocket, let version):
                try await webSocket.executeThenClose { inbound, _ in
                    let session = ChatSession(node: node, channel: webSocket.channel, version: version)
                    await session.run(inbound: inbound)
                }
            }
        } catch {
            logger.debug("connection ended with an error", metadata: ["error": "\(error)"])
        }
    }

    private func refuse(_ http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, status: Int, reason: String) async throws {
        try await http.executeThenClose { _, outbound in
            let body = ByteBuffer(string: reason)
            let head = HTTPResponse(
                status: HTTPResponse.Status(code: status),
                headerFields: [
                    .contentType: "text/plain; charset=utf-8",
                    .contentLength: String(body.readableBytes),
                    .connection: "close",
                ]
            )
            try await outbound.write(contentsOf: [.head(head), .body(body), .end(nil)])
        }
    }

    private var connectionSettings: WebSocketConnectionHandler.Settings {
        let configuration = node.configuration
        return WebSocketConnectionHandler.Settings(
            maximumMessageBytes: configuration.maximumMessageBytes,
            maximumQueuedEvents: configuration.maximumQueuedEvents,
            maximumQueuedBytes: configuration.maximumQueuedBytes,
            pingInterval: TimeAmount(configuration.pingInterval),
            helloTimeout: TimeAmount(configuration.helloTimeout),
            closeTimeout: TimeAmount(configuration.closeTimeout)
        )
    }

    private func decide(_ head: HTTPRequestHead) -> HandshakeDecision {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard path == "/chat" else { return .refuse(status: 404, reason: "not found\n") }
        return HandshakeDecision.decide(
            origin: head.headers.first(name: "Origin"),
            host: head.headers.first(name: "Host"),
            offeredSubprotocols: head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map(String.init),
            originPolicy: node.originPolicy
        )
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
