/// Fans connection-state changes out to any number of observers.
///
/// Owned by the actor whose connection it describes.
struct RedisConnectionObservers {
    private var continuations: [Int: AsyncStream<Bool>.Continuation] = [:]
    private var nextID = 0

    /// A stream that yields the current state, then every change.
    mutating func makeStream(current: Bool, onTermination: @escaping @Sendable (Int) -> Void) -> AsyncStream<Bool> {
        let id = nextID
        nextID += 1
        let (stream, continuation) = AsyncStream.makeStream(of: Bool.self, bufferingPolicy: .bufferingNewest(1))
        continuation.yield(current)
        continuation.onTermination = { _ in onTermination(id) }
        continuations[id] = continuation
        return stream
    }

    mutating func remove(_ id: Int) {
        continuations[id] = nil
    }

    func publish(_ connected: Bool) {
        for continuation in continuations.values { continuation.yield(connected) }
    }

    mutating func finishAll() {
        for continuation in continuations.values { continuation.finish() }
        continuations = [:]
    }
}
