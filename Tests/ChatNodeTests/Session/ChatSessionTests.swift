import ChatProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import ChatNode

@Suite("Chat session handler on an embedded channel: replies, order and the hello deadline, without a socket")
struct ChatSessionTests {
    private let loop = EmbeddedEventLoop()
    private let channel: EmbeddedChannel
    private let node: ChatNode
    private let bus: EchoBus

    init() throws {
        var configuration = NodeConfiguration(nodeID: "embedded")
        configuration.helloTimeout = .seconds(10)
        // The flood test sends more than a burst; the rate limit has tests of its own.
        configuration.rate = 0
        let metrics = ChatMetrics()
        let delivery = LoopDelivery(eventLoop: loop, pingInterval: .seconds(30))
        bus = EchoBus(loop: loop)
        node = ChatNode(
            configuration: configuration, bus: bus, deliveries: EventLoopDeliveries(delivery, on: loop),
            metrics: metrics, logger: Logger(label: "test")
        )
        let connection = EmbeddedConnection(loop: loop, delivery: delivery, metrics: metrics)
        channel = EmbeddedChannel(loop: loop)
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(connection.buffer)
        try operations.addHandler(connection.transport)
        ChatSession(node: node, connectionID: 1, version: .v2, outlet: connection.outlet).start()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    /// Sends one client text message, masked as a client must.
    private func send(_ text: String) throws {
        try channel.writeInbound(ClientFrame.text(text))
        loop.run()
    }

    /// The frames written so far: text payloads as strings, a close as "close CODE".
    private func received() throws -> [String] {
        var bytes = ByteBuffer()
        while var write = try channel.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&write) }
        var frames: [String] = []
        while let first = bytes.readInteger(as: UInt8.self), let second = bytes.readInteger(as: UInt8.self) {
            var length = Int(second & 0x7F)
            if length == 126 { length = Int(bytes.readInteger(as: UInt16.self) ?? 0) }
            guard var payload = bytes.readSlice(length: length) else { break }
            if first & 0x0F == 0x8 {
                frames.append("close \(payload.readInteger(as: UInt16.self) ?? 0)")
            } else {
                frames.append(String(buffer: payload))
            }
        }
        return frames
    }

    private func types(_ frames: [String]) -> [String] {
        frames.map { frame in
            guard frame.hasPrefix("{"), let range = frame.range(of: #""type":""#) else { return frame }
            return String(frame[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    @Test("hello gets welcome with the ref; ping gets pong; who lists the user")
    func helloAndReplies() throws {
        try send(#"{"type":"hello","nick":"alice","ref":"h"}"#)
        try send(#"{"type":"ping","ref":"p"}"#)
        try send(#"{"type":"who","ref":"w"}"#)
        let frames = try received()
        #expect(types(frames) == ["welcome", "pong", "users"])
        #expect(frames.first?.contains(#""ref":"h""#) == true)
        #expect(frames.last?.contains(#""alice""#) == true)
    }

    @Test("messages before the hello is answered wait in order behind it")
    func orderBehindTheJoin() throws {
        for text in [#"{"type":"hello","nick":"bob"}"#, #"{"type":"ping","ref":"1"}"#, #"{"type":"ping","ref":"2"}"#] {
            try channel.writeInbound(ClientFrame.text(text))
        }
        loop.run()
        let frames = try received()
        #expect(types(frames) == ["welcome", "pong", "pong"])
        #expect(frames.last?.contains(#""ref":"2""#) == true)
    }

    @Test("a say comes back to its sender with its ref, after the welcome")
    func ownLine() throws {
        try send(#"{"type":"hello","nick":"carol"}"#)
        try send(#"{"type":"say","text":"hi","ref":"s"}"#)
        let frames = try received()
        #expect(types(frames) == ["welcome", "message"])
        #expect(frames.last?.contains(#""ref":"s""#) == true)
    }

    @Test("lines go to the bus without waiting for the ones before them to come back")
    func linesInFlight() throws {
        bus.holdsEchoes.withLockedValue { $0 = true }
        try send(#"{"type":"hello","nick":"erin"}"#)
        for ref in ["1", "2", "3"] { try send(#"{"type":"say","text":"hi","ref":"\#(ref)"}"#) }
        #expect(bus.published.withLockedValue { $0 } == 3)
        #expect(types(try received()) == ["welcome"])
        for _ in 1...3 { bus.releaseEcho() }
        let frames = try received()
        #expect(types(frames) == ["message", "message", "message"])
        #expect(frames.last?.contains(#""ref":"3""#) == true)
    }

    @Test("a refused line's error comes after the lines sent before it and before those sent after it")
    func refusalInOrder() throws {
        bus.holdsEchoes.withLockedValue { $0 = true }
        try send(#"{"type":"hello","nick":"fay"}"#)
        try send(#"{"type":"say","text":"first","ref":"1"}"#)
        try send(#"{"type":"say","text":"refuse me","ref":"2"}"#)
        try send(#"{"type":"say","text":"third","ref":"3"}"#)
        #expect(types(try received()) == ["welcome"])
        bus.releaseEcho()
        let afterFirst = try received()
        #expect(types(afterFirst) == ["message", "error"])
        #expect(afterFirst.last?.contains(#""code":"unavailable""#) == true)
        #expect(afterFirst.last?.contains(#""ref":"2""#) == true)
        bus.releaseEcho()
        #expect(types(try received()) == ["message"])
    }

    @Test("other replies wait until every line in flight is back")
    func repliesAfterLines() throws {
        bus.holdsEchoes.withLockedValue { $0 = true }
        try send(#"{"type":"hello","nick":"gus"}"#)
        try send(#"{"type":"say","text":"hi"}"#)
        try send(#"{"type":"ping","ref":"p"}"#)
        #expect(types(try received()) == ["welcome"])
        bus.releaseEcho()
        #expect(types(try received()) == ["message", "pong"])
    }

    @Test("a session takes no more lines while its limit of them (64) are in flight, and goes on as they come back")
    func linesInFlightAreBounded() throws {
        bus.holdsEchoes.withLockedValue { $0 = true }
        try send(#"{"type":"hello","nick":"hal"}"#)
        for _ in 0..<(OwnLinesInFlight.limit + 6) { try send(#"{"type":"say","text":"flood"}"#) }
        #expect(bus.published.withLockedValue { $0 } == OwnLinesInFlight.limit)
        bus.releaseEcho()
        #expect(bus.published.withLockedValue { $0 } == OwnLinesInFlight.limit + 1)
        for _ in 0..<(OwnLinesInFlight.limit + 5) { bus.releaseEcho() }
        #expect(bus.published.withLockedValue { $0 } == OwnLinesInFlight.limit + 6)
        #expect(types(try received()).filter { $0 == "message" }.count == OwnLinesInFlight.limit + 6)
    }

    @Test("a malformed message gets an error and the session goes on")
    func malformed() throws {
        try send("{not json")
        try send(#"{"type":"ping"}"#)
        #expect(types(try received()) == ["error", "pong"])
        #expect(channel.isActive)
    }

    @Test("no hello within the time limit closes with 1008")
    func helloDeadline() throws {
        loop.advanceTime(by: .seconds(11))
        #expect(try received() == ["close 1008"])
    }

    @Test("a user who joined in time is not closed by the deadline, and leaves when the connection ends")
    func joinedThenEnded() throws {
        try send(#"{"type":"hello","nick":"dave"}"#)
        loop.advanceTime(by: .seconds(11))
        #expect(types(try received()) == ["welcome"])
        try channel.close().wait()
        loop.run()
        #expect(bus.departures.withLockedValue { $0 } == ["dave"])
    }
}

/// A bus for one connection on an embedded loop: it grants every nick,
/// echoes every line to its sender, and records departures. The session's
/// side of the contract is what these tests look at; the real buses have
/// their own tests against real Redis.
final class EchoBus: ChatBus {
    let loop: EmbeddedEventLoop
    let departures = NIOLockedValueBox<[String]>([])
    /// How many lines sessions handed to the bus.
    let published = NIOLockedValueBox(0)
    /// Whether lines come back only when the test releases them (`releaseEcho`).
    let holdsEchoes = NIOLockedValueBox(false)
    private let heldEchoes = NIOLockedValueBox<[LineEcho]>([])
    private let joined = NIOLockedValueBox<[String]>([])

    /// A line's copy on its way back to its sender.
    struct LineEcho {
        let sender: LocalMember
        let line: ChatLine
        let ref: String?

        func send() {
            sender.outlet.sendOwnLine(LocalFanout.frame(.message(line, ref: ref), for: .v2), id: line.id)
        }
    }

    init(loop: EmbeddedEventLoop) {
        self.loop = loop
    }

    var isAvailable: Bool { true }

    func join(_ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<JoinOutcome> {
        joined.withLockedValue { $0.append(member.nick.canonical) }
        let users = EncodedNickList(joined.withLockedValue { $0 })
        member.sendWelcome(node: "embedded", users: users, history: MessageHistory(retention: 10, welcomeLength: 10), since: since, ref: ref)
        // Like a bus on another loop: the answer comes after what it queued for the client.
        return loop.submit { .joined }
    }

    func leave(_ member: LocalMember, reason: LeaveReason) {
        departures.withLockedValue { $0.append(member.nick.canonical) }
    }

    func enter(_ room: RoomName, _ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<RoomOutcome> {
        loop.makeSucceededFuture(.done)
    }

    func part(_ room: RoomName, _ member: LocalMember) -> EventLoopFuture<RoomOutcome> {
        loop.makeSucceededFuture(.notInRoom)
    }

    func broadcast(_ line: ChatLine, from sender: LocalMember, ref: String?, receivedAt: NIODeadline) -> EventLoopFuture<RoomOutcome> {
        published.withLockedValue { $0 += 1 }
        if line.text == "refuse me" {
            return loop.submit { throw BusError.unavailable("the test bus refuses this line") }
        }
        let echo = LineEcho(sender: sender, line: line, ref: ref)
        if holdsEchoes.withLockedValue({ $0 }) {
            heldEchoes.withLockedValue { $0.append(echo) }
        } else {
            echo.send()
        }
        return loop.submit { .done }
    }

    /// Sends the oldest held line back to its sender.
    func releaseEcho() {
        heldEchoes.withLockedValue { $0.removeFirst() }.send()
        loop.run()
    }

    func whisper(_ draft: DirectDraft, to recipient: NickKey, from sender: LocalMember, ref: String?) -> EventLoopFuture<WhisperOutcome> {
        loop.makeSucceededFuture(.noSuchUser)
    }

    func members(of room: RoomName, for member: LocalMember, page: MemberQuery?) -> EventLoopFuture<MembersOutcome> {
        loop.makeSucceededFuture(.all(EncodedNickList(joined.withLockedValue { $0 })))
    }

    func roomList() -> EventLoopFuture<[RoomCount]> {
        loop.makeSucceededFuture([RoomCount(room: .lobby, count: joined.withLockedValue { $0.count })])
    }

    // The server API is not part of what these tests drive.
    func publish(_ line: ChatLine) -> EventLoopFuture<Void> { loop.makeFailedFuture(ServerAPIFailure.noSuchRoom) }
    func allRooms() -> EventLoopFuture<[RoomCount]> { roomList() }
    func contents(of room: RoomName) -> EventLoopFuture<RoomContents> { loop.makeFailedFuture(ServerAPIFailure.noSuchRoom) }
    func kick(_ nick: NickKey, from room: RoomName) -> EventLoopFuture<Void> { loop.makeFailedFuture(ServerAPIFailure.noSuchUser) }
    func disconnect(_ nick: NickKey, reason: String) -> EventLoopFuture<Void> { loop.makeFailedFuture(ServerAPIFailure.noSuchUser) }

    func drain() async {}
    func run() async {}
    func stop() async {}
}
