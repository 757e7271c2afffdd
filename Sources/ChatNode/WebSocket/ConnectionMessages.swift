import NIOCore
import NIOWebSocket

/// What a connection's handler passes up to its session.
enum ConnectionEvent: Sendable {
    /// One complete text message, defragmented and valid UTF-8.
    case message([UInt8])
    /// Nothing arrived for two ping intervals; the connection is being dropped.
    case heartbeatTimedOut
}

/// What the node writes to a connection.
enum OutboundItem: Sendable {
    /// An encoded server event. The same buffer is shared by every recipient.
    case event(ByteBuffer)
    /// Send a close frame, then close the connection.
    case close(WebSocketErrorCode, reason: String)
}

/// Tells a connection's handler that its session joined, which ends the hello timeout.
struct SessionJoinedEvent: Sendable {}
