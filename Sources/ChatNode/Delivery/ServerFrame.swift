import NIOCore

/// The bytes of a WebSocket frame as a server sends it: header and payload
/// in one buffer, unmasked (RFC 6455 §5.2).
///
/// An event is framed once per node and the same bytes go to every
/// recipient, so fan-out never re-encodes or re-frames per connection.
enum ServerFrame {
    /// A final text frame holding `payload`.
    static func text(_ payload: [UInt8]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: payload.count + 10)
        writeText(payload, into: &buffer)
        return buffer
    }

    /// A final text frame holding `deflated`, a message compressed with
    /// `permessage-deflate` (RSV1 set, RFC 7692 §6).
    static func compressedText(_ deflated: [UInt8]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: deflated.count + 10)
        writeText(deflated, into: &buffer, firstByte: 0xC1)
        return buffer
    }

    /// Appends a final text frame holding `payload` to `buffer`, for several
    /// frames that travel as one buffer.
    static func writeText(_ payload: [UInt8], into buffer: inout ByteBuffer) {
        writeText(payload, into: &buffer, firstByte: 0x81)  // FIN + opcode 1 (text)
    }

    private static func writeText(_ payload: [UInt8], into buffer: inout ByteBuffer, firstByte: UInt8) {
        buffer.writeInteger(firstByte)
        switch payload.count {
        case ..<126:
            buffer.writeInteger(UInt8(payload.count))
        case ..<65_536:
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(payload.count))
        default:
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(payload.count))
        }
        buffer.writeBytes(payload)
    }
}
