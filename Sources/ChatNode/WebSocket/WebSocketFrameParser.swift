import NIOCore
import NIOWebSocket

/// Reads WebSocket frames (RFC 6455 §5.2) from the start of a connection's
/// bytes, with the limits NIO's frame decoder applies.
///
/// The transport handler parses frames itself instead of running NIO's
/// decoder as a pipeline handler: that handler and its buffers cost an idle
/// connection about 400 bytes, and a node holds tens of thousands of them.
struct WebSocketFrameParser {
    /// A frame the node does not accept. The header is checked before the
    /// payload arrives, so an oversized frame is never buffered; its length is
    /// known, so the bytes after it can still be read (the close handshake).
    struct Failure: Error, Equatable {
        enum Reason: Equatable {
            /// The payload is longer than the message limit.
            case frameTooLarge
            /// A control frame is fragmented or longer than 125 bytes (§5.5).
            case invalidControlFrame
        }

        let reason: Reason
        /// The refused frame's length, header included: the bytes to skip.
        let frameBytes: UInt64
    }

    /// The longest payload a frame may declare.
    let maximumFrameBytes: Int

    /// The next whole frame at the start of `buffer`, which it consumes; nil,
    /// consuming nothing, while the frame's bytes have not all arrived.
    func nextFrame(from buffer: inout ByteBuffer) throws(Failure) -> WebSocketFrame? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self),
            let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        var offset = start + 2
        var length = UInt64(second & 0x7F)
        if length == 126 {
            guard let extended = buffer.getInteger(at: offset, as: UInt16.self) else { return nil }
            length = UInt64(extended)
            offset += 2
        } else if length == 127 {
            guard let extended = buffer.getInteger(at: offset, as: UInt64.self) else { return nil }
            length = extended
            offset += 8
        }
        let fin = first & 0x80 != 0
        let isControlFrame = first & 0x08 != 0
        let headerBytes = offset - start + (second & 0x80 != 0 ? 4 : 0)
        let frameBytes = UInt64(headerBytes).addingReportingOverflow(length).partialValue
        if isControlFrame, !fin || length > 125 { throw Failure(reason: .invalidControlFrame, frameBytes: frameBytes) }
        guard length <= UInt64(maximumFrameBytes) else { throw Failure(reason: .frameTooLarge, frameBytes: frameBytes) }
        var maskKey: WebSocketMaskingKey?
        if second & 0x80 != 0 {
            guard let key = buffer.getBytes(at: offset, length: 4) else { return nil }
            maskKey = WebSocketMaskingKey(key)
            offset += 4
        }
        guard let payload = buffer.getSlice(at: offset, length: Int(length)) else { return nil }
        buffer.moveReaderIndex(to: offset + Int(length))
        return WebSocketFrame(
            fin: fin,
            rsv1: first & 0x40 != 0,
            rsv2: first & 0x20 != 0,
            rsv3: first & 0x10 != 0,
            // Every 4-bit value is an opcode; the transport refuses the reserved ones.
            opcode: WebSocketOpcode(encodedWebSocketOpcode: first & 0x0F)!,
            maskKey: maskKey,
            data: payload
        )
    }

    /// A server frame (unmasked, final) carrying `payload`, for the control
    /// frames the transport sends itself.
    static func controlFrame(_ opcode: WebSocketOpcode, payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        precondition(payload.readableBytes <= 125, "a control frame's payload is at most 125 bytes")
        var frame = allocator.buffer(capacity: 2 + payload.readableBytes)
        frame.writeInteger(0x80 | UInt8(webSocketOpcode: opcode))
        frame.writeInteger(UInt8(payload.readableBytes))
        frame.writeImmutableBuffer(payload)
        return frame
    }
}
