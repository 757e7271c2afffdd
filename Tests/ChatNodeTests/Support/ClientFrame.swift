import NIOCore
import NIOWebSocket

/// A client's frame as bytes on the wire, for feeding a transport handler
/// the way a socket would.
enum ClientFrame {
    /// The bytes of a frame carrying `payload`, masked unless `masked` is false.
    static func bytes(
        _ opcode: WebSocketOpcode,
        _ payload: [UInt8],
        fin: Bool = true,
        rsv1: Bool = false,
        masked: Bool = true
    ) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | UInt8(webSocketOpcode: opcode))
        let maskBit: UInt8 = masked ? 0x80 : 0
        switch payload.count {
        case ..<126:
            frame.writeInteger(maskBit | UInt8(payload.count))
        case ..<65_536:
            frame.writeInteger(maskBit | 126)
            frame.writeInteger(UInt16(payload.count))
        default:
            frame.writeInteger(maskBit | 127)
            frame.writeInteger(UInt64(payload.count))
        }
        guard masked else {
            frame.writeBytes(payload)
            return frame
        }
        let key: [UInt8] = [1, 2, 3, 4]
        frame.writeBytes(key)
        frame.writeBytes(payload.enumerated().map { $0.element ^ key[$0.offset % 4] })
        return frame
    }

    /// The bytes of a text frame carrying `text`, masked.
    static func text(_ text: String) -> ByteBuffer {
        bytes(.text, Array(text.utf8))
    }
}

extension ByteBuffer {
    /// The two buffers' bytes, one after the other.
    static func + (lhs: ByteBuffer, rhs: ByteBuffer) -> ByteBuffer {
        var joined = lhs
        joined.writeImmutableBuffer(rhs)
        return joined
    }
}
