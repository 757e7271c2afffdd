import ChatProtocol
import NIOCore

/// A connection's outbound queue: it gathers the frames of one event-loop
/// tick and writes them with one write and one flush.
///
/// It sits next to the pipeline's head, so the fan-out hands it framed bytes
/// directly (`enqueue`) without a pipeline traversal per event. The control
/// frames the transport handler writes through the pipeline (ping, pong,
/// close) keep their order with this tick's events while the socket keeps
/// up, and go ahead of the events waiting here while it does not: a client
/// that is behind still gets its heartbeat in time. After a close frame
/// nothing more is sent. A lone frame in a tick is written as the
/// shared buffer itself; when more small frames follow in the same tick
/// they are copied into one gather buffer. Large frames are always queued
/// by reference, so a big event shared by thousands of recipients exists
/// once in memory.
///
/// While the socket cannot take more, frames wait here. A client whose
/// waiting bytes exceed `maximumQueuedBytes` is too slow: the queue is
/// dropped and `SlowConsumerDetected` tells the transport handler to close.
/// The bound is in bytes, so a presence storm of many small events never
/// closes a client that keeps reading.
final class OutboundBuffer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Frames up to this size are copied into the gather buffer.
    static let gatherThreshold = 2048

    /// Unique among this node's connections; fan-out skips senders by it.
    let connectionID: UInt64
    /// The version and compression of this connection's bytes.
    let kind: RecipientKind
    /// Where this connection is in its loop's recipient list of each room it is a member of.
    var roomSlots: [RoomName: Int] = [:]

    private let maximumQueuedBytes: Int
    private let delivery: LoopDelivery
    private let metrics: ChatMetrics
    private var context: ChannelHandlerContext?
    /// The channel's writability as its events report it: reading it from
    /// the channel costs atomics and locks on every flush of every recipient.
    private var isWritable = true
    /// Frames waiting for the socket. An array, not a ring buffer: it costs
    /// nothing while empty, which an idle connection's queue is.
    private var queue: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var gather: ByteBuffer?
    /// Whether `gather` is still a frame shared with other connections (not ours to append to).
    private var isGatherShared = false
    /// Bytes and events waiting here for the socket (not yet handed to NIO).
    private(set) var queuedBytes = 0
    private(set) var queuedEvents = 0
    private var isFlushPending = false
    /// When the chat line being timed reached the node (see `timeNextWrite`).
    private var timedSince: NIODeadline?
    /// No more events are taken: the queue overflowed or a close frame went out.
    private var isOverflowed = false

    init(connectionID: UInt64, kind: RecipientKind, maximumQueuedBytes: Int, delivery: LoopDelivery, metrics: ChatMetrics) {
        self.connectionID = connectionID
        self.kind = kind
        self.maximumQueuedBytes = maximumQueuedBytes
        self.delivery = delivery
        self.metrics = metrics
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isWritable = context.channel.isWritable
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        dropQueue()
    }

    /// Queues one framed event for this connection alone; it leaves at the
    /// end of this event-loop tick, after the broadcasts that came before it.
    func enqueue(_ frame: ByteBuffer) {
        delivery.catchUp(self)
        enqueueBroadcast(frame, events: 1)
    }

    /// Queues framed events (`events` of them in `frames`) shared with other connections.
    func enqueueBroadcast(_ frames: ByteBuffer, events: Int) {
        guard context != nil, !isOverflowed else { return }
        queuedEvents += events
        append(frames, promise: nil)
        if queuedBytes > maximumQueuedBytes, !isWritable, let context {
            overflow(context: context)
            return
        }
        requestFlush()
    }

    /// Records in the delivery-latency histogram, at this connection's next
    /// write, how long after `receivedAt` its bytes reached the socket.
    func timeNextWrite(since receivedAt: NIODeadline) {
        if timedSince == nil { timedSince = receivedAt }
    }

    // MARK: Pipeline

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        // What this tick queued goes first, unless the socket is backed up.
        if isWritable { flushNow() }
        if frame.getInteger(at: frame.readerIndex, as: UInt8.self) == 0x88 {
            // A close frame (FIN + opcode 8, as NIO's encoder writes its header): no data may follow it.
            isOverflowed = true
            dropQueue()
        }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        if isWritable { flushNow() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Queue

    private func append(_ frame: ByteBuffer, promise: EventLoopPromise<Void>?) {
        queuedBytes += frame.readableBytes
        if promise == nil, frame.readableBytes <= Self.gatherThreshold {
            guard let gathered = gather else {
                gather = frame
                isGatherShared = true
                return
            }
            if isGatherShared {
                var owned = ByteBufferAllocator().buffer(capacity: max(512, 2 * (gathered.readableBytes + frame.readableBytes)))
                owned.writeImmutableBuffer(gathered)
                gather = owned
                isGatherShared = false
            }
            gather!.writeImmutableBuffer(frame)
            return
        }
        moveGatherToQueue()
        queue.append((frame, promise))
    }

    private func moveGatherToQueue() {
        if let gathered = gather {
            queue.append((gathered, nil))
            gather = nil
        }
    }

    private func requestFlush() {
        guard !isFlushPending else { return }
        isFlushPending = true
        delivery.flushAtEndOfTick(self)
    }

    /// Writes everything queued with one flush, unless the socket cannot take more.
    func flushNow() {
        isFlushPending = false
        guard isWritable, let context else { return }
        if queue.isEmpty {
            // The common case, one gathered buffer: no array to fill and empty.
            guard let gathered = gather else { return }
            gather = nil
            context.write(wrapOutboundOut(gathered), promise: nil)
        } else {
            moveGatherToQueue()
            let writes = queue
            queue = []
            for (buffer, promise) in writes {
                context.write(wrapOutboundOut(buffer), promise: promise)
            }
        }
        queuedBytes = 0
        queuedEvents = 0
        context.flush()
        if let since = timedSince {
            timedSince = nil
            metrics.deliveryLatency.record(.nanoseconds((NIODeadline.now() - since).nanoseconds))
        }
    }

    private func overflow(context: ChannelHandlerContext) {
        metrics.slowConsumerDisconnects.increment()
        metrics.slowConsumerDroppedEvents.increment(by: Int64(queuedEvents))
        isOverflowed = true
        dropQueue()
        context.fireUserInboundEventTriggered(SlowConsumerDetected())
    }

    private func dropQueue() {
        gather = nil
        let dropped = queue
        queue = []
        for (_, promise) in dropped {
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
        queuedBytes = 0
        queuedEvents = 0
    }
}

/// A connection's outbound queue overflowed: the client does not read.
struct SlowConsumerDetected {}
