import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOWebSocket

/// The storm's floor for v2: one process doing only the bytes a v2 storm
/// cannot avoid (upgrade, a `welcome` naming everyone already in,
/// `presence` batches, `who`), with no Redis, no nick rules, no history and
/// no cluster. It batches as a node does: a batch leaves one interval after
/// the first change it holds, and the next interval starts once it is
/// written. What a node costs beyond this floor is its own; what the floor
/// costs, no v2 server avoids on this machine with this load tool.
struct MinimalV2Server: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "minimal-v2-server",
        abstract: "Run the least a chat.v2.json server must do in a storm (welcome with the user list, presence batches, who)."
    )

    @Option(help: "Port to listen on") var port = 18091
    @Option(help: "Seconds a presence change is held before it is sent") var presenceInterval = 0.1

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let roster = MinimalRoster()
        let loops = group.makeIterator().map { MinimalLoop(eventLoop: $0, roster: roster) }
        roster.loops = loops
        let interval = TimeAmount.nanoseconds(Int64(presenceInterval * 1e9))
        for loop in loops { loop.interval = interval }
        try YardstickListener.serve(group: group, port: port, subprotocol: "chat.v2.json") { channel in
            MinimalV2Handler(loop: loops.first { $0.eventLoop === channel.eventLoop }!)
        }
    }
}

/// Everyone who joined, in join order, as JSON string bytes ready to copy into a `users` array.
final class MinimalRoster: @unchecked Sendable {  // `loops` is set once before the server starts; the rest is behind `lock`.
    private let lock = NIOLock()
    private var encoded: [UInt8] = []
    private var count = 0
    var loops: [MinimalLoop] = []

    /// Adds `nick` and returns the list as it now stands (its own nick included) and its length.
    func join(_ nick: String) -> (users: [UInt8], count: Int) {
        let joined: (users: [UInt8], count: Int) = lock.withLock {
            if count > 0 { encoded.append(UInt8(ascii: ",")) }
            encoded.append(UInt8(ascii: "\""))
            encoded.append(contentsOf: nick.utf8)
            encoded.append(UInt8(ascii: "\""))
            count += 1
            return (encoded, count)
        }
        for loop in loops {
            loop.eventLoop.execute { loop.hold(joined.count - 1, nick) }
        }
        return joined
    }

    /// The list as it now stands.
    func users() -> [UInt8] {
        lock.withLock { encoded }
    }
}

/// One event loop's connections and the joins it has yet to announce to them.
final class MinimalLoop: @unchecked Sendable {  // Everything but `eventLoop` is touched on `eventLoop` only.
    let eventLoop: any EventLoop
    let roster: MinimalRoster
    var pending: [(index: Int, nick: String)] = []
    var interval = TimeAmount.milliseconds(100)
    var members: [MinimalV2Handler] = []

    init(eventLoop: any EventLoop, roster: MinimalRoster) {
        self.eventLoop = eventLoop
        self.roster = roster
    }

    /// Holds a join for the next batch, which leaves one interval after the
    /// first change it holds: a change is held at most one interval, as the
    /// protocol asks, and a quiet loop runs no timer.
    func hold(_ index: Int, _ nick: String) {
        if pending.isEmpty {
            eventLoop.scheduleTask(in: interval) { [self] in sendBatch() }
        }
        pending.append((index, nick))
    }

    /// Sends the held joins to every member: one shared frame, except to a
    /// member whose welcome already named some of them.
    func sendBatch() {
        guard !pending.isEmpty else { return }
        let batch = pending.sorted { $0.index < $1.index }
        pending = []
        let shared = Self.frame(batch[...])
        for member in members {
            if member.welcomedCount <= batch[0].index {
                member.write(shared)
            } else {
                let rest = batch.drop { $0.index < member.welcomedCount }
                if !rest.isEmpty { member.write(Self.frame(rest)) }
            }
        }
    }

    /// The `presence` event naming `batch`.
    private static func frame(_ batch: ArraySlice<(index: Int, nick: String)>) -> ByteBuffer {
        var json = Array(#"{"type":"presence","joined":["#.utf8)
        for (offset, entry) in batch.enumerated() {
            if offset > 0 { json.append(UInt8(ascii: ",")) }
            json.append(UInt8(ascii: "\""))
            json.append(contentsOf: entry.nick.utf8)
            json.append(UInt8(ascii: "\""))
        }
        json.append(contentsOf: #"],"left":[],"ts":\#(Int(Date().timeIntervalSince1970 * 1000))}"#.utf8)
        return ByteBuffer(bytes: json)
    }
}

/// One member: `hello` gets a welcome with the whole list, `who` the list.
final class MinimalV2Handler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let loop: MinimalLoop
    private var context: ChannelHandlerContext?
    /// How many users the welcome named; later joins come in batches.
    private(set) var welcomedCount = Int.max

    init(loop: MinimalLoop) {
        self.loop = loop
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        loop.members.removeAll { $0 === self }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.opcode == .text else {
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        let text = String(buffer: frame.unmaskedData)
        if text.contains(#""type":"hello""#), welcomedCount == .max {
            let nick = text.components(separatedBy: #""nick":""#).last?.prefix { $0 != "\"" } ?? "?"
            let (users, count) = loop.roster.join(String(nick))
            welcomedCount = count
            loop.members.append(self)
            var json = Array(#"{"type":"welcome","nick":""#.utf8)
            json.append(contentsOf: nick.utf8)
            json.append(contentsOf: #"","node":"minimal","users":["#.utf8)
            json.append(contentsOf: users)
            json.append(contentsOf: #"],"history":[],"resumed":false}"#.utf8)
            write(ByteBuffer(bytes: json))
        } else if text.contains(#""type":"who""#) {
            var json = Array(#"{"type":"users","users":["#.utf8)
            json.append(contentsOf: loop.roster.users())
            json.append(contentsOf: "]}".utf8)
            write(ByteBuffer(bytes: json))
        }
    }

    /// Sends one text message; NIO's frame encoder adds the header, so one payload serves every member.
    func write(_ payload: ByteBuffer) {
        context?.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: payload)), promise: nil)
    }
}
