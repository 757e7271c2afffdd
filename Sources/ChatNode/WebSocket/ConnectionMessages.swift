/// What a connection's transport handler passes up to its session.
enum ConnectionEvent: Sendable {
    /// One complete text message, defragmented and valid UTF-8.
    case message([UInt8])
    /// Nothing arrived for two ping intervals; the connection is being dropped.
    case heartbeatTimedOut
}
