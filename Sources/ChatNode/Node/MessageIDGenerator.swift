import Synchronization

/// Makes message ids that are unique across the cluster without coordination:
/// a random per-process prefix and a counter.
final class MessageIDGenerator: Sendable {
    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    init() {
        // 64 random bits: two processes collide with negligible probability.
        prefix = String(UInt64.random(in: .min ... .max), radix: 36)
    }

    /// The next id, e.g. `3k9x0c2m1q7a-1f`.
    func next() -> String {
        let value = counter.add(1, ordering: .relaxed).newValue
        return "\(prefix)-\(String(value, radix: 36))"
    }
}
