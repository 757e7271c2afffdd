import NIOCore

extension EventLoopFuture where Value: Sendable {
    /// Waits for the value. A failure is thrown as the `RedisError` it is, or,
    /// for the channel's own errors, as `.notConnected` with a sentence.
    func redisValue() async throws(RedisError) -> Value {
        do {
            return try await get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw .notConnected("Redis connection failed: \(NetworkFailure.sentence(for: error))")
        }
    }
}
