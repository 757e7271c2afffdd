import ChatProtocol
import NIOCore
import TestSupport
import Testing

@testable import ChatNode

@Suite("permessage-deflate")
struct CompressionTests {
    private static let browserOffer = "permessage-deflate; client_max_window_bits"
    private static let answer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

    /// What a test client uses to read the node's compressed messages.
    private static let inflate: @Sendable ([UInt8]) -> [UInt8]? = { data in
        var buffer = ByteBuffer()
        buffer.writeBytes(data)
        return try? MessageInflater().inflate(buffer, limit: 1 << 20).readableBytesView.map { $0 }
    }

    private func sendCompressed(_ text: String, on client: WebSocketTestClient) async throws {
        let deflated = try #require(MessageDeflater().compress(Array(text.utf8)))
        try await client.sendFrame(opcode: 0x1, payload: deflated, rsv1: true)
    }

    /// A client that negotiated compression and joined as `zip` with a compressed hello.
    private func joinedCompressing(on node: TestNode) async throws -> WebSocketTestClient {
        let zipped = try await node.connect(extensions: Self.browserOffer, inflate: Self.inflate)
        try await sendCompressed(#"{"type":"hello","nick":"zip","ref":"h"}"#, on: zipped)
        #expect(await zipped.nextMessage()?.string("ref") == "h")
        return zipped
    }

    @Test("a browser's offer is answered with no context takeover both ways")
    func negotiation() async throws {
        try await withNode { node in
            let client = try await node.connect(extensions: Self.browserOffer)
            #expect(client.handshake.status == 101)
            #expect(client.handshake.header("Sec-WebSocket-Extensions") == Self.answer)
        }
    }

    @Test("an offer the node cannot take is ignored: the connection goes on uncompressed", arguments: [
        "permessage-deflate; server_max_window_bits=10", "permessage-deflate; unknown_parameter", "x-webkit-deflate-frame",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
    ])
    func declinedOffers(_ offer: String) async throws {
        try await withNode { node in
            let client = try await node.connect(extensions: offer)
            #expect(client.handshake.status == 101)
            #expect(client.handshake.header("Sec-WebSocket-Extensions") == nil)
        }
        let acceptedLater = PermessageDeflate.negotiate(offers: ["\(offer), permessage-deflate"])
        #expect(acceptedLater == Self.answer)
    }

    @Test("--compression off accepts no offer")
    func off() async throws {
        try await withNode({ $0.compression = false }) { node in
            let client = try await node.connect(extensions: Self.browserOffer)
            #expect(client.handshake.status == 101)
            #expect(client.handshake.header("Sec-WebSocket-Extensions") == nil)
        }
    }

    @Test("compressed messages in, one shared compressed copy out (when smaller); plain clients unaffected")
    func roundTrip() async throws {
        try await withNode { node in
            let zipped = try await joinedCompressing(on: node)
            let (plain, _) = try await node.join("plain")
            let long = String(repeating: "compress me please ", count: 40)
            try await plain.send(#"{"type":"say","text":"\#(long)"}"#)
            // Small events (plain's `joined`) may come compressed or not, whichever is smaller.
            var sawCompressedLine = false
            while let event = await zipped.next(timeout: .seconds(5)) {
                guard case .compressed(let data) = event, let inflated = Self.inflate(data) else { continue }
                if String(decoding: inflated, as: UTF8.self).hasPrefix(#"{"type":"message""#) {
                    sawCompressedLine = true
                    break
                }
            }
            #expect(sawCompressedLine, "a long broadcast reaches a compressing client compressed")
            #expect(await plain.next(ofType: "message")?.string("text") == long)
            try await sendCompressed(#"{"type":"say","text":"\#(long)","ref":"z"}"#, on: zipped)
            let echoed = await zipped.next(ofType: "message")
            #expect(echoed?.string("text") == long)
            #expect(echoed?.string("ref") == "z")
            #expect(await plain.next(ofType: "message")?.string("text") == long)
            try await zipped.send(#"{"type":"ping","ref":"p"}"#)
            let pong = await zipped.next(timeout: .seconds(5))
            #expect(pong == .text(#"{"type":"pong","ref":"p"}"#))
        }
    }

    @Test("the size limit applies after inflating: a small message that inflates beyond 16384 bytes is closed with 1009")
    func inflateLimit() async throws {
        try await withNode { node in
            let client = try await node.connect(extensions: Self.browserOffer)
            let bomb = #"{"type":"say","text":""# + String(repeating: "a", count: 20_000) + #""}"#
            let deflated = try #require(MessageDeflater().compress(Array(bomb.utf8)))
            #expect(deflated.count < 200)
            try await client.sendFrame(opcode: 0x1, payload: deflated, rsv1: true)
            #expect(await client.closeCode() == .some(1009))
        }
    }

    @Test("a message of 16384 bytes is accepted even when its compressed frame is longer (deflate's stored blocks add bytes)")
    func storedBlockAtTheLimit() async throws {
        try await withNode { node in
            let zipped = try await joinedCompressing(on: node)
            let head = #"{"type":"say","ref":"big","text":""#
            let message = Array((head + String(repeating: "a", count: 16_384 - head.utf8.count - 2) + #""}"#).utf8)
            #expect(message.count == 16_384)
            // One uncompressed ("stored") deflate block: 5 header bytes, then the message as it is.
            let length = UInt16(message.count)
            let stored = [0x00, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)] + message
            try await zipped.sendFrame(opcode: 0x1, payload: stored, rsv1: true)
            #expect(await zipped.nextMessage()?.string("ref") == "big", "answered, not closed with 1009")
        }
    }

    @Test("data that does not inflate is closed with 1007; RSV1 without compression with 1002")
    func badFrames() async throws {
        try await withNode { node in
            let zipped = try await node.connect(extensions: Self.browserOffer)
            try await zipped.sendFrame(opcode: 0x1, payload: [0xFF, 0xFF, 0xFF, 0x00, 0x12], rsv1: true)
            #expect(await zipped.closeCode() == .some(1007))
            let plain = try await node.connect()
            try await plain.sendFrame(opcode: 0x1, payload: Array(#"{"type":"ping"}"#.utf8), rsv1: true)
            #expect(await plain.closeCode() == .some(1002))
        }
    }
}
