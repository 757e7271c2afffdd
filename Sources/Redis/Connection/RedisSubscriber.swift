import Logging
import NIOCore
import NIOPosix

/// A pub/sub connection to Redis that yields messages as an `AsyncSequence`
/// and re-subscribes by itself after every reconnection.
///
/// One subscriber serves a whole node: it subscribes to the node's channels
/// once and the node fans messages out locally. `messages` is bounded: when
/// its consumer falls behind, the subscriber stops reading from the socket.
public actor RedisSubscriber: ReconnectingConnection {
    static let name = "Redis subscriber connection"
    /// The messages of every subscribed channel and pattern, in arrival order.
    /// It has a single consumer.
    public typealias Messages = NIOAsyncSequenceProducer<
        RedisPubSubMessage, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, ReadingDelegate
    >

    /// Where this subscriber connects.
    public nonisolated let url: RedisURL
    /// Sharded pub/sub (`SSUBSCRIBE`, Redis 7): the channels live on this
    /// node of a Redis Cluster, the master of their slot.
    public nonisolated let isSharded: Bool
    /// Called (on the event loop) with a channel the server dropped while
    /// still subscribed: in sharded pub/sub, its slot moved to another node.
    private var onDropped: (@Sendable (String) -> Void)?
    /// Called (on the event loop) with each channel Redis confirms
    /// subscribed, on every connection: messages published from then on arrive.
    private var onConfirmed: (@Sendable (String) -> Void)?
    /// Every message received, across reconnections.
    public nonisolated let messages: Messages
    /// The event loop the connection and this actor run on.
    public nonisolated let eventLoop: any EventLoop
    let logger: Logger
    private let source: Messages.Source
    private(set) var channel: (any Channel)?
    private var channels: Set<String> = []
    private var patterns: Set<String> = []
    /// Callers of `subscribe` waiting for Redis to confirm every name they asked
    /// for; told the refusal when Redis refuses, nil otherwise.
    private var confirmationWaiters: [(remaining: Set<String>, done: (RedisError?) -> Void)] = []
    private(set) var isShutDown = false
    /// Where messages go instead of `messages`, on the subscriber's event loop.
    private var messageHandler: (@Sendable (RedisPubSubMessage) -> Void)?
    var observers = RedisConnectionObservers()
    var backoff = Backoff()

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        eventLoop.executor.asUnownedSerialExecutor()
    }

    /// Resumes reading from Redis when the consumer of `messages` has caught up.
    public struct ReadingDelegate: NIOAsyncSequenceProducerDelegate {
        /// The subscriber's current channel, confined to its event loop.
        let currentChannel: NIOLoopBoundBox<(any Channel)?>
        let eventLoop: any EventLoop

        public func produceMore() {
            let currentChannel = self.currentChannel
            eventLoop.execute {
                currentChannel.value?.triggerUserOutboundEvent(RedisResumeReading(), promise: nil)
            }
        }

        public func didTerminate() {}
    }

    /// Creates a subscriber; nothing is connected until `connect()` or `run()`.
    public init(
        url: RedisURL,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any(),
        logger: Logger,
        bufferedMessages: Int = 4096,
        sharded: Bool = false
    ) {
        self.url = url
        self.isSharded = sharded
        self.eventLoop = eventLoop
        self.logger = logger
        self.currentChannel = NIOLoopBoundBox.makeBoxSendingValue(nil, as: (any Channel)?.self, eventLoop: eventLoop)
        let result = Messages.makeSequence(
            elementType: RedisPubSubMessage.self,
            backPressureStrategy: .init(lowWatermark: bufferedMessages / 4, highWatermark: bufferedMessages),
            finishOnDeinit: true,
            delegate: ReadingDelegate(currentChannel: currentChannel, eventLoop: eventLoop)
        )
        self.messages = result.sequence
        self.source = result.source
    }

    private nonisolated let currentChannel: NIOLoopBoundBox<(any Channel)?>

    /// Whether a connection is up right now.
    public var isConnected: Bool { channel != nil }

    /// The connection state now and at every change: `true` when connected and subscribed.
    public func connectionStates() -> AsyncStream<Bool> {
        makeConnectionStates()
    }

    /// Hands every message to `handler` from now on, on the subscriber's
    /// event loop as it is read, instead of yielding it to `messages`: for a
    /// consumer that lives on that loop (an actor whose executor it is), no
    /// thread hop and no buffer stand between the socket and it, and a
    /// consumer that falls behind slows the reading by itself.
    public func deliverMessages(to handler: @escaping @Sendable (RedisPubSubMessage) -> Void) {
        messageHandler = handler
    }

    /// Calls `handler` with each channel the server drops while subscribed (sharded pub/sub).
    public func onChannelDropped(_ handler: @escaping @Sendable (String) -> Void) {
        onDropped = handler
    }

    /// Calls `handler` with each channel Redis confirms subscribed, after a
    /// reconnection too, before any message of that channel that follows.
    public func onChannelConfirmed(_ handler: @escaping @Sendable (String) -> Void) {
        onConfirmed = handler
    }

    private var subscribeCommand: String { isSharded ? "SSUBSCRIBE" : "SUBSCRIBE" }
    private var unsubscribeCommand: String { isSharded ? "SUNSUBSCRIBE" : "UNSUBSCRIBE" }

    /// Subscribes to channels; returns once Redis confirmed them, or at once
    /// while disconnected (they are subscribed on reconnection). Throws when
    /// Redis refuses them (an ACL user without those channels).
    public func subscribe(_ names: [String]) async throws(RedisError) {
        try await change(names, command: subscribeCommand) { channels.formUnion(names) }
    }

    /// Subscribes to glob patterns, as `PSUBSCRIBE`.
    public func psubscribe(_ names: [String]) async throws(RedisError) {
        try await change(names, command: "PSUBSCRIBE") { patterns.formUnion(names) }
    }

    /// `subscribe` for a caller on the subscriber's event loop that must not
    /// await: the future completes there once Redis confirmed the channels
    /// (at once while disconnected), and fails when Redis refuses them.
    public nonisolated func subscribeFromEventLoop(_ names: [String]) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let start = {
            self.assumeIsolated { subscriber in
                subscriber.change(names, command: subscriber.subscribeCommand, record: { subscriber.channels.formUnion(names) }) { refusal in
                    if let refusal { promise.fail(refusal) } else { promise.succeed(()) }
                }
            }
        }
        if eventLoop.inEventLoop { start() } else { eventLoop.execute(start) }
        return promise.futureResult
    }

    /// Unsubscribes from channels.
    public func unsubscribe(_ names: [String]) {
        channels.subtract(names)
        guard !names.isEmpty else { return }
        channel?.writeAndFlush(RedisRequest(command: RedisCommand([unsubscribeCommand] + names), reply: .push), promise: nil)
    }

    /// `unsubscribe` for a caller on the subscriber's event loop.
    public nonisolated func unsubscribeFromEventLoop(_ names: [String]) {
        assumeIsolated { $0.unsubscribe(names) }
    }

    private func change(_ names: [String], command: String, record: () -> Void) async throws(RedisError) {
        let refusal = await withCheckedContinuation { continuation in
            change(names, command: command, record: record) { continuation.resume(returning: $0) }
        }
        if let refusal { throw refusal }
    }

    /// Records the names, asks Redis, and calls `done` once Redis confirmed
    /// or refused them (at once while disconnected: they are renewed on reconnection).
    private func change(_ names: [String], command: String, record: () -> Void, done: @escaping (RedisError?) -> Void) {
        guard !names.isEmpty else { return done(nil) }
        record()
        guard let channel else { return done(nil) }
        // Registered before writing, so no confirmation can arrive unobserved.
        confirmationWaiters.append((Set(names), done))
        if isSharded {
            // A sharded subscription names channels of one slot per command.
            for name in names { channel.write(RedisRequest(command: RedisCommand([command, name]), reply: .push), promise: nil) }
            channel.flush()
        } else {
            channel.writeAndFlush(RedisRequest(command: RedisCommand([command] + names), reply: .push), promise: nil)
        }
    }

    /// Makes the first connection, so a node can refuse to start when Redis is unreachable.
    public func connect() async throws(RedisError) {
        guard channel == nil else { return }
        guard !isShutDown else { throw RedisError(.shutDown, "Redis subscriber was shut down") }
        let newChannel = try await RedisChannelConnector.connect(to: url, on: eventLoop) { [weak self] push in
            guard let self else { return true }
            return self.assumeIsolated { $0.receive(push) }
        }
        channel = newChannel
        currentChannel.value = newChannel
        backoff.reset()
        resubscribe(on: newChannel)
        observers.publish(true)
        newChannel.closeFuture.whenComplete { _ in
            self.assumeIsolated { $0.detach(newChannel) }
        }
    }

    private func resubscribe(on channel: any Channel) {
        if isSharded {
            // A sharded subscription names channels of one slot per command.
            for name in channels.sorted() {
                channel.write(RedisRequest(command: RedisCommand([subscribeCommand, name]), reply: .push), promise: nil)
            }
        } else if !channels.isEmpty {
            channel.write(RedisRequest(command: RedisCommand([subscribeCommand] + channels.sorted()), reply: .push), promise: nil)
        }
        if !patterns.isEmpty {
            channel.write(RedisRequest(command: RedisCommand(["PSUBSCRIBE"] + patterns.sorted()), reply: .push), promise: nil)
        }
        channel.flush()
    }

    private func detach(_ closed: any Channel) {
        guard channel === closed else { return }
        channel = nil
        currentChannel.value = nil
        observers.publish(false)
        // Nobody will confirm these now; the subscriptions are renewed on reconnection.
        for waiter in confirmationWaiters { waiter.done(nil) }
        confirmationWaiters = []
        guard !isShutDown else { return }
        logger.warning("\(Self.name) lost", metadata: ["redis": "\(url)"])
    }

    private func receive(_ push: RedisPush) -> Bool {
        switch push {
        case .message(let message):
            if let messageHandler {
                messageHandler(message)
                return true
            }
            switch source.yield(message) {
            case .produceMore: return true
            case .stopProducing: return false
            case .dropped: return true
            }
        case .subscribed(let name):
            onConfirmed?(name)
            for index in confirmationWaiters.indices.reversed() {
                confirmationWaiters[index].remaining.remove(name)
                if confirmationWaiters[index].remaining.isEmpty {
                    confirmationWaiters.remove(at: index).done(nil)
                }
            }
            return true
        case .unsubscribed(let name):
            // Still wanted: the server dropped it (its slot moved), not us.
            if isSharded, channels.contains(name) {
                channels.remove(name)
                onDropped?(name)
            }
            return true
        case .refused(let text):
            let refusal = RedisError(.errorReply, "Redis refused the subscription: \(text)")
            // A caller of `subscribe` reports it; a renewal after a reconnection has nobody else to.
            if confirmationWaiters.isEmpty { logger.error("\(refusal.message)", metadata: ["redis": "\(url)"]) }
            for waiter in confirmationWaiters { waiter.done(refusal) }
            confirmationWaiters = []
            return true
        }
    }

    /// Keeps the connection up until the task is cancelled or `shutdown()` is called.
    public func run() async {
        await keepConnected()
    }

    /// Drops the current connection, unless it goes to `address`, so that
    /// `run()` connects again at once: behind Sentinel, to the master the
    /// Sentinels name now.
    public func reconnect(unlessConnectedTo address: RedisServerAddress) {
        dropConnection(unlessConnectedTo: address)
    }

    /// Closes the connection, stops reconnecting and ends `messages`.
    public func shutdown() async {
        isShutDown = true
        observers.finishAll()
        source.finish()
        if let channel {
            try? await channel.close()
        }
    }
}
