import NIOCore
import NIOPosix

/// A plain TCP connection for tests of what a node does with sockets that
/// misbehave below HTTP: silent, half-sent, or speaking raw bytes.
public final class RawTCPClient: Sendable {
    private let channel: any Channel
    private let received: EventQueue<[UInt8]>

    private init(channel: any Channel, received: EventQueue<[UInt8]>) {
        self.channel = channel
        self.received = received
    }

    /// Connects to `port` (on loopback unless `host` says otherwise) and sends nothing.
    public static func connect(host: String = "127.0.0.1", port: Int) async throws -> RawTCPClient {
        let received = EventQueue<[UInt8]>()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(received: received))
                }
            }
            .connect(host: host, port: port)
            .get()
        return RawTCPClient(channel: channel, received: received)
    }

    /// Sends `text` as is.
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Sends `bytes` as they are.
    public func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Waits until the server closes the connection, reading whatever it
    /// sends meanwhile; returns everything it sent, or nil if it did not
    /// close within `timeout`.
    public func waitForClose(timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        while ContinuousClock.now < deadline {
            guard let chunk = await received.next(timeout: deadline - ContinuousClock.now) else { return nil }
            if chunk.isEmpty { return String(decoding: bytes, as: UTF8.self) }
            bytes += chunk
        }
        return nil
    }

    /// Closes the connection from this side.
    public func close() async {
        try? await channel.close()
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let received: EventQueue<[UInt8]>

        init(received: EventQueue<[UInt8]>) {
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received.push(Array(unwrapInboundIn(data).readableBytesView))
        }

        func channelInactive(context: ChannelHandlerContext) {
            // An empty chunk marks the end.
            received.push([])
        }
    }
}
