import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import ChatNode

@Suite("WebSocket transport handler: the transport rules, without a socket")
struct WebSocketConnectionHandlerTests {
    private let loop = EmbeddedEventLoop()
    private let channel: EmbeddedChannel
    private let handler: WebSocketConnectionHandler
    private let received = ConnectionEventRecorder()

    init() throws {
        let delivery = LoopDelivery(eventLoop: loop, pingInterval: .seconds(1))
        handler = WebSocketConnectionHandler(
            settings: .init(maximumMessageBytes: 16, pingInterval: .seconds(1), closeTimeout: .seconds(1), inflater: nil),
            delivery: delivery
        )
        channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(handler)
        handler.attach(received)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    private func send(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, masked: Bool = true) throws {
        try channel.writeInbound(ClientFrame.bytes(opcode, bytes, fin: fin, masked: masked))
    }

    /// The next frame the handler wrote.
    private func sentFrame() throws -> WebSocketFrame? {
        guard var bytes = try channel.readOutbound(as: ByteBuffer.self) else { return nil }
        return try WebSocketFrameParser(maximumFrameBytes: 125).nextFrame(from: &bytes)
    }

    /// The close frame the handler sent, as code and reason.
    private func sentClose() throws -> (code: Int, reason: String)? {
        while let frame = try sentFrame() {
            guard frame.opcode == .connectionClose else { continue }
            var data = frame.data
            guard let code = data.readInteger(as: UInt16.self) else { return nil }
            return (Int(code), String(buffer: data))
        }
        return nil
    }

    @Test("a complete text message goes to the session as one message")
    func textMessage() throws {
        try send(.text, Array("hello".utf8))
        #expect(received.messages == [Array("hello".utf8)])
    }

    @Test("fragments are assembled into one message")
    func fragments() throws {
        try send(.text, Array("hel".utf8), fin: false)
        try send(.continuation, Array("lo".utf8))
        #expect(received.messages == [Array("hello".utf8)])
    }

    @Test("an unmasked frame closes with 1002")
    func unmasked() throws {
        try send(.text, Array("x".utf8), masked: false)
        #expect(try sentClose()?.code == 1002)
        #expect(received.messages.isEmpty)
    }

    @Test("a binary frame closes with 1003")
    func binary() throws {
        try send(.binary, [1, 2, 3])
        #expect(try sentClose()?.code == 1003)
    }

    @Test("a message over the size limit, whole or assembled, closes with 1009")
    func tooLarge() throws {
        try send(.text, Array(repeating: 0x61, count: 10), fin: false)
        try send(.continuation, Array(repeating: 0x61, count: 10))
        #expect(try sentClose()?.code == 1009)
        #expect(received.messages.isEmpty)
    }

    @Test("text that is not UTF-8 closes with 1007")
    func invalidUTF8() throws {
        try send(.text, [0xC3, 0x28])
        #expect(try sentClose()?.code == 1007)
    }

    @Test("frames split across reads, and several in one read, arrive as they were sent")
    func framesAcrossReads() throws {
        var bytes = ClientFrame.bytes(.text, Array("hel".utf8), fin: false)
        bytes.writeImmutableBuffer(ClientFrame.bytes(.continuation, Array("lo".utf8)))
        bytes.writeImmutableBuffer(ClientFrame.text("again"))
        while let byte = bytes.readSlice(length: 1) {
            try channel.writeInbound(byte)
        }
        try channel.writeInbound(ClientFrame.text("a") + ClientFrame.text("b"))
        #expect(received.messages == [Array("hello".utf8), Array("again".utf8), Array("a".utf8), Array("b".utf8)])
    }

    @Test("a frame declaring more than the limit closes with 1009 from its header, before its payload arrives")
    func oversizedFrameHeader() throws {
        var header = ClientFrame.bytes(.text, Array(repeating: 0x61, count: 17))
        try channel.writeInbound(header.readSlice(length: 2)!)
        #expect(try sentClose()?.code == 1009)
    }

    @Test("after a refused frame, the frames behind it are read: the client's close ends the handshake at once")
    func readsPastARefusedFrame() throws {
        let tooLarge = ClientFrame.bytes(.text, Array(repeating: 0x61, count: 17))
        try channel.writeInbound(tooLarge.getSlice(at: 0, length: 10)!)
        #expect(try sentClose()?.code == 1009)
        #expect(channel.isActive)
        try channel.writeInbound(tooLarge.getSlice(at: 10, length: tooLarge.readableBytes - 10)! + ClientFrame.bytes(.connectionClose, [0x03, 0xF1]))
        #expect(!channel.isActive)
    }

    @Test("a fragmented or long control frame closes with 1002, and what follows is ignored")
    func invalidControlFrames() throws {
        try send(.ping, [1], fin: false)
        #expect(try sentClose()?.code == 1002)
        try send(.text, Array("ignored".utf8))
        #expect(received.messages.isEmpty)
    }

    @Test("reads wait while the session holds them back and go on when it resumes them; the session hears the end once")
    func readsAndEnd() throws {
        let reads = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(reads, position: .first)
        channel.read()
        #expect(reads.count == 1)
        received.isReading = false
        channel.read()
        #expect(reads.count == 1)
        handler.resumeReading()
        #expect(reads.count == 2)
        #expect(!received.hasEnded)
        _ = try channel.finish()
        #expect(received.hasEnded)
    }

    @Test("a ping is answered with a pong carrying its data")
    func ping() throws {
        try send(.ping, [7, 8])
        let pong = try sentFrame()
        #expect(pong?.opcode == .pong)
        #expect(pong.map { Array($0.data.readableBytesView) } == [7, 8])
    }

    @Test("the client's close is echoed with its code, then the connection closes")
    func closeHandshake() throws {
        try send(.connectionClose, [0x03, 0xE8])
        #expect(try sentClose()?.code == 1000)
        #expect(!channel.isActive)
    }

    @Test("a close frame with a code no endpoint may send is answered with 1002")
    func forbiddenCloseCode() throws {
        try send(.connectionClose, [0x03, 0xED])
        #expect(try sentClose()?.code == 1002)
    }

    @Test("a peer silent for two ping intervals is reported to the session and dropped; one that answers is pinged")
    func heartbeat() throws {
        let start = NIODeadline.now()
        handler.heartbeat(now: start + .milliseconds(500))
        handler.heartbeat(now: start + .milliseconds(1000))
        #expect(try sentFrame()?.opcode == .ping)
        #expect(channel.isActive)
        handler.heartbeat(now: start + .seconds(3))
        #expect(received.timedOut)
        #expect(!channel.isActive)
    }

    @Test("after our close frame, the client's close completes the handshake")
    func ourCloseFirst() throws {
        handler.close(code: .goingAway, reason: "node shutting down")
        let close = try sentClose()
        #expect(close?.code == 1001)
        #expect(close?.reason == "node shutting down")
        #expect(channel.isActive)
        try send(.connectionClose, [0x03, 0xE9])
        #expect(!channel.isActive)
    }
}

/// What the transport handler passes on to the session.
final class ConnectionEventRecorder: ConnectionEventReceiver {
    private(set) var messages: [[UInt8]] = []
    private(set) var timedOut = false
    private(set) var hasEnded = false
    /// Whether reads go on; while false, the transport holds NIO's reads back.
    var isReading = true

    func receive(_ event: ConnectionEvent) {
        switch event {
        case .message(let bytes): messages.append(bytes)
        case .heartbeatTimedOut: timedOut = true
        }
    }

    func readRequested() -> Bool {
        isReading
    }

    func connectionEnded() {
        hasEnded = true
    }
}

/// Counts the reads that reach it from the handlers after it.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Never
    private(set) var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}
