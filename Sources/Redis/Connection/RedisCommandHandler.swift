import NIOCore

/// A command to write, and what to do with its reply.
struct RedisRequest {
    enum ReplyHandling {
        /// Complete this promise with the reply.
        case promise(EventLoopPromise<RedisReply>)
        /// Add the reply to a batch, which completes once all its replies arrived.
        case batch(RedisReplyBatch)
        /// The caller does not need the reply; drop it when it arrives.
        case discard
        /// No reply of its own comes back: pub/sub confirmations arrive as pushes.
        case push
    }

    var command: RedisCommand
    var reply: ReplyHandling
}

/// Asks the handler to resume reading after the consumer of pushes caught up.
struct RedisResumeReading {}

/// Asks the handler to close the connection and fail every waiting command
/// with `reason`, so callers learn why rather than just "closed".
struct RedisCloseRequest {
    var reason: RedisError
}

/// Decodes replies with hiredis and matches them, in order, to the commands
/// written on this connection, which makes pipelining free.
///
/// On a subscriber connection, `onPush` receives pub/sub pushes; when it
/// returns `false` the handler stops reading from the socket until it gets
/// a `RedisResumeReading` outbound event, so a slow consumer applies
/// backpressure all the way to Redis instead of growing a buffer.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private let reader = RESPReader()
    private var pending = CircularBuffer<RedisRequest.ReplyHandling>(initialCapacity: 64)
    /// Why the connection ended, once it has: later commands fail at once with it.
    private var closedBecause: RedisError?
    private let onPush: ((RedisPush) -> Bool)?
    private let closesWhenReadOnly: Bool
    private let healthCheck: RedisHealthCheck
    private var healthTimer: Scheduled<Void>?
    /// The last time a reply arrived, or a request was written to an idle connection.
    private var lastProgress = NIODeadline.now()
    private var isReadingPaused = false
    private var hasPendingRead = false

    /// - Parameters:
    ///   - closesWhenReadOnly: close the connection after a `READONLY` error
    ///     reply: behind Sentinel it means the master was demoted to a replica.
    ///   - onPush: set on subscriber connections only.
    ///   - healthCheck: how often an idle connection is pinged, and how long
    ///     a reply may be late before the connection counts as lost.
    init(closesWhenReadOnly: Bool = false, healthCheck: RedisHealthCheck = .standard, onPush: ((RedisPush) -> Bool)? = nil) {
        self.closesWhenReadOnly = closesWhenReadOnly
        self.healthCheck = healthCheck
        self.onPush = onPush
    }

    func channelActive(context: ChannelHandlerContext) {
        lastProgress = .now()
        scheduleHealthCheck(context: context)
        context.fireChannelActive()
    }

    private func scheduleHealthCheck(context: ChannelHandlerContext) {
        healthTimer = context.eventLoop.assumeIsolated().scheduleTask(in: healthCheck.interval) { [self] in
            checkHealth(context: context)
            if context.channel.isActive { scheduleHealthCheck(context: context) }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        healthTimer?.cancel()
    }

    /// A link that drops packets silently (a partition) gives no error for
    /// minutes: only a late reply reveals it. Pinging an idle connection makes
    /// sure there always is a reply to wait for.
    private func checkHealth(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if pending.isEmpty || isReadingPaused {
            // Nothing awaited, or replies wait because the consumer is slow, not Redis.
            lastProgress = now
            guard pending.isEmpty, closedBecause == nil else { return }
            pending.append(.discard)
            context.writeAndFlush(wrapOutboundOut(RedisCommand(["PING"]).bytes), promise: nil)
            return
        }
        guard now - lastProgress > healthCheck.timeout else { return }
        let seconds = Double(healthCheck.timeout.nanoseconds) / 1e9
        close(context: context, because: .notConnected("Redis did not answer for \(seconds) s; the connection counts as lost"))
    }

    /// Fails every waiting command, and every later one, with `reason`, and closes.
    private func close(context: ChannelHandlerContext, because reason: RedisError) {
        closedBecause = reason
        failAll(reason)
        context.close(promise: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let closedBecause {
            // The connection failed already (e.g. a TLS handshake refused before
            // this command): no reply can come, so fail it now rather than never.
            pending.append(request.reply)
            failAll(closedBecause)
            promise?.fail(closedBecause)
            return
        }
        switch request.reply {
        case .promise, .discard, .batch:
            if pending.isEmpty { lastProgress = .now() }
            pending.append(request.reply)
        case .push: break
        }
        context.write(wrapOutboundOut(request.command.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { bytes throws(RedisError) in try reader.feed(bytes) }
            // One clock read per read from the socket, not per reply.
            var isFirst = true
            while let reply = try reader.next() {
                if isFirst {
                    lastProgress = .now()
                    isFirst = false
                }
                dispatch(reply)
                if closesWhenReadOnly, case .error(let text) = reply, text.hasPrefix("READONLY") {
                    return close(context: context, because: .notConnected("Redis answered READONLY: the master became a replica"))
                }
            }
        } catch {
            failAll(error)
            context.close(promise: nil)
        }
    }

    private func dispatch(_ reply: RedisReply) {
        if let onPush, let push = RedisPush(reply) {
            if !onPush(push) { isReadingPaused = true }
            return
        }
        if let onPush, pending.isEmpty, case .error(let text) = reply {
            // Subscriptions expect no reply of their own, only confirmations; an error is their refusal.
            _ = onPush(.refused(text))
            return
        }
        guard let handling = pending.popFirst() else {
            // A reply nobody asked for; the server would have to be broken. Ignore it.
            return
        }
        switch handling {
        case .promise(let promise): promise.succeed(reply)
        case .batch(let batch): batch.append(reply)
        case .discard, .push: break
        }
    }

    func read(context: ChannelHandlerContext) {
        if isReadingPaused {
            hasPendingRead = true
        } else {
            context.read()
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let request = event as? RedisCloseRequest {
            promise?.succeed()
            if closedBecause == nil { close(context: context, because: request.reason) }
            return
        }
        guard event is RedisResumeReading else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        promise?.succeed()
        isReadingPaused = false
        if hasPendingRead {
            hasPendingRead = false
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        healthTimer?.cancel()
        closedBecause = closedBecause ?? .notConnected("Redis connection closed")
        failAll(closedBecause!)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(context: context, because: .notConnected("Redis connection failed: \(NetworkFailure.sentence(for: error))"))
    }

    private func failAll(_ error: RedisError) {
        while let handling = pending.popFirst() {
            switch handling {
            case .promise(let promise): promise.fail(error)
            case .batch(let batch): batch.fail(error)
            case .discard, .push: break
            }
        }
    }
}

/// How a connection checks that Redis still answers.
struct RedisHealthCheck: Sendable {
    /// How often an idle connection is pinged and replies are checked.
    var interval: TimeAmount
    /// How long Redis may leave a command unanswered before the connection counts as lost.
    var timeout: TimeAmount

    /// Ping every second; lost after 3 s without an answer (PROTOCOL.md §2, Bus outage).
    static let standard = RedisHealthCheck(interval: .seconds(1), timeout: .seconds(3))
}

/// Collects the replies of commands written back to back, completing one
/// promise for all of them instead of allocating one per command.
final class RedisReplyBatch: @unchecked Sendable {
    // @unchecked: created on the connection's event loop and then touched only
    // by the command handler, on that same loop.
    let promise: EventLoopPromise<[RedisReply]>
    private let expected: Int
    private var replies: [RedisReply] = []
    private var isFailed = false

    init(expected: Int, promise: EventLoopPromise<[RedisReply]>) {
        self.expected = expected
        self.promise = promise
        replies.reserveCapacity(expected)
    }

    func append(_ reply: RedisReply) {
        guard !isFailed else { return }
        replies.append(reply)
        if replies.count == expected { promise.succeed(replies) }
    }

    func fail(_ error: RedisError) {
        guard !isFailed else { return }
        isFailed = true
        promise.fail(error)
    }
}
