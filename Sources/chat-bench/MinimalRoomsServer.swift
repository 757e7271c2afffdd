import ArgumentParser
import NIOCore
import NIOPosix
import NIOWebSocket

/// The fan-out floor for rooms: one process doing only what relaying a
/// chat.v3.json line to its room cannot avoid (read the frame, find its
/// room and text, encode the `message` once, hand it to every loop, write
/// it to each member), with no Redis, no order, no history, no presence and
/// no rules. `chat-bench fanout --rooms N` against it measures, for many
/// small rooms against one large room, what any server pays here per line
/// beyond its deliveries.
struct MinimalRoomsServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "minimal-rooms-server",
        abstract: "Run the least a chat.v3.json server must do to relay lines to rooms (the many-rooms floor)."
    )

    @Option(help: "Port to listen on") var port = 18092

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let loops = group.makeIterator().map { RoomsLoop(eventLoop: $0) }
        for loop in loops { loop.all = loops }
        try YardstickListener.serve(group: group, port: port, subprotocol: "chat.v3.json") { channel in
            MinimalRoomsHandler(loop: loops.first { $0.eventLoop === channel.eventLoop }!)
        }
    }
}

/// One event loop's members by room; touched on its loop only.
final class RoomsLoop: @unchecked Sendable {  // `all` is set once before the server starts; `rooms` only on `eventLoop`.
    let eventLoop: any EventLoop
    var all: [RoomsLoop] = []
    var rooms: [String: [MinimalRoomsHandler]] = [:]

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Hands the lines one read brought (by room, in order) to every loop,
    /// one task per loop, which writes each member all of its room's lines
    /// and flushes it once: a sender's burst reaches a member in one write.
    func broadcast(_ lines: [(room: String, payload: ByteBuffer)]) {
        for loop in all {
            loop.eventLoop.execute {
                var written: [ObjectIdentifier: MinimalRoomsHandler] = [:]
                for line in lines {
                    for member in loop.rooms[line.room] ?? [] {
                        member.write(line.payload, flush: false)
                        written[ObjectIdentifier(member)] = member
                    }
                }
                for member in written.values { member.flush() }
            }
        }
    }
}

/// One member: `hello` gets a welcome, `join` a room, `say` goes to the room.
final class MinimalRoomsHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let loop: RoomsLoop
    private var context: ChannelHandlerContext?
    private var joined: [String] = []
    /// The lines of the current read, handed out when the read completes.
    private var pending: [(room: String, payload: ByteBuffer)] = []

    private static let welcome = ByteBuffer(string: #"{"type":"welcome","nick":"x","node":"minimal","users":[],"history":[]}"#)

    init(loop: RoomsLoop) {
        self.loop = loop
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        for room in joined { loop.rooms[room]?.removeAll { $0 === self } }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.opcode == .text else {
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        let text = Array(frame.unmaskedData.readableBytesView)
        guard let type = Self.field("type", in: text) else { return }
        switch String(decoding: type, as: UTF8.self) {
        case "say":
            guard let room = Self.field("room", in: text), let line = Self.field("text", in: text) else { return }
            var json = Array(#"{"type":"message","room":""#.utf8)
            json += room
            json += Array(#"","id":"x","from":"x","text":""#.utf8)
            json += line
            json += Array(#"","ts":0}"#.utf8)
            pending.append((String(decoding: room, as: UTF8.self), ByteBuffer(bytes: json)))
        case "join":
            guard let room = Self.field("room", in: text) else { return }
            let name = String(decoding: room, as: UTF8.self)
            joined.append(name)
            loop.rooms[name, default: []].append(self)
            write(ByteBuffer(string: #"{"type":"room","room":"\#(name)","count":1,"users":[],"large":false,"history":[],"resumed":false}"#))
        case "hello":
            write(Self.welcome)
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !pending.isEmpty else { return }
        loop.broadcast(pending)
        pending = []
    }

    /// Sends one text message; NIO's frame encoder adds the header, so one payload serves every member.
    func write(_ payload: ByteBuffer, flush: Bool = true) {
        let frame = wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: payload))
        if flush { context?.writeAndFlush(frame, promise: nil) } else { context?.write(frame, promise: nil) }
    }

    func flush() {
        context?.flush()
    }

    /// The bytes of the string member `name` (no escapes: the benchmark's lines have none).
    private static func field(_ name: String, in json: [UInt8]) -> ArraySlice<UInt8>? {
        let key = Array("\"\(name)\":\"".utf8)
        guard let start = json.firstRange(of: key)?.upperBound, let end = json[start...].firstIndex(of: UInt8(ascii: "\"")) else {
            return nil
        }
        return json[start..<end]
    }
}
