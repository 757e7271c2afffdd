import NIOCore
import NIOEmbedded
import Testing

@testable import ChatNode

@Suite("Outbound buffer: one write per tick, a bound in bytes, nothing after a close frame")
struct OutboundBufferTests {
    /// One connection on an embedded loop, with its buffer next to the head.
    struct Connection {
        let loop: EmbeddedEventLoop
        let channel: EmbeddedChannel
        let buffer: OutboundBuffer
        let metrics: ChatMetrics

        init(maximumQueuedBytes: Int = 1 << 20, loop: EmbeddedEventLoop = EmbeddedEventLoop(), delivery: LoopDelivery? = nil, id: UInt64 = 1) throws {
            self.loop = loop
            self.metrics = ChatMetrics()
            let delivery = delivery ?? LoopDelivery(eventLoop: loop, pingInterval: .seconds(30))
            buffer = OutboundBuffer(
                connectionID: id, kind: RecipientKind(version: .v2, isCompressed: false),
                maximumQueuedBytes: maximumQueuedBytes, delivery: delivery, metrics: metrics
            )
            channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandler(buffer)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        /// Makes the socket (un)writable, as NIO reports it: the flag, then the event.
        func setWritable(_ isWritable: Bool) {
            channel.isWritable = isWritable
            channel.pipeline.fireChannelWritabilityChanged()
        }

        /// Everything written to the socket so far, one element per write.
        func written() throws -> [String] {
            try writtenBytes().map { String(decoding: $0, as: UTF8.self) }
        }

        /// The same, as bytes.
        func writtenBytes() throws -> [[UInt8]] {
            var writes: [[UInt8]] = []
            while let write = try channel.readOutbound(as: ByteBuffer.self) {
                writes.append(Array(write.readableBytesView))
            }
            return writes
        }
    }

    private static func frame(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test("frames queued in one tick leave together at its end, in order, in one write")
    func oneWritePerTick() throws {
        let connection = try Connection()
        connection.buffer.enqueue(Self.frame("a"))
        connection.buffer.enqueueBroadcast(Self.frame("b"), events: 1)
        connection.buffer.enqueue(Self.frame("c"))
        #expect(try connection.written().isEmpty)
        connection.loop.run()
        #expect(try connection.written() == ["abc"])
    }

    @Test("a large frame is written as the shared buffer itself, after the small ones before it")
    func largeFramesByReference() throws {
        let connection = try Connection()
        let large = String(repeating: "x", count: OutboundBuffer.gatherThreshold + 1)
        connection.buffer.enqueue(Self.frame("a"))
        connection.buffer.enqueue(Self.frame(large))
        connection.loop.run()
        #expect(try connection.written() == ["a", large])
    }

    @Test("while the socket cannot take more, frames wait; they leave once it can")
    func waitsForWritability() throws {
        let connection = try Connection()
        connection.setWritable(false)
        connection.buffer.enqueue(Self.frame("a"))
        connection.loop.run()
        #expect(try connection.written().isEmpty)
        #expect(connection.buffer.queuedBytes == 1)
        connection.setWritable(true)
        #expect(try connection.written() == ["a"])
    }

    @Test("a client that does not read past the bound is told it is too slow, and its queue is dropped and counted")
    func slowConsumer() throws {
        let connection = try Connection(maximumQueuedBytes: 10)
        let detector = SlowConsumerRecorder()
        try connection.channel.pipeline.syncOperations.addHandler(detector)
        connection.setWritable(false)
        for _ in 0..<3 { connection.buffer.enqueueBroadcast(Self.frame("12345"), events: 1) }
        #expect(detector.detected)
        #expect(connection.buffer.queuedBytes == 0)
        #expect(connection.metrics.render().contains("chat_slow_consumer_dropped_events_total 3\n"))
        // Nothing more is taken.
        connection.buffer.enqueue(Self.frame("late"))
        connection.setWritable(true)
        #expect(try connection.written().isEmpty)
    }

    @Test("a control frame written through the pipeline keeps its place after this tick's events")
    func controlFramesKeepTheirPlace() throws {
        let connection = try Connection()
        connection.buffer.enqueue(Self.frame("event"))
        connection.channel.writeAndFlush(Self.frame("\u{8A}pong"), promise: nil)
        #expect(try connection.written() == ["event", "\u{8A}pong"])
    }

    @Test("after a close frame nothing more is sent, and what waited for a backed-up socket is dropped")
    func nothingAfterClose() throws {
        let connection = try Connection()
        connection.setWritable(false)
        connection.buffer.enqueue(Self.frame("waiting"))
        var close = ByteBuffer()
        close.writeBytes([0x88, 0x02, 0x03, 0xE8])
        connection.channel.writeAndFlush(close, promise: nil)
        connection.buffer.enqueue(Self.frame("late"))
        connection.loop.run()
        #expect(try connection.writtenBytes() == [[0x88, 0x02, 0x03, 0xE8]])
    }
}

/// Records the buffer's word that the client is too slow.
final class SlowConsumerRecorder: ChannelInboundHandler {
    typealias InboundIn = Never
    private(set) var detected = false

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SlowConsumerDetected { detected = true }
    }
}
