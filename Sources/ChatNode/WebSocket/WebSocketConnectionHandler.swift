import NIOCore
import NIOWebSocket

/// Owns one WebSocket connection on its event loop: assembles text messages,
/// enforces the transport rules (1003, 1007, 1009), runs the heartbeat and
/// the hello timeout, and guards the outbound queue against slow consumers.
///
/// Outbound events are written as soon as the socket can take them and
/// flushed once per event-loop tick. While the socket cannot take more, they
/// wait in a bounded backlog; a client whose backlog overflows is closed
/// with 1008 instead of growing the node's memory.
final class WebSocketConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ConnectionEvent
    typealias OutboundIn = OutboundItem
    typealias OutboundOut = WebSocketFrame

    /// The limits and intervals a connection runs with.
    struct Settings {
        var maximumMessageBytes: Int
        var maximumQueuedEvents: Int
        var maximumQueuedBytes: Int
        var pingInterval: TimeAmount
        var helloTimeout: TimeAmount
        var closeTimeout: TimeAmount
    }

    private let settings: Settings
    private let metrics: ChatMetrics
    private var fragments: ByteBuffer?
    private var lastHeard = NIODeadline.now()
    private var heartbeatTask: Scheduled<Void>?
    private var heartbeatTicks = 0
    private var helloTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    private var isClosing = false
    private var backlog = CircularBuffer<ByteBuffer>()
    private var backlogBytes = 0
    private var isFlushScheduled = false

    init(settings: Settings, metrics: ChatMetrics) {
        self.settings = settings
        self.metrics = metrics
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        lastHeard = .now()
        scheduleHeartbeat(context: context)
        helloTimer = context.eventLoop.assumeIsolated().scheduleTask(in: settings.helloTimeout) { [self] in
            close(context: context, code: .policyViolation, reason: "no hello within the time limit")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    private func cancelTimers() {
        heartbeatTask?.cancel()
        helloTimer?.cancel()
        closeTimer?.cancel()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        lastHeard = .now()
        switch frame.opcode {
        case .text where !isClosing:
            guard fragments == nil else {
                return close(context: context, code: .protocolError, reason: "new message inside a fragmented one")
            }
            if frame.fin {
                deliver(frame.unmaskedData, context: context)
            } else {
                fragments = frame.unmaskedData
            }
        case .continuation where !isClosing:
            guard var assembled = fragments else {
                return close(context: context, code: .protocolError, reason: "continuation without a message")
            }
            var data = frame.unmaskedData
            guard assembled.readableBytes + data.readableBytes <= settings.maximumMessageBytes else {
                fragments = nil
                return close(context: context, code: .messageTooLarge, reason: "message too big")
            }
            assembled.writeBuffer(&data)
            if frame.fin {
                fragments = nil
                deliver(assembled, context: context)
            } else {
                fragments = assembled
            }
        case .binary where !isClosing:
            close(context: context, code: .unacceptableData, reason: "binary frames are not supported")
        case .ping where !isClosing:
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
            scheduleFlush(context: context)
        case .connectionClose:
            receivedClose(frame, context: context)
        default:
            // Pongs only refresh `lastHeard`; data after our close frame is ignored.
            break
        }
    }

    private func deliver(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        guard buffer.readableBytes <= settings.maximumMessageBytes else {
            return close(context: context, code: .messageTooLarge, reason: "message too big")
        }
        let bytes = Array(buffer.readableBytesView)
        guard Self.isValidUTF8(bytes) else {
            return close(context: context, code: .dataInconsistentWithMessage, reason: "text is not valid UTF-8")
        }
        context.fireChannelRead(wrapInboundOut(.message(bytes)))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? NIOWebSocketError else {
            context.fireErrorCaught(error)
            return
        }
        // A frame the decoder refused (too big, bad control frame). Answer with
        // the matching close code and keep reading until the client's close or the
        // timeout: closing at once would reset the connection and lose the frame.
        let code: WebSocketErrorCode = error == .invalidFrameLength ? .messageTooLarge : .protocolError
        close(context: context, code: code, reason: code == .messageTooLarge ? "message too big" : "protocol error")
    }

    private func receivedClose(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        if isClosing {
            // The client answered our close frame: the handshake is complete.
            context.close(promise: nil)
            return
        }
        isClosing = true
        var data = frame.unmaskedData
        let code = data.readWebSocketErrorCode() ?? .normalClosure
        var reply = context.channel.allocator.buffer(capacity: 2)
        reply.write(webSocketErrorCode: code)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
            .assumeIsolated()
            .whenComplete { _ in context.close(promise: nil) }
    }

    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    // MARK: Heartbeat

    private func scheduleHeartbeat(context: ChannelHandlerContext) {
        // Check twice per interval, ping once per interval.
        let half = TimeAmount.nanoseconds(max(settings.pingInterval.nanoseconds / 2, 1_000_000))
        heartbeatTask = context.eventLoop.assumeIsolated().scheduleTask(in: half) { [self] in
            heartbeat(context: context)
        }
    }

    private func heartbeat(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let silence = NIODeadline.now() - lastHeard
        if silence >= settings.pingInterval * 2 {
            // The peer is presumed gone: no close handshake, just drop the TCP connection.
            context.fireChannelRead(wrapInboundOut(.heartbeatTimedOut))
            context.close(promise: nil)
            return
        }
        heartbeatTicks += 1
        if heartbeatTicks % 2 == 0 {
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())), promise: nil)
            scheduleFlush(context: context)
        }
        scheduleHeartbeat(context: context)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .event(let buffer):
            promise?.succeed()
            enqueue(buffer, context: context)
        case .close(let code, let reason):
            promise?.succeed()
            close(context: context, code: code, reason: reason)
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if event is SessionJoinedEvent {
            helloTimer?.cancel()
            helloTimer = nil
            promise?.succeed()
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    private func enqueue(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        guard !isClosing else { return }
        if backlog.isEmpty && context.channel.isWritable {
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
            scheduleFlush(context: context)
            return
        }
        backlog.append(buffer)
        backlogBytes += buffer.readableBytes
        if backlog.count > settings.maximumQueuedEvents || backlogBytes > settings.maximumQueuedBytes {
            metrics.slowConsumerDisconnects.increment()
            metrics.slowConsumerDroppedEvents.increment(by: Int64(backlog.count))
            backlog.removeAll()
            backlogBytes = 0
            close(context: context, code: .policyViolation, reason: "client too slow to read")
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        while context.channel.isWritable, let buffer = backlog.popFirst() {
            backlogBytes -= buffer.readableBytes
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
        }
        context.flush()
        context.fireChannelWritabilityChanged()
    }

    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !isFlushScheduled else { return }
        isFlushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            isFlushScheduled = false
            context.flush()
        }
    }

    private func close(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        guard !isClosing else { return }
        isClosing = true
        helloTimer?.cancel()
        backlog.removeAll()
        backlogBytes = 0
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: settings.closeTimeout) {
            context.close(promise: nil)
        }
    }
}
