import Histogram
import NIOCore
import NIOPosix

/// A lean WebSocket receiver for the fan-out benchmark: it parses frames on
/// its event loop and records each line's latency into its own histogram,
/// so the benchmark client costs far less than the nodes it measures.
final class LatencyProbe: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<ProbeHandler>

    private init(channel: any Channel, handler: NIOLoopBound<ProbeHandler>) {
        self.channel = channel
        self.handler = handler
    }

    /// Connects, upgrades and sends `hello` as `nick`.
    static func connect(port: Int, nick: String, origin: ContinuousClock.Instant) async throws -> LatencyProbe {
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
        var request = "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat.v1.json\r\n\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request))
        try await channel.writeAndFlush(maskedTextFrame(#"{"type":"hello","nick":"\#(nick)"}"#))
        return LatencyProbe(channel: channel, handler: handler)
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
        let payload = Array(text.utf8)
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(0x81))
        if payload.count < 126 {
            buffer.writeInteger(UInt8(0x80 | payload.count))
        } else {
            buffer.writeInteger(UInt8(0x80 | 126))
            buffer.writeInteger(UInt16(payload.count))
        }
        buffer.writeBytes([0, 0, 0, 0])  // a zero mask leaves the payload as is
        buffer.writeBytes(payload)
        return buffer
    }
}

final class ProbeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

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
        while let payload = nextFrame() {
            // Only broadcast lines; a welcome's history may contain markers too.
            guard payload.starts(with: Self.messagePrefix), let range = payload.firstRange(of: Self.marker) else { continue }
            var value: UInt64 = 0
            for byte in payload[range.upperBound...] {
                guard byte >= 0x30 && byte <= 0x39 else { break }
                value = value * 10 + UInt64(byte - 0x30)
            }
            let elapsed = ContinuousClock.now - origin
            let now = UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
            _ = histogram.record(now > value ? now - value : 0)
        }
        buffer.discardReadBytes()
    }

    private func nextFrame() -> [UInt8]? {
        let view = buffer.readableBytesView
        guard view.count >= 2 else { return nil }
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
        buffer.moveReaderIndex(forwardBy: header)
        return buffer.readBytes(length: length)
    }
}
