import NIOCore
import NIOEmbedded

@testable import ChatNode

/// One chat connection's handlers and outlet on an embedded loop, made as
/// `ChatServerChannel` makes them, for tests that drive handlers without a socket.
struct EmbeddedConnection {
    let buffer: OutboundBuffer
    let transport: WebSocketConnectionHandler
    let outlet: ConnectionOutlet

    init(id: UInt64 = 1, loop: EmbeddedEventLoop, delivery: LoopDelivery, metrics: ChatMetrics = ChatMetrics()) {
        let kind = RecipientKind(version: .v2, isCompressed: false)
        buffer = OutboundBuffer(connectionID: id, kind: kind, maximumQueuedBytes: 1 << 20, delivery: delivery, metrics: metrics)
        transport = WebSocketConnectionHandler(
            settings: .init(maximumMessageBytes: 16384, pingInterval: .seconds(30), closeTimeout: .seconds(2), inflater: nil),
            delivery: delivery
        )
        outlet = ConnectionOutlet(
            buffer: NIOLoopBound(buffer, eventLoop: loop),
            transport: NIOLoopBound(transport, eventLoop: loop),
            delivery: NIOLoopBound(delivery, eventLoop: loop),
            kind: kind,
            ownLines: NIOLoopBound(OwnLinesInFlight(), eventLoop: loop),
            notices: NIOLoopBound(SessionNotices(), eventLoop: loop)
        )
    }
}
