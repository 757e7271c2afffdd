import NIOCore

/// Where a node's subscriptions live: one subscriber connection
/// (`RedisSubscriber`), or one per master of a Redis Cluster with sharded
/// pub/sub (`RedisClusterSubscriber`). Either way subscriptions are renewed
/// after every reconnection and messages reach one handler on the event loop.
public protocol RedisSubscription: Actor {
    /// The URL the subscription was made for.
    nonisolated var url: RedisURL { get }
    /// Makes the first connection; throws when Redis is unreachable or refuses.
    func connect() async throws(RedisError)
    /// Keeps the connection(s) up until shut down or cancelled.
    func run() async
    /// Closes everything and stops reconnecting.
    func shutdown() async
    /// Whether every subscribed channel is being received now, and at every change.
    func connectionStates() -> AsyncStream<Bool>
    /// Hands every message to `handler`, on the event loop, from now on.
    func deliverMessages(to handler: @escaping @Sendable (RedisPubSubMessage) -> Void)
    /// Subscribes to channels; returns once Redis confirmed them (at once while disconnected).
    func subscribe(_ names: [String]) async throws(RedisError)
    /// `subscribe` for a caller on the event loop that must not await.
    nonisolated func subscribeFromEventLoop(_ names: [String]) -> EventLoopFuture<Void>
    /// Unsubscribes from channels, for a caller on the event loop.
    nonisolated func unsubscribeFromEventLoop(_ names: [String])
    /// Behind Sentinel: drops a connection that does not go to `address`, the master now.
    func reconnect(unlessConnectedTo address: RedisServerAddress)
    /// On a Redis Cluster: calls `observer` when one shard's subscriptions
    /// are cut or subscribed again while others go on (`connectionStates` stays up meanwhile).
    func onShardChange(_ observer: @escaping @Sendable (ShardChange) -> Void)
    /// On a Redis Cluster: calls `observer`, on the event loop and before any
    /// message that follows the change, when single channels are cut or
    /// confirmed subscribed again.
    func onChannelChange(_ observer: @escaping @Sendable (ChannelChange) -> Void)
}

extension RedisSubscription {
    /// One Redis server has no shards: its outages are `connectionStates`'.
    public func onShardChange(_ observer: @escaping @Sendable (ShardChange) -> Void) {}

    /// One Redis server cuts all channels at once: its outages are `connectionStates`'.
    public func onChannelChange(_ observer: @escaping @Sendable (ChannelChange) -> Void) {}
}

extension RedisSubscriber: RedisSubscription {}
