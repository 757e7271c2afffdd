/// A token bucket: `burst` messages at once, refilled at `rate` per second.
struct RateLimiter {
    private let rate: Double
    private let burst: Double
    private var tokens: Double
    private var lastRefill: ContinuousClock.Instant

    /// A `rate` of zero turns the limit off.
    init(rate: Double, burst: Int, now: ContinuousClock.Instant) {
        self.rate = rate
        self.burst = Double(burst)
        self.tokens = Double(burst)
        self.lastRefill = now
    }

    /// Takes one token if there is one.
    mutating func take(now: ContinuousClock.Instant) -> Bool {
        guard rate > 0 else { return true }
        let elapsed = now - lastRefill
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(burst, tokens + seconds * rate)
        lastRefill = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
