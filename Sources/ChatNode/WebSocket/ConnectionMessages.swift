/// What a connection's transport handler passes up to its session.
enum ConnectionEvent: Sendable {
    /// One complete text message, defragmented and valid UTF-8.
    case message([UInt8])
    /// Nothing arrived for two ping intervals; the connection is being dropped.
    case heartbeatTimedOut
}

/// The session above a connection's transport, which holds it until the
/// connection ends and tells it everything on the connection's event loop.
protocol ConnectionEventReceiver: AnyObject {
    /// A message arrived, or the heartbeat gave up on the peer.
    func receive(_ event: ConnectionEvent)
    /// NIO asks to read from the socket: whether to read now. A receiver
    /// that says no calls the transport's `resumeReading()` once it may.
    func readRequested() -> Bool
    /// The connection closed, or its transport left the pipeline.
    func connectionEnded()
}
