import ChatProtocol
import NIOCore
import NIOPosix

/// A deliberately raw WebSocket client for tests: it writes the handshake
/// and frames by hand, so tests can send what a well-behaved client never
/// would (binary, fragments, bad UTF-8, no pongs) and can stop reading.
public final class WebSocketTestClient: Sendable {
    /// What the client observed, in order.
    public enum Event: Sendable, Equatable {
        case text(String)
        /// A text message sent compressed (RSV1): its raw deflate data.
        case compressed([UInt8])
        case close(code: UInt16?, reason: String)
        case ping
        case pong
        /// The TCP connection ended.
        case disconnected
    }

    /// The server's answer to the upgrade request.
    public struct HandshakeResponse: Sendable {
        public let status: Int
        public let headers: [(String, String)]
        public let body: String

        /// The first value of a header, case-insensitively.
        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    public let handshake: HandshakeResponse
    private let channel: any Channel
    private let events: EventQueue<Event>
    /// Inflates compressed messages for `nextMessage`; without it they are skipped as unreadable.
    private let inflate: (@Sendable ([UInt8]) -> [UInt8]?)?

    private init(channel: any Channel, handshake: HandshakeResponse, events: EventQueue<Event>, inflate: (@Sendable ([UInt8]) -> [UInt8]?)?) {
        self.channel = channel
        self.handshake = handshake
        self.events = events
        self.inflate = inflate
    }

    /// Opens a connection and performs the handshake. Check `handshake.status`
    /// (101 when upgraded) before using a refused client.
    public static func connect(
        port: Int,
        host: String = "127.0.0.1",
        path: String = "/chat",
        subprotocols: [String]? = ["chat.v1.json"],
        origin: String? = nil,
        hostHeader: String? = nil,
        extensions: String? = nil,
        inflate: (@Sendable ([UInt8]) -> [UInt8]?)? = nil,
        autoPong: Bool = true,
        receiveBufferBytes: Int? = nil
    ) async throws -> WebSocketTestClient {
        let events = EventQueue<Event>()
        let handshakes = EventQueue<HandshakeResponse>()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let receiveBufferBytes {
            // A small window, like a client on a slow link: what it does not read backs up at the server sooner.
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferBytes))
        }
        let channel = try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RawWebSocketClientHandler(events: events, handshakes: handshakes, autoPong: autoPong)
                    )
                }
            }
            .connect(host: host, port: port)
            .get()
        var request = "GET \(path) HTTP/1.1\r\nHost: \(hostHeader ?? "\(host):\(port)")\r\n"
        request += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        if let subprotocols { request += "Sec-WebSocket-Protocol: \(subprotocols.joined(separator: ", "))\r\n" }
        if let origin { request += "Origin: \(origin)\r\n" }
        if let extensions { request += "Sec-WebSocket-Extensions: \(extensions)\r\n" }
        request += "\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request))
        guard let response = await handshakes.next(timeout: .seconds(10)) else {
            throw TestSupportError("no handshake response")
        }
        return WebSocketTestClient(channel: channel, handshake: response, events: events, inflate: inflate)
    }

    /// Sends one text frame.
    public func send(_ text: String) async throws {
        try await sendFrame(opcode: 0x1, payload: Array(text.utf8))
    }

    /// Sends one frame exactly as given (masked, as clients must).
    public func sendFrame(opcode: UInt8, payload: [UInt8], fin: Bool = true, rsv1: Bool = false) async throws {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode))
        if payload.count < 126 {
            buffer.writeInteger(UInt8(0x80 | payload.count))
        } else if payload.count <= 0xFFFF {
            buffer.writeInteger(UInt8(0x80 | 126))
            buffer.writeInteger(UInt16(payload.count))
        } else {
            buffer.writeInteger(UInt8(0x80 | 127))
            buffer.writeInteger(UInt64(payload.count))
        }
        let mask: [UInt8] = (0..<4).map { _ in UInt8.random(in: 0...255) }
        buffer.writeBytes(mask)
        buffer.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        try await channel.writeAndFlush(buffer)
    }

    /// Sends bytes as they are, with no framing: for headers no client would write.
    public func sendRaw(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Sends a close frame with `code`.
    public func sendClose(code: UInt16 = 1000) async throws {
        try await sendFrame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)])
    }

    /// The next event, or nil when none arrives within `timeout`.
    public func next(timeout: Duration = .seconds(5)) async -> Event? {
        await events.next(timeout: timeout)
    }

    /// The next event, waiting as long as it takes; nil once the connection ended.
    public func next() async -> Event? {
        await events.next()
    }

    /// The next text message as a JSON object, skipping pings; nil on timeout or another event.
    public func nextMessage(timeout: Duration = .seconds(5)) async -> [String: JSONValue]? {
        while let event = await next(timeout: timeout) {
            switch event {
            case .ping, .pong: continue
            case .text(let text):
                guard case .object(let object) = try? JSONParser.parse(text) else { return nil }
                return object
            case .compressed(let data):
                guard let inflated = inflate?(data), case .object(let object) = try? JSONParser.parse(inflated) else { return nil }
                return object
            default: return nil
            }
        }
        return nil
    }

    /// Waits for the connection to end; returns the close code the server sent, if any.
    public func closeCode(timeout: Duration = .seconds(5)) async -> UInt16?? {
        while let event = await next(timeout: timeout) {
            switch event {
            case .close(let code, _): return .some(code)
            case .disconnected: return .some(nil)
            default: continue
            }
        }
        return nil
    }

    /// Stops reading from the socket, like a client that hangs.
    public func pauseReading() async throws {
        try await channel.setOption(ChannelOptions.autoRead, value: false)
    }

    /// Drops the TCP connection without a close frame.
    public func disconnect() async {
        try? await channel.close()
    }
}

/// Parses the handshake response, then unmasked server frames.
private final class RawWebSocketClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let events: EventQueue<WebSocketTestClient.Event>
    private let handshakes: EventQueue<WebSocketTestClient.HandshakeResponse>
    private let autoPong: Bool
    private var buffer = ByteBuffer()
    private var isUpgraded = false
    private var sentClose = false
    private var pendingResponse: (status: Int, headers: [(String, String)], bodyLength: Int)?

    init(events: EventQueue<WebSocketTestClient.Event>, handshakes: EventQueue<WebSocketTestClient.HandshakeResponse>, autoPong: Bool) {
        self.events = events
        self.handshakes = handshakes
        self.autoPong = autoPong
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        if !isUpgraded { parseHandshake(context: context) }
        if isUpgraded { parseFrames(context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let events = self.events
        let handshakes = self.handshakes
        if !isUpgraded, let pending = pendingResponse {
            let body = buffer.readString(length: buffer.readableBytes) ?? ""
            handshakes.push(.init(status: pending.status, headers: pending.headers, body: body))
        }
        events.push(.disconnected)
        events.finish()
        handshakes.finish()
    }

    private func parseHandshake(context: ChannelHandlerContext) {
        if pendingResponse == nil {
            let view = buffer.readableBytesView
            guard let end = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
            let headText = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
            buffer.moveReaderIndex(to: end.upperBound)
            var lines = headText.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            let status = statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0
            let headers = lines.compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
            pendingResponse = (status, headers, length)
        }
        guard let pending = pendingResponse else { return }
        if pending.status == 101 {
            isUpgraded = true
            let handshakes = self.handshakes
            handshakes.push(.init(status: 101, headers: pending.headers, body: ""))
        } else if buffer.readableBytes >= pending.bodyLength {
            let body = buffer.readString(length: pending.bodyLength) ?? ""
            pendingResponse = nil
            let handshakes = self.handshakes
            handshakes.push(.init(status: pending.status, headers: pending.headers, body: body))
        }
    }

    private func parseFrames(context: ChannelHandlerContext) {
        while true {
            let view = buffer.readableBytesView
            guard view.count >= 2 else { return }
            let first = view[view.startIndex]
            let second = view[view.startIndex + 1]
            var headerLength = 2
            var length = Int(second & 0x7F)
            if length == 126 {
                guard view.count >= 4 else { return }
                length = Int(view[view.startIndex + 2]) << 8 | Int(view[view.startIndex + 3])
                headerLength = 4
            } else if length == 127 {
                guard view.count >= 10 else { return }
                length = (0..<8).reduce(0) { $0 << 8 | Int(view[view.startIndex + 2 + $1]) }
                headerLength = 10
            }
            guard view.count >= headerLength + length else { return }
            buffer.moveReaderIndex(forwardBy: headerLength)
            let payload = buffer.readBytes(length: length) ?? []
            let event: WebSocketTestClient.Event
            switch first & 0x0F {
            case 0x1 where first & 0x40 != 0:
                event = .compressed(payload)
            case 0x1, 0x0:
                event = .text(String(decoding: payload, as: UTF8.self))
            case 0x8:
                let code = payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
                event = .close(code: code, reason: String(decoding: payload.dropFirst(2), as: UTF8.self))
                if autoPong && !sentClose {
                    // Answer like a real client, so the server can finish its close handshake.
                    sentClose = true
                    var reply = ByteBuffer()
                    let code = Array(payload.prefix(2))
                    reply.writeBytes([0x88, 0x80 | UInt8(code.count), 0, 0, 0, 0] + code)
                    context.writeAndFlush(NIOAny(reply), promise: nil)
                }
            case 0x9:
                event = .ping
                if autoPong {
                    var pong = ByteBuffer()
                    pong.writeBytes([0x8A, 0x80, 0, 0, 0, 0])
                    context.writeAndFlush(NIOAny(pong), promise: nil)
                }
            case 0xA:
                event = .pong
            default:
                event = .text("<opcode \(first & 0x0F)>")
            }
            events.push(event)
        }
    }
}
