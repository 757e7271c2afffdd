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
        /// The connection now runs on its event loop, in its handlers.
        case webSocket
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
            let isCompressed = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let upgrader = WebSocketHandshake<Connection>(
                shouldUpgrade: { channel, head in
                    let decided = decide(head)
                    decision.value = decided
                    guard case .upgrade(let version) = decided else {
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    var headers = HTTPHeaders([("Sec-WebSocket-Protocol", version.subprotocol)])
                    if node.configuration.compression,
                        let extensions = PermessageDeflate.negotiate(offers: head.headers[canonicalForm: "Sec-WebSocket-Extensions"].map(String.init))
                    {
                        headers.add(name: "Sec-WebSocket-Extensions", value: extensions)
                        isCompressed.value = true
                    }
                    return channel.eventLoop.makeSucceededFuture(headers)
                },
                upgradePipeline: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard case .upgrade(let version) = decision.value else { throw ChannelError.inappropriateOperationForState }
                        try addChatHandlers(to: channel, version: version, isCompressed: isCompressed.value)
                        return .webSocket
                    }
                }
            )
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration<Connection>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: node.configuration.httpIdleTimeout, logger: logger))
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
            // Each connection keeps its receive buffer for good (NIO reuses it,
            // never shrinks it), so it starts at 256 bytes: enough for a small
            // client's handshake and every message after it. A read that fills
            // it doubles it (a browser's handshake of 400–600 bytes: once).
            try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65_536))
            try channel.pipeline.syncOperations.addHandler(RequestHeadDeadline(timeout: TimeAmount(node.configuration.requestHeadTimeout)))
            var pipelineConfiguration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgradeConfiguration)
            pipelineConfiguration.enablePipelining = false
            // Bytes that are not HTTP get 400 and the connection is closed (NIO's protocol error handler).
            pipelineConfiguration.enableErrorHandling = true
            pipelineConfiguration.enableResponseHeaderValidation = false
            let connection = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipelineConfiguration)
            try channel.pipeline.syncOperations.addHandler(MalformedRequestCloser())
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
            case .webSocket:
                // The session lives in the channel's handlers; no task waits for it.
                break
            }
        } catch {
            logger.debug("connection ended with an error", metadata: ["error": "\(error)"])
            try? await value.channel.close()
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

    /// Turns an upgraded channel into a chat connection: the outbound buffer
    /// next to the head, then the transport (frames and their rules), which
    /// holds the session. Nothing else stays: every handler costs each connection.
    private func addChatHandlers(to channel: any Channel, version: ProtocolVersion, isCompressed: Bool) throws {
        let configuration = node.configuration
        let operations = channel.pipeline.syncOperations
        // Past the handshake there are no HTTP parse errors to close on.
        try operations.removeHandler(context: operations.context(handlerType: MalformedRequestCloser.self), promise: nil)
        try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(configuration.socketSendBufferBytes))
        let delivery = node.deliveries.delivery(on: channel.eventLoop)
        let connectionID = node.nextConnectionID()
        let kind = RecipientKind(version: version, isCompressed: isCompressed)
        let buffer = OutboundBuffer(
            connectionID: connectionID,
            kind: kind,
            maximumQueuedBytes: configuration.maximumQueuedBytes,
            delivery: delivery.value,
            metrics: node.metrics
        )
        let transport = WebSocketConnectionHandler(
            settings: .init(
                maximumMessageBytes: configuration.maximumMessageBytes,
                pingInterval: TimeAmount(configuration.pingInterval),
                closeTimeout: TimeAmount(configuration.closeTimeout),
                inflater: isCompressed ? delivery.value.inflater : nil
            ),
            delivery: delivery.value
        )
        let outlet = ConnectionOutlet(
            buffer: NIOLoopBound(buffer, eventLoop: channel.eventLoop),
            transport: NIOLoopBound(transport, eventLoop: channel.eventLoop),
            delivery: delivery,
            kind: kind,
            ownLines: NIOLoopBound(OwnLinesInFlight(), eventLoop: channel.eventLoop),
            notices: NIOLoopBound(SessionNotices(), eventLoop: channel.eventLoop)
        )
        try operations.addHandler(buffer, position: .first)
        try operations.addHandler(transport)
        ChatSession(node: node, connectionID: connectionID, version: version, outlet: outlet).start()
    }

    private func decide(_ head: HTTPRequestHead) -> HandshakeDecision {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard path == "/chat" else { return .refuse(status: 404, reason: "not found\n") }
        guard !node.isDraining else { return .refuse(status: 503, reason: "node shutting down; connect to another node\n") }
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
