import ChatProtocol
import NIOCore
import NIOWebSocket

/// A user joined on this node, as the bus sees it.
///
/// A class so that every room the user is in holds one reference to it
/// rather than a copy, and a user may be in 50 rooms.
final class LocalMember: Sendable {
    /// Unique among this node's connections.
    let connectionID: UInt64
    /// The member's canonical nick and key.
    let nick: Nick
    /// Where the member's events go.
    let outlet: ConnectionOutlet
    /// Who the member's login token proved it is when it joined (nil without
    /// `--auth-key`); its `sub` names the user. Room rights follow the session's
    /// current token, which a `refresh` may replace.
    let identity: UserIdentity?

    init(connectionID: UInt64, nick: Nick, outlet: ConnectionOutlet, identity: UserIdentity? = nil) {
        self.connectionID = connectionID
        self.nick = nick
        self.outlet = outlet
        self.identity = identity
    }

    /// The version and compression of the member's connection.
    var kind: RecipientKind { outlet.kind }
}

/// The write side of one client connection, usable from any thread.
/// Writing never waits: the connection's outbound buffer queues (boundedly)
/// and flushes once per event-loop tick.
///
/// A class: the session and its bus member share one, where copies would
/// cost about 150 bytes each per connection.
final class ConnectionOutlet: Sendable {
    let buffer: NIOLoopBound<OutboundBuffer>
    let transport: NIOLoopBound<WebSocketConnectionHandler>
    /// The delivery of the connection's event loop, which fan-out goes through.
    let delivery: NIOLoopBound<LoopDelivery>
    /// The version and compression the connection's handshake chose.
    let kind: RecipientKind
    /// The session's chat lines on their way back to it.
    let ownLines: NIOLoopBound<OwnLinesInFlight>
    /// What the bus tells the session about itself.
    let notices: NIOLoopBound<SessionNotices>

    init(
        buffer: NIOLoopBound<OutboundBuffer>, transport: NIOLoopBound<WebSocketConnectionHandler>, delivery: NIOLoopBound<LoopDelivery>,
        kind: RecipientKind, ownLines: NIOLoopBound<OwnLinesInFlight>, notices: NIOLoopBound<SessionNotices>
    ) {
        self.buffer = buffer
        self.transport = transport
        self.delivery = delivery
        self.kind = kind
        self.ownLines = ownLines
        self.notices = notices
    }

    /// The event loop the connection lives on.
    var eventLoop: any EventLoop { buffer.eventLoop }

    /// Queues a framed event for the client. Calls from one thread keep their order.
    func send(_ frame: ByteBuffer) {
        let buffer = self.buffer
        eventLoop.execute { buffer.value.enqueue(frame) }
    }

    /// Queues the event that `frame` makes on the connection's event loop, in
    /// the same order as `send(_:)`: for events too large to build elsewhere.
    func send(_ frame: @escaping @Sendable () -> ByteBuffer) {
        let buffer = self.buffer
        eventLoop.execute { buffer.value.enqueue(frame()) }
    }

    /// Queues the client's own copy of the line `id` it sent (or the error
    /// that stands for it), and tells its session the line is back.
    func sendOwnLine(_ frame: ByteBuffer, id: String) {
        let (buffer, ownLines) = (self.buffer, self.ownLines)
        eventLoop.execute {
            buffer.value.enqueue(frame)
            ownLines.value.cameBack(id)
        }
    }

    /// Tells the session it is no longer a member of `room` (after its `parted` was queued).
    func removedFromRoom(_ room: RoomName) {
        let notices = self.notices
        eventLoop.execute { notices.value.session?.removedFromRoom(room) }
    }

    /// Sends a close frame with `code`, then closes.
    func close(_ code: WebSocketErrorCode, reason: String) {
        let transport = self.transport
        eventLoop.execute { transport.value.close(code: code, reason: reason) }
    }
}
