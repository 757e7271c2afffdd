import Histogram
import NIOCore
import NIOPosix

/// A lean WebSocket receiver for the fan-out benchmark: it parses frames on
/// its event loop and records each line's latency into its own histogram,
/// so the benchmark client costs far less than the nodes it measures.
final class LatencyProbe: Sendable {
    let channel: any Channel
    /// The room it joined (v3), which its lines go to.
    let room: String?
    private let handler: NIOLoopBound<ProbeHandler>

    private init(channel: any Channel, room: String?, handler: NIOLoopBound<ProbeHandler>) {
        self.channel = channel
        self.room = room
        self.handler = handler
    }

    /// Connects, upgrades and sends `hello` as `nick`, then (v3) `join` for `room`.
    static func connect(
        port: Int, nick: String, subprotocol: String = "chat.v1.json", room: String? = nil, origin: ContinuousClock.Instant
    ) async throws -> LatencyProbe {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProbeHandler(origin: origin))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: ProbeHandler.self), eventLoop: channel.eventLoop)
        }.get()
        try await channel.writeAndFlush(ByteBuffer.upgradeRequest(port: port, subprotocol: subprotocol))
        try await channel.writeAndFlush(maskedTextFrame(#"{"type":"hello","nick":"\#(nick)"}"#))
        if let room { try await channel.writeAndFlush(maskedTextFrame(#"{"type":"join","room":"\#(room)"}"#)) }
        return LatencyProbe(channel: channel, room: room, handler: handler)
    }

    /// Sends one text frame.
    func send(_ text: String) async throws {
        try await channel.writeAndFlush(Self.maskedTextFrame(text))
    }

    /// The latencies recorded so far, and how many lines arrived.
    func histogram() async throws -> Histogram<UInt64> {
        try await channel.eventLoop.submit { self.handler.value.histogram }.get()
    }

    static func maskedTextFrame(_ text: String) -> ByteBuffer {
        ByteBuffer.maskedClientFrame(Array(text.utf8))
    }
}

final class ProbeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let origin: ContinuousClock.Instant
    private var buffer = ByteBuffer()
    private var isUpgraded = false
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    private static let marker = Array(#""text":"t="#.utf8)
    private static let messagePrefix = Array(#"{"type":"message""#.utf8)

    init(origin: ContinuousClock.Instant) {
        self.origin = origin
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        if !isUpgraded {
            guard let end = buffer.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
            buffer.moveReaderIndex(to: end.upperBound)
            isUpgraded = true
        }
        while let frame = buffer.readServerFrame() {
            if frame.opcode == 0x9 {
                // Answer the server's heartbeat, or a receiver that never speaks is dropped after two intervals.
                context.writeAndFlush(wrapOutboundOut(.maskedClientFrame(opcode: 0xA, Array(frame.payload.readableBytesView))), promise: nil)
                continue
            }
            // Only broadcast lines; a welcome's history may contain markers too.
            guard let value = frame.payload.withUnsafeReadableBytes({ Self.sentAt(in: $0) }) else { continue }
            let elapsed = ContinuousClock.now - origin
            let now = UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
            _ = histogram.record(now > value ? now - value : 0)
        }
        buffer.discardReadBytes()
    }

    /// The send time (µs) in a `message` event's text (`t=…`), found with
    /// `ByteScan` rather than a generic search: the probes must cost far less
    /// than the servers they measure.
    private static func sentAt(in payload: UnsafeRawBufferPointer) -> UInt64? {
        guard ByteScan.end(of: messagePrefix, in: payload) == messagePrefix.count, let start = ByteScan.end(of: marker, in: payload) else { return nil }
        var value: UInt64 = 0
        var offset = start
        while offset < payload.count, payload[offset] >= 0x30, payload[offset] <= 0x39 {
            value = value * 10 + UInt64(payload[offset] - 0x30)
            offset += 1
        }
        return value
    }
}
