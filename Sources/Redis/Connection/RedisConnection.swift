import Logging
import NIOCore
import NIOPosix

/// A pipelined command connection to Redis that reconnects by itself.
///
/// The actor runs on its connection's event loop, so writing to the channel
/// never hops threads, and many callers' commands share one connection:
/// each command is written at once and replies are matched in order. Writes
/// made in the same event-loop tick go out in one flush.
///
/// While Redis is unreachable, commands fail fast with `.notConnected`
/// rather than queueing without bound; `run()` keeps reconnecting.
public actor RedisConnection: ReconnectingConnection {
    static let name = "Redis command connection"
    /// Where this connection goes.
    public nonisolated let url: RedisURL
    /// The event loop the connection and this actor run on.
    public nonisolated let eventLoop: any EventLoop
    /// Scripts loaded on every new connection, so `EVALSHA` finds them.
    public nonisolated let scripts: [RedisScript]
    let logger: Logger
    private(set) var channel: (any Channel)?
    private var isFlushScheduled = false
    private(set) var isShutDown = false
    var observers = RedisConnectionObservers()
    var backoff = Backoff()

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        eventLoop.executor.asUnownedSerialExecutor()
    }

    /// Creates a connection; nothing is connected until `connect()` or `run()`.
    /// Each connection loads `scripts` before it counts as up.
    public init(
        url: RedisURL,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any(),
        scripts: [RedisScript] = [],
        logger: Logger
    ) {
        self.url = url
        self.eventLoop = eventLoop
        self.scripts = scripts
        self.logger = logger
    }

    /// Whether a connection is up right now.
    public var isConnected: Bool { channel != nil }

    /// The connection state now and at every change: `true` when connected.
    public func connectionStates() -> AsyncStream<Bool> {
        makeConnectionStates()
    }

    /// Makes the first connection, so a node can refuse to start when Redis is unreachable.
    public func connect() async throws(RedisError) {
        guard channel == nil else { return }
        guard !isShutDown else { throw RedisError(.shutDown, "Redis connection was shut down") }
        let newChannel = try await RedisChannelConnector.connect(to: url, on: eventLoop, scripts: scripts)
        attach(newChannel)
    }

    private func attach(_ newChannel: any Channel) {
        channel = newChannel
        backoff.reset()
        observers.publish(true)
        newChannel.closeFuture.whenComplete { _ in
            self.assumeIsolated { $0.detach(newChannel) }
        }
    }

    private func detach(_ closed: any Channel) {
        guard channel === closed else { return }
        channel = nil
        observers.publish(false)
        guard !isShutDown else { return }
        logger.warning("\(Self.name) lost", metadata: ["redis": "\(url)"])
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

    /// Closes the connection and stops reconnecting.
    public func shutdown() async {
        isShutDown = true
        observers.finishAll()
        if let channel {
            try? await channel.close()
        }
    }

    /// Sends one command and returns its reply; an error reply is thrown as `.errorReply`.
    public func send(_ command: RedisCommand) async throws(RedisError) -> RedisReply {
        guard let channel, channel.isActive else { throw .notConnected() }
        let promise = eventLoop.makePromise(of: RedisReply.self)
        write(RedisRequest(command: command, reply: .promise(promise)), to: channel)
        let reply = try await promise.futureResult.redisValue()
        if case .error(let text) = reply { throw RedisError(.errorReply, text) }
        return reply
    }

    /// Sends several commands back to back in one flush and returns their
    /// replies in order; error replies are returned, not thrown.
    public func sendBatch(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisReply] {
        guard let channel, channel.isActive else { throw .notConnected() }
        guard !commands.isEmpty else { return [] }
        let batch = RedisReplyBatch(expected: commands.count, promise: eventLoop.makePromise())
        for command in commands {
            write(RedisRequest(command: command, reply: .batch(batch)), to: channel)
        }
        return try await batch.promise.futureResult.redisValue()
    }

    /// Sends several commands like `sendBatch`, without a task: called on the
    /// connection's event loop (a timer, an actor on that loop), the commands
    /// are written at once, so nothing queued elsewhere in the process can
    /// delay them; from another thread they hop to the loop first.
    public nonisolated func sendBatchFromEventLoop(_ commands: [RedisCommand]) -> EventLoopFuture<[RedisReply]> {
        guard eventLoop.inEventLoop else {
            return eventLoop.flatSubmit { self.assumeIsolated { connection in connection.startBatch(commands) } }
        }
        return assumeIsolated { connection in connection.startBatch(commands) }
    }

    private func startBatch(_ commands: [RedisCommand]) -> EventLoopFuture<[RedisReply]> {
        guard let channel, channel.isActive else { return eventLoop.makeFailedFuture(RedisError.notConnected()) }
        guard !commands.isEmpty else { return eventLoop.makeSucceededFuture([]) }
        let batch = RedisReplyBatch(expected: commands.count, promise: eventLoop.makePromise())
        for command in commands {
            write(RedisRequest(command: command, reply: .batch(batch)), to: channel)
        }
        return batch.promise.futureResult
    }

    /// Sends a command whose reply nobody needs; fails only when not connected.
    public func sendWithoutReply(_ command: RedisCommand) throws(RedisError) {
        guard let channel, channel.isActive else { throw .notConnected() }
        write(RedisRequest(command: command, reply: .discard), to: channel)
    }

    /// Sends `arguments` as one command; a shorthand for `send(RedisCommand(arguments))`.
    @discardableResult
    public func send(_ arguments: String...) async throws(RedisError) -> RedisReply {
        try await send(RedisCommand(arguments))
    }

    /// Writes on the channel's own event loop (this actor's executor) after
    /// checking it is active, so the request reaches the handler, which
    /// fails it if the connection drops: no reply promise is ever orphaned.
    private func write(_ request: RedisRequest, to channel: any Channel) {
        channel.write(request, promise: nil)
        guard !isFlushScheduled else { return }
        isFlushScheduled = true
        // Everything written during this event-loop tick leaves in one flush.
        eventLoop.execute {
            self.assumeIsolated { connection in
                connection.isFlushScheduled = false
                connection.channel?.flush()
            }
        }
    }
}
