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
    private var isReadingPaused = false
    private var hasPendingRead = false

    /// - Parameters:
    ///   - closesWhenReadOnly: close the connection after a `READONLY` error
    ///     reply: behind Sentinel it means the master was demoted to a replica.
    ///   - onPush: set on subscriber connections only.
    init(closesWhenReadOnly: Bool = false, onPush: ((RedisPush) -> Bool)? = nil) {
        self.closesWhenReadOnly = closesWhenReadOnly
        self.onPush = onPush
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
        case .promise, .discard, .batch: pending.append(request.reply)
        case .push: break
        }
        context.write(wrapOutboundOut(request.command.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { bytes throws(RedisError) in try reader.feed(bytes) }
            while let reply = try reader.next() {
                dispatch(reply)
                if closesWhenReadOnly, case .error(let text) = reply, text.hasPrefix("READONLY") {
                    closedBecause = .notConnected("Redis answered READONLY: the master became a replica")
                    failAll(closedBecause!)
                    context.close(promise: nil)
                    return
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
        closedBecause = closedBecause ?? .notConnected("Redis connection closed")
        failAll(closedBecause!)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closedBecause = .notConnected("Redis connection failed: \(error)")
        failAll(closedBecause!)
        context.close(promise: nil)
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
