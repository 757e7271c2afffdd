import NIOCore

/// Where a node's commands go: one Redis server (`RedisConnection`, also
/// behind Sentinel) or a Redis Cluster (`RedisClusterClient`). Either way
/// commands are pipelined, replies come back in order, and error replies
/// are returned, not thrown.
public protocol RedisCommandTransport: Actor {
    /// The URL the transport was made for.
    nonisolated var url: RedisURL { get }
    /// The event loop the transport runs on.
    nonisolated var eventLoop: any EventLoop { get }
    /// Makes the first connection(s); throws when Redis is unreachable or refuses.
    func connect() async throws(RedisError)
    /// Keeps the connection(s) up until shut down or cancelled.
    func run() async
    /// Closes everything and stops reconnecting.
    func shutdown() async
    /// Whether commands can go out now, and at every change.
    func connectionStates() -> AsyncStream<Bool>
    /// Sends commands back to back and returns their replies in order.
    func sendBatch(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisReply]
    /// `sendBatch` without a task, for callers on the transport's event loop.
    nonisolated func sendBatchFromEventLoop(_ commands: [RedisCommand]) -> EventLoopFuture<[RedisReply]>
    /// Behind Sentinel: drops a connection that does not go to `address`, the master now.
    func reconnect(unlessConnectedTo address: RedisServerAddress)
    /// On a Redis Cluster: calls `observer` when one shard is lost or
    /// recovered while others serve (`connectionStates` stays up meanwhile).
    func onShardChange(_ observer: @escaping @Sendable (ShardChange) -> Void)
}

extension RedisCommandTransport {
    /// One Redis server has no shards: its outages are `connectionStates`'.
    public func onShardChange(_ observer: @escaping @Sendable (ShardChange) -> Void) {}
}

extension RedisConnection: RedisCommandTransport {}
