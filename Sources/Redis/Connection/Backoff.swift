/// Capped exponential backoff with jitter between reconnection attempts.
public struct Backoff: Sendable {
    /// Delay before the first retry.
    public var initial: Duration
    /// The longest delay between two attempts.
    public var maximum: Duration
    private var attempt = 0

    /// Creates a backoff; the defaults retry quickly and never wait over a second.
    public init(initial: Duration = .milliseconds(50), maximum: Duration = .seconds(1)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay to wait now; each call doubles the next one up to `maximum`.
    public mutating func nextDelay() -> Duration {
        let factor = 1 << min(attempt, 20)
        attempt += 1
        let delay = min(initial * factor, maximum)
        // Up to 25% jitter, so nodes that lost Redis together do not return in lockstep.
        let jitter = Double.random(in: 0.75...1.0)
        return delay * jitter
    }

    /// Starts over after a successful connection.
    public mutating func reset() {
        attempt = 0
    }
}
