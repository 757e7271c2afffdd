import NIOCore

/// One frame a server sent: unmasked, so its payload is read as is.
struct ReceivedFrame {
    var opcode: UInt8
    /// RSV1: the message is compressed with permessage-deflate.
    var isCompressed: Bool
    var payload: ByteBuffer
}

extension ByteBuffer {
    /// Reads the next complete server frame, or nil when more bytes are needed.
    mutating func readServerFrame() -> ReceivedFrame? {
        let view = readableBytesView
        guard view.count >= 2 else { return nil }
        let opcode = view[view.startIndex] & 0x0F
        let isCompressed = view[view.startIndex] & 0x40 != 0
        var length = Int(view[view.startIndex + 1] & 0x7F)
        var header = 2
        if length == 126 {
            guard view.count >= 4 else { return nil }
            length = Int(view[view.startIndex + 2]) << 8 | Int(view[view.startIndex + 3])
            header = 4
        } else if length == 127 {
            guard view.count >= 10 else { return nil }
            length = (0..<8).reduce(0) { $0 << 8 | Int(view[view.startIndex + 2 + $1]) }
            header = 10
        }
        guard view.count >= header + length else { return nil }
        moveReaderIndex(forwardBy: header)
        return ReceivedFrame(opcode: opcode, isCompressed: isCompressed, payload: readSlice(length: length)!)
    }

    /// A client frame: masked with a zero key, which leaves the payload as is.
    static func maskedClientFrame(opcode: UInt8 = 0x1, _ payload: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(0x80 | opcode))
        if payload.count < 126 {
            buffer.writeInteger(UInt8(0x80 | payload.count))
        } else {
            buffer.writeInteger(UInt8(0x80 | 126))
            buffer.writeInteger(UInt16(payload.count))
        }
        buffer.writeBytes([0, 0, 0, 0])
        buffer.writeBytes(payload)
        return buffer
    }

    /// The request that opens a WebSocket on `/chat` speaking `subprotocol`,
    /// offering permessage-deflate as browsers do when `offersCompression`.
    static func upgradeRequest(port: Int, subprotocol: String = "chat.v1.json", offersCompression: Bool = false) -> ByteBuffer {
        var request = "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        if offersCompression { request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" }
        request += "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: \(subprotocol)\r\n\r\n"
        return ByteBuffer(string: request)
    }
}
