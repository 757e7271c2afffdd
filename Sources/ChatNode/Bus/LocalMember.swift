import ChatProtocol
import NIOCore
import NIOWebSocket

/// A user joined on this node, as the bus sees it.
struct LocalMember: Sendable {
    /// Unique among this node's connections.
    let connectionID: UInt64
    /// The member's canonical nick and key.
    let nick: Nick
    /// Where the member's events go.
    let outlet: ConnectionOutlet
}

/// The write side of one client connection. Writing never waits: the
/// connection's handler queues (boundedly) and flushes.
struct ConnectionOutlet: Sendable {
    let channel: any Channel

    /// Queues an encoded event for the client.
    func send(_ buffer: ByteBuffer) {
        channel.write(OutboundItem.event(buffer), promise: nil)
    }

    /// Sends a close frame with `code`, then closes.
    func close(_ code: WebSocketErrorCode, reason: String) {
        channel.write(OutboundItem.close(code, reason: reason), promise: nil)
    }

    /// The event loop the connection lives on; fan-out batches per loop.
    var eventLoop: any EventLoop { channel.eventLoop }
}
