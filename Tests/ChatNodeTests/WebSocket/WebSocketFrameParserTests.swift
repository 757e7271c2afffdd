import NIOCore
import NIOWebSocket
import Testing

@testable import ChatNode

@Suite("WebSocket frames: parsed from a connection's bytes (RFC 6455 §5.2)")
struct WebSocketFrameParserTests {
    private let parser = WebSocketFrameParser(maximumFrameBytes: 70_000)

    @Test("payload lengths in 7, 16 and 64 bits, masked, with their bits", arguments: [0, 125, 126, 65_535, 65_536])
    func lengths(_ count: Int) throws {
        let payload = (0..<count).map { UInt8(truncatingIfNeeded: $0) }
        var bytes = ClientFrame.bytes(.text, payload, fin: false, rsv1: true)
        let frame = try #require(try parser.nextFrame(from: &bytes))
        #expect(frame.opcode == .text)
        #expect(!frame.fin)
        #expect(frame.rsv1 && !frame.rsv2 && !frame.rsv3)
        #expect(frame.maskKey != nil)
        #expect(Array(frame.unmaskedData.readableBytesView) == payload)
        #expect(bytes.readableBytes == 0)
    }

    @Test("an incomplete frame consumes nothing, at every cut")
    func incomplete() throws {
        let whole = ClientFrame.bytes(.text, Array(repeating: 0x61, count: 300))
        for cut in 0..<whole.readableBytes {
            var part = whole.getSlice(at: 0, length: cut)!
            #expect(try parser.nextFrame(from: &part) == nil)
            #expect(part.readableBytes == cut)
        }
    }

    @Test("an unmasked frame parses without a key (the transport refuses it)")
    func unmasked() throws {
        var bytes = ClientFrame.bytes(.text, [0x61], masked: false)
        let frame = try #require(try parser.nextFrame(from: &bytes))
        #expect(frame.maskKey == nil)
        #expect(Array(frame.data.readableBytesView) == [0x61])
    }

    @Test("the limits: a payload over the maximum, a control frame over 125 bytes or fragmented; each refusal knows the frame's length")
    func limits() throws {
        var tooLong = ClientFrame.bytes(.text, Array(repeating: 0, count: 70_001))
        #expect(throws: WebSocketFrameParser.Failure(reason: .frameTooLarge, frameBytes: 70_015)) { try parser.nextFrame(from: &tooLong) }
        var longPing = ClientFrame.bytes(.ping, Array(repeating: 0, count: 126))
        #expect(throws: WebSocketFrameParser.Failure(reason: .invalidControlFrame, frameBytes: 134)) { try parser.nextFrame(from: &longPing) }
        var fragmentedClose = ClientFrame.bytes(.connectionClose, [3, 232], fin: false)
        #expect(throws: WebSocketFrameParser.Failure(reason: .invalidControlFrame, frameBytes: 8)) { try parser.nextFrame(from: &fragmentedClose) }
    }

    @Test("a server control frame is final, unmasked, and reads back as sent")
    func controlFrame() throws {
        var bytes = WebSocketFrameParser.controlFrame(.pong, payload: ByteBuffer(bytes: [1, 2, 3]), allocator: ByteBufferAllocator())
        #expect(bytes.getBytes(at: 0, length: 2) == [0x8A, 3])
        let frame = try #require(try parser.nextFrame(from: &bytes))
        #expect(frame.fin && frame.opcode == .pong && frame.maskKey == nil)
        #expect(Array(frame.data.readableBytesView) == [1, 2, 3])
    }

    @Test("the handshake's accept value is RFC 6455's own example")
    func acceptValue() {
        #expect(WebSocketHandshake<Int>.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }
}
