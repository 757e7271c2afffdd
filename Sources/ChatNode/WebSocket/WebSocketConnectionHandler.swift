import NIOCore
import NIOWebSocket

/// Owns one WebSocket connection's transport on its event loop: parses its
/// frames, assembles text messages, enforces the transport rules (1002,
/// 1003, 1007, 1009), runs the heartbeat and the close handshake.
///
/// It passes messages to its session (`receiver`), which may hold back
/// reads while its inbox is full. Outbound events do not pass through it:
/// the fan-out hands them to the connection's `OutboundBuffer`. The control
/// frames it writes (pong, ping, close) travel the pipeline into that same
/// buffer, so they keep their place.
final class WebSocketConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The limits and intervals a connection runs with.
    struct Settings {
        var maximumMessageBytes: Int
        var pingInterval: TimeAmount
        var closeTimeout: TimeAmount
        /// The loop's inflater when the connection negotiated `permessage-deflate`.
        var inflater: MessageInflater?
    }

    private let settings: Settings
    private let parser: WebSocketFrameParser
    /// The most bytes a message may take on the wire, compressed or not.
    private let maximumReceivedBytes: Int
    private let delivery: LoopDelivery
    private var context: ChannelHandlerContext?
    /// The session; released when the connection ends, which breaks the two's reference cycle.
    private var receiver: (any ConnectionEventReceiver)?
    /// The start of a frame whose bytes have not all arrived; nil between
    /// frames, so an idle connection holds no buffer here.
    private var unparsed: ByteBuffer?
    /// What is left of a refused frame: skipped, so the frames after it
    /// (the client's close) are still read.
    private var bytesToSkip: UInt64 = 0
    private var fragments: ByteBuffer?
    /// Whether the message being assembled is compressed (RSV1 on its first frame).
    private var isFragmentedMessageCompressed = false
    private var lastHeard = NIODeadline.now()
    private var heartbeatTicks = 0
    private var closeTimer: Scheduled<Void>?
    private var isClosing = false

    init(settings: Settings, delivery: LoopDelivery) {
        self.settings = settings
        // The size limit applies to the message once inflated (PROTOCOL.md §2);
        // a compressed message of that size may take a few bytes more.
        self.maximumReceivedBytes = settings.inflater == nil
            ? settings.maximumMessageBytes : MessageInflater.largestDeflated(of: settings.maximumMessageBytes)
        self.parser = WebSocketFrameParser(maximumFrameBytes: maximumReceivedBytes)
        self.delivery = delivery
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        lastHeard = .now()
        delivery.register(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ended()
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended()
        context.fireChannelInactive()
    }

    private func ended() {
        closeTimer?.cancel()
        delivery.unregister(self)
        context = nil
        let receiver = self.receiver
        self.receiver = nil
        receiver?.connectionEnded()
    }

    /// Makes `receiver` the connection's session.
    func attach(_ receiver: any ConnectionEventReceiver) {
        self.receiver = receiver
    }

    func read(context: ChannelHandlerContext) {
        if receiver?.readRequested() ?? true { context.read() }
    }

    /// Passes on a read the session held back.
    func resumeReading() {
        context?.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is SlowConsumerDetected:
            close(code: .policyViolation, reason: "client too slow to read")
        case is ChannelShouldQuiesceEvent:
            close(code: .goingAway, reason: "node shutting down")
        case ChannelEvent.inputClosed:
            // The client closed its side without a close frame; nothing more can arrive.
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var partial = unparsed {
            unparsed = nil
            partial.writeBuffer(&bytes)
            bytes = partial
        }
        lastHeard = .now()
        while true {
            if bytesToSkip > 0 {
                let skipped = min(bytesToSkip, UInt64(bytes.readableBytes))
                bytes.moveReaderIndex(forwardBy: Int(skipped))
                bytesToSkip -= skipped
                guard bytesToSkip == 0 else { return }
            }
            do {
                guard let frame = try parser.nextFrame(from: &bytes) else { break }
                received(frame, context: context)
            } catch {
                // A frame the parser refused (too big, bad control frame): answer
                // with the matching close code and read on past it until the
                // client's close or the timeout. Closing at once would reset the
                // connection and lose the close frame.
                bytesToSkip = error.frameBytes
                let isTooLarge = error.reason == .frameTooLarge
                close(context: context, code: isTooLarge ? .messageTooLarge : .protocolError, reason: isTooLarge ? "message too big" : "protocol error")
            }
        }
        // At most one frame's bytes wait here: the parser refuses a longer one from its header.
        if bytes.readableBytes > 0 { unparsed = bytes }
    }

    private func received(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        // Clients must mask every frame (RFC 6455 §5.1).
        guard frame.maskKey != nil else {
            return close(context: context, code: .protocolError, reason: "client frames must be masked")
        }
        // RSV1 marks a compressed message's first frame, and only when compression was negotiated.
        guard !frame.rsv2, !frame.rsv3, !frame.rsv1 || (settings.inflater != nil && frame.opcode == .text) else {
            return close(context: context, code: .protocolError, reason: "reserved bits set")
        }
        switch frame.opcode {
        case .text where !isClosing:
            guard fragments == nil else {
                return close(context: context, code: .protocolError, reason: "new message inside a fragmented one")
            }
            if frame.fin {
                deliver(frame.unmaskedData, isCompressed: frame.rsv1, context: context)
            } else {
                fragments = frame.unmaskedData
                isFragmentedMessageCompressed = frame.rsv1
            }
        case .continuation where !isClosing:
            guard var assembled = fragments else {
                return close(context: context, code: .protocolError, reason: "continuation without a message")
            }
            var data = frame.unmaskedData
            guard assembled.readableBytes + data.readableBytes <= maximumReceivedBytes else {
                fragments = nil
                return close(context: context, code: .messageTooLarge, reason: "message too big")
            }
            assembled.writeBuffer(&data)
            if frame.fin {
                fragments = nil
                deliver(assembled, isCompressed: isFragmentedMessageCompressed, context: context)
            } else {
                fragments = assembled
            }
        case .binary where !isClosing:
            close(context: context, code: .unacceptableData, reason: "binary frames are not supported")
        case .ping where !isClosing:
            send(.pong, payload: frame.unmaskedData, context: context)
        case .connectionClose:
            receivedClose(frame, context: context)
        case .pong, .text, .continuation, .binary, .ping:
            // Pongs only refresh `lastHeard`; data after our close frame is ignored.
            break
        default:
            // Opcodes 3–7 and 11–15 are reserved (RFC 6455 §5.2).
            close(context: context, code: .protocolError, reason: "reserved opcode")
        }
    }

    private func deliver(_ received: ByteBuffer, isCompressed: Bool, context: ChannelHandlerContext) {
        var buffer = received
        if isCompressed, let inflater = settings.inflater {
            do {
                // The size limit applies after inflating.
                buffer = try inflater.inflate(received, limit: settings.maximumMessageBytes)
            } catch .tooLarge {
                return close(context: context, code: .messageTooLarge, reason: "message too big")
            } catch {
                return close(context: context, code: .dataInconsistentWithMessage, reason: "compressed data is invalid")
            }
        }
        guard buffer.readableBytes <= settings.maximumMessageBytes else {
            return close(context: context, code: .messageTooLarge, reason: "message too big")
        }
        let bytes = Array(buffer.readableBytesView)
        guard Self.isValidUTF8(bytes) else {
            return close(context: context, code: .dataInconsistentWithMessage, reason: "text is not valid UTF-8")
        }
        receiver?.receive(.message(bytes))
    }

    private func receivedClose(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        if isClosing {
            // The client answered our close frame: the handshake is complete.
            context.close(promise: nil)
            return
        }
        isClosing = true
        var data = frame.unmaskedData
        // Echo the client's code, unless its close frame is malformed: one
        // byte, a code no endpoint may send, or a reason that is not UTF-8.
        var code = WebSocketErrorCode.normalClosure
        if data.readableBytes > 0 {
            let raw = data.readInteger(as: UInt16.self)
            let reason = Array(data.readableBytesView)
            if let raw, Self.isSendableCloseCode(raw), Self.isValidUTF8(reason) {
                code = WebSocketErrorCode(codeNumber: Int(raw))
            } else {
                code = .protocolError
            }
        }
        var reply = context.channel.allocator.buffer(capacity: 2)
        reply.write(webSocketErrorCode: code)
        send(.connectionClose, payload: reply, context: context)
            .assumeIsolated()
            .whenComplete { _ in context.close(promise: nil) }
    }

    /// Whether a peer may put `code` in a close frame (RFC 6455 §7.4): the
    /// defined codes but 1004–1006 and 1015, or one of 3000–4999.
    static func isSendableCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
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

    /// Called by the loop's heartbeat sweep twice per ping interval: drops a
    /// connection silent for two intervals, and pings once per interval.
    func heartbeat(now: NIODeadline) {
        guard let context, context.channel.isActive else { return }
        let silence = now - lastHeard
        if silence >= settings.pingInterval * 2 {
            // The peer is presumed gone: no close handshake, just drop the TCP connection.
            receiver?.receive(.heartbeatTimedOut)
            context.close(promise: nil)
            return
        }
        heartbeatTicks += 1
        if heartbeatTicks % 2 == 0 {
            send(.ping, payload: ByteBuffer(), context: context)
        }
    }

    /// Sends a close frame with `code` and `reason`, then closes the
    /// connection when the client answers or after the close timeout.
    func close(code: WebSocketErrorCode, reason: String) {
        guard let context else { return }
        close(context: context, code: code, reason: reason)
    }

    private func close(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        guard !isClosing else { return }
        isClosing = true
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        send(.connectionClose, payload: data, context: context)
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: settings.closeTimeout) {
            context.close(promise: nil)
        }
    }

    /// Writes and flushes a control frame.
    @discardableResult
    private func send(_ opcode: WebSocketOpcode, payload: ByteBuffer, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        let frame = WebSocketFrameParser.controlFrame(opcode, payload: payload, allocator: context.channel.allocator)
        return context.writeAndFlush(wrapOutboundOut(frame))
    }
}
