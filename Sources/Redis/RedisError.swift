/// Why a Redis operation failed, with what an operator needs to act on it.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds of failure; a struct wrapper so cases can be added later.
    public enum Code: Sendable, Equatable {
        /// The TCP connection could not be made.
        case connectionFailed
        /// The connection dropped while the command was in flight, or is down.
        case notConnected
        /// Redis sent bytes that are not RESP.
        case protocolError
        /// Redis answered with an error reply (`-ERR ...`).
        case errorReply
        /// The `redis://` URL is malformed.
        case invalidURL
        /// The client was shut down.
        case shutDown
    }

    /// The kind of failure.
    public let code: Code
    /// Details: the address, Redis's error text, or the URL problem.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func protocolError(_ detail: String) -> RedisError {
        RedisError(.protocolError, "Redis protocol error: \(detail)")
    }

    static func notConnected(_ detail: String = "not connected to Redis") -> RedisError {
        RedisError(.notConnected, detail)
    }
}
