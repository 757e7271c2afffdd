import CZlib
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Counters every storm client adds to; read by the benchmark as it goes.
final class StormStats: Sendable {
    let welcomed = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let complete = Atomic<Int>(0)
    let joinedEvents = Atomic<Int>(0)
    /// v2 `presence` events (each may name many users; those count in joined/left events).
    let presenceEvents = Atomic<Int>(0)
    /// Frames that arrived compressed (permessage-deflate).
    let compressedFrames = Atomic<Int>(0)
    let leftEvents = Atomic<Int>(0)
    let nodeDownEvents = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
    let closedPolicy = Atomic<Int>(0)
    let closedGoingAway = Atomic<Int>(0)
    let closedOther = Atomic<Int>(0)
    let disconnected = Atomic<Int>(0)
    /// Nanoseconds after the start at which the last welcome arrived.
    let lastWelcomeAt = Atomic<Int>(0)
    /// Nanoseconds after the start at which the last client's list became complete.
    let lastCompleteAt = Atomic<Int>(0)
    let start = ContinuousClock.now

    func nanosecondsSinceStart() -> Int {
        let elapsed = ContinuousClock.now - start
        return Int(elapsed.components.seconds) * 1_000_000_000 + Int(elapsed.components.attoseconds / 1_000_000_000)
    }

    func recordTime(_ atomic: borrowing Atomic<Int>) {
        let now = nanosecondsSinceStart()
        var current = atomic.load(ordering: .relaxed)
        while current < now {
            let (exchanged, original) = atomic.compareExchange(expected: current, desired: now, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }
}

/// One user of a connect storm, lean enough that ten thousand of them cost
/// less than the nodes they load: it reads frame headers and the event
/// type, and counts. A sampled client also keeps its user list (welcome
/// plus `joined`/`left`, or v2 `presence`) to compare with `who` at the end.
final class StormClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let nick: String
    /// The login token the `hello` carries (§7), if the nodes need one.
    private let token: String?
    private let port: Int
    private let subprotocol: String
    /// v3: the room joined after `welcome`; the user counts as joined at the `room` reply.
    private let room: String?
    /// v3: rooms joined after `room`; their events are not counted.
    private let extraRooms: [String]
    /// The start of the main room's `presence` events.
    private let roomPresencePrefix: [UInt8]
    private var isInMainRoom = false
    private let offersCompression: Bool
    private let expectedUsers: Int
    private let stats: StormStats
    private let onSettled: @Sendable () -> Void
    private let keepsList: Bool
    private var buffer = ByteBuffer()
    private var isUpgraded = false
    private var isSettled = false
    private var isComplete = false
    private var listCount = 0
    /// The sampled client's list, and the last `users` reply (v3: its `count` too).
    private(set) var list: Set<String> = []
    private(set) var whoAnswer: [String]?
    private(set) var whoCount = 0
    /// The members this client knows of: its list's length (v1, v2) or the room's last `count` (v3).
    var count: Int { listCount }
    /// Whether this client joins a room (v3).
    var isInRoom: Bool { room != nil }

    private static let typePrefix = Array(#"{"type":""#.utf8)
    private static let usersMarker = Array(#""users":["#.utf8)
    private static let nickMarker = Array(#""nick":""#.utf8)
    private static let joinedMarker = Array(#""joined":["#.utf8)
    private static let leftMarker = Array(#""left":["#.utf8)
    private static let nodeDown = Array("node_down".utf8)
    private static let countMarker = Array(#""count":"#.utf8)

    init(
        nick: String, token: String? = nil, port: Int, subprotocol: String, room: String? = nil, extraRooms: [String] = [], offersCompression: Bool,
        expectedUsers: Int, keepsList: Bool, stats: StormStats, onSettled: @escaping @Sendable () -> Void
    ) {
        self.nick = nick
        self.token = token
        self.port = port
        self.subprotocol = subprotocol
        self.room = room
        self.extraRooms = extraRooms
        self.roomPresencePrefix = Array(#"{"type":"presence","room":"\#(room ?? "")","#.utf8)
        self.offersCompression = offersCompression
        self.expectedUsers = expectedUsers
        self.keepsList = keepsList
        self.stats = stats
        self.onSettled = onSettled
    }

    private var context: ChannelHandlerContext?

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        context.write(wrapOutboundOut(.upgradeRequest(port: port, subprotocol: subprotocol, offersCompression: offersCompression)), promise: nil)
        let tokenMember = token.map { #","token":"\#($0)""# } ?? ""
        context.writeAndFlush(wrapOutboundOut(.maskedClientFrame(Array(#"{"type":"hello","nick":"\#(nick)"\#(tokenMember)}"#.utf8))), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        stats.disconnected.add(1, ordering: .relaxed)
        settle(failed: true)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Asks for the user list (sampled clients compare it with their own); v3: the first 1000 of the room.
    func sendWho() {
        let who = room.map { #"{"type":"who","room":"\#($0)","limit":1000}"# } ?? #"{"type":"who"}"#
        context?.writeAndFlush(wrapOutboundOut(.maskedClientFrame(Array(who.utf8))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        // Most reads end on a frame boundary: take the read's buffer as it is rather than copy it.
        if buffer.readableBytes == 0 {
            buffer = incoming
        } else {
            buffer.writeBuffer(&incoming)
        }
        if !isUpgraded {
            guard let end = buffer.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
            guard buffer.readableBytesView.starts(with: Array("HTTP/1.1 101".utf8)) else {
                context.close(promise: nil)
                return
            }
            buffer.moveReaderIndex(to: end.upperBound)
            isUpgraded = true
        }
        while let frame = buffer.readServerFrame() {
            switch frame.opcode {
            case 0x1 where frame.isCompressed:
                let inflated = StormInflater.shared.inflate(frame.payload)
                stats.compressedFrames.add(1, ordering: .relaxed)
                receive(inflated.readableBytesView, context: context)
            case 0x1: receive(frame.payload.readableBytesView, context: context)
            case 0x8: closed(frame.payload, context: context)
            case 0x9:
                var pong = ByteBuffer.maskedClientFrame(opcode: 0xA, Array(frame.payload.readableBytesView))
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
                pong.clear()
            default: break
            }
        }
        if buffer.readerIndex > 65_536 { buffer.discardReadBytes() }
    }

    private func receive(_ payload: ByteBufferView, context: ChannelHandlerContext) {
        // The first letter of the type is enough to tell the events apart; no allocation per frame.
        guard payload.count > Self.typePrefix.count, payload.starts(with: Self.typePrefix) else { return }
        let first = payload[payload.startIndex + Self.typePrefix.count]
        if let room {
            receiveInRoom(room, first: first, payload, context: context)
        } else {
            receiveInLobby(first: first, payload)
        }
        if !isComplete, listCount == expectedUsers {
            isComplete = true
            stats.complete.add(1, ordering: .relaxed)
            stats.recordTime(stats.lastCompleteAt)
        }
    }

    /// v3: `welcome` asks to join the room; `room` and `presence` carry its count.
    private func receiveInRoom(_ room: String, first: UInt8, _ payload: ByteBufferView, context: ChannelHandlerContext) {
        switch first {
        case UInt8(ascii: "w"):
            for name in [room] + extraRooms {
                context.write(wrapOutboundOut(.maskedClientFrame(Array(#"{"type":"join","room":"\#(name)"}"#.utf8))), promise: nil)
            }
            context.flush()
        case UInt8(ascii: "r"):
            // The first `room` reply is the main room's: joins are answered in order.
            guard !isInMainRoom else { return }
            isInMainRoom = true
            listCount = Self.integer(afterMarker: Self.countMarker, in: payload) ?? listCount
            stats.welcomed.add(1, ordering: .relaxed)
            stats.recordTime(stats.lastWelcomeAt)
            settle(failed: false)
        case UInt8(ascii: "p"):
            guard payload.starts(with: roomPresencePrefix) else { return }
            stats.presenceEvents.add(1, ordering: .relaxed)
            let counts = Self.countPresence(payload)
            stats.joinedEvents.add(counts.joined, ordering: .relaxed)
            stats.leftEvents.add(counts.left, ordering: .relaxed)
            listCount = Self.integer(afterMarker: Self.countMarker, in: payload) ?? listCount
        case UInt8(ascii: "u"):
            whoAnswer = Self.strings(afterMarker: Self.usersMarker, in: payload)
            whoCount = Self.integer(afterMarker: Self.countMarker, in: payload) ?? -1
        case UInt8(ascii: "e"):
            stats.errors.add(1, ordering: .relaxed)
            settle(failed: true)
        default:
            break
        }
    }

    private func receiveInLobby(first: UInt8, _ payload: ByteBufferView) {
        switch first {
        case UInt8(ascii: "w"):
            listCount = Self.countUsers(in: payload)
            if keepsList { list = Set(Self.strings(afterMarker: Self.usersMarker, in: payload)) }
            stats.welcomed.add(1, ordering: .relaxed)
            stats.recordTime(stats.lastWelcomeAt)
            settle(failed: false)
        case UInt8(ascii: "j"):
            listCount += 1
            stats.joinedEvents.add(1, ordering: .relaxed)
            if keepsList, let nick = Self.strings(afterMarker: Self.nickMarker, in: payload).first { list.insert(nick) }
        case UInt8(ascii: "l"):
            listCount -= 1
            stats.leftEvents.add(1, ordering: .relaxed)
            // `reason` is the last field: `..."reason":"node_down"}`.
            if payload.count > 7, payload[payload.endIndex - 7] == UInt8(ascii: "_") { stats.nodeDownEvents.add(1, ordering: .relaxed) }
            if keepsList, let nick = Self.strings(afterMarker: Self.nickMarker, in: payload).first { list.remove(nick) }
        case UInt8(ascii: "p"):
            receivePresence(payload)
        case UInt8(ascii: "u"):
            whoAnswer = Self.strings(afterMarker: Self.usersMarker, in: payload)
        case UInt8(ascii: "e"):
            stats.errors.add(1, ordering: .relaxed)
            settle(failed: true)
        default:
            break
        }
    }

    /// A v2 `presence` event: `{"type":"presence","joined":[...],"left":[{"nick":...,"reason":...},...],"ts":...}`.
    private func receivePresence(_ payload: ByteBufferView) {
        stats.presenceEvents.add(1, ordering: .relaxed)
        guard keepsList else {
            // Most clients only count, scanning the bytes once without allocating.
            let counts = Self.countPresence(payload)
            listCount += counts.joined - counts.left
            stats.joinedEvents.add(counts.joined, ordering: .relaxed)
            stats.leftEvents.add(counts.left, ordering: .relaxed)
            if counts.nodeDown > 0 { stats.nodeDownEvents.add(counts.nodeDown, ordering: .relaxed) }
            return
        }
        let joined = Self.strings(afterMarker: Self.joinedMarker, in: payload)
        var departed: [String] = []
        var nodeDowns = 0
        if let leftStart = payload.firstRange(of: Self.leftMarker)?.upperBound {
            var rest = payload[leftStart...]
            while let marker = rest.firstRange(of: Self.nickMarker) {
                var end = marker.upperBound
                while end < rest.endIndex, rest[end] != UInt8(ascii: "\"") { end += 1 }
                departed.append(String(decoding: rest[marker.upperBound..<end], as: UTF8.self))
                rest = rest[end...]
            }
            var search = payload[leftStart...]
            while let found = search.firstRange(of: Self.nodeDown) {
                nodeDowns += 1
                search = search[found.upperBound...]
            }
        }
        listCount += joined.count - departed.count
        stats.joinedEvents.add(joined.count, ordering: .relaxed)
        stats.leftEvents.add(departed.count, ordering: .relaxed)
        stats.nodeDownEvents.add(nodeDowns, ordering: .relaxed)
        if keepsList {
            for nick in departed { list.remove(nick) }
            for nick in joined { list.insert(nick) }
        }
    }

    private func closed(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        let code = payload.getInteger(at: payload.readerIndex, as: UInt16.self)
        switch code {
        case 1008: stats.closedPolicy.add(1, ordering: .relaxed)
        case 1001: stats.closedGoingAway.add(1, ordering: .relaxed)
        default: stats.closedOther.add(1, ordering: .relaxed)
        }
        context.close(promise: nil)
    }

    private func settle(failed: Bool) {
        guard !isSettled else { return }
        isSettled = true
        if failed { stats.failed.add(1, ordering: .relaxed) }
        onSettled()
    }

    /// How many nicks the welcome's `users` array lists; nicks hold no `"` or `,`.
    private static func countUsers(in payload: ByteBufferView) -> Int {
        countStrings(afterMarker: usersMarker, in: payload)
    }

    /// Counts a `presence` event's joined nicks (commas in the first array), departures
    /// (objects in the second) and `node_down` reasons (underscores in the second: the
    /// storm's nicks have none).
    private static func countPresence(_ payload: ByteBufferView) -> (joined: Int, left: Int, nodeDown: Int) {
        payload.withContiguousStorageIfAvailable { storage -> (Int, Int, Int) in
            let bytes = UnsafeRawBufferPointer(storage)
            guard let joinedStart = ByteScan.end(of: joinedMarker, in: bytes),
                  let joinedEnd = ByteScan.firstIndex(of: UInt8(ascii: "]"), in: bytes, from: joinedStart)
            else { return (0, 0, 0) }
            let joined = commaSeparatedCount(UnsafeRawBufferPointer(rebasing: bytes[joinedStart..<joinedEnd]))
            guard let leftStart = ByteScan.end(of: leftMarker, in: bytes, from: joinedEnd),
                  let leftEnd = ByteScan.firstIndex(of: UInt8(ascii: "]"), in: bytes, from: leftStart)
            else { return (joined, 0, 0) }
            let left = UnsafeRawBufferPointer(rebasing: bytes[leftStart..<leftEnd])
            return (joined, ByteScan.count(UInt8(ascii: "{"), in: left), ByteScan.count(UInt8(ascii: "_"), in: left))
        } ?? (0, 0, 0)
    }

    /// The whole number right after `marker`.
    private static func integer(afterMarker marker: [UInt8], in payload: ByteBufferView) -> Int? {
        guard var index = payload.firstRange(of: marker)?.upperBound else { return nil }
        var value = 0
        var digits = 0
        while index < payload.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(payload[index]) {
            value = value * 10 + Int(payload[index] - UInt8(ascii: "0"))
            digits += 1
            index += 1
        }
        return digits > 0 ? value : nil
    }

    /// How many strings the array opened by `marker` holds; they hold no `"` or `,`.
    private static func countStrings(afterMarker marker: [UInt8], in payload: ByteBufferView) -> Int {
        payload.withContiguousStorageIfAvailable { storage -> Int in
            let bytes = UnsafeRawBufferPointer(storage)
            guard let start = ByteScan.end(of: marker, in: bytes),
                  let end = ByteScan.firstIndex(of: UInt8(ascii: "]"), in: bytes, from: start)
            else { return 0 }
            return commaSeparatedCount(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        } ?? 0
    }

    /// How many items a JSON array's inside holds when no item contains a comma.
    private static func commaSeparatedCount(_ inside: UnsafeRawBufferPointer) -> Int {
        inside.isEmpty ? 0 : ByteScan.count(UInt8(ascii: ","), in: inside) + 1
    }

    /// The strings right after `marker` up to the closing bracket or quote (nicks need no unescaping).
    private static func strings(afterMarker marker: [UInt8], in payload: ByteBufferView) -> [String] {
        guard let start = payload.firstRange(of: marker)?.upperBound else { return [] }
        let isList = marker.last == UInt8(ascii: "[")
        var end = start
        while end < payload.endIndex, payload[end] != (isList ? UInt8(ascii: "]") : UInt8(ascii: "\"")) { end += 1 }
        let text = String(decoding: payload[start..<end], as: UTF8.self)
        guard isList else { return [text] }
        return text.isEmpty ? [] : text.split(separator: ",").map { String($0.dropFirst().dropLast()) }
    }
}

/// Inflates the node's compressed messages for the storm's clients, one
/// zlib stream per thread (the node takes no context over, so neither do we).
final class StormInflater: @unchecked Sendable {  // Each instance is used by one thread only (ThreadSpecificInflaters).
    private static let key = ThreadSpecificInflaters()

    static var shared: StormInflater { key.current }

    private var stream = z_stream()

    init() {
        inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    }

    func inflate(_ compressed: ByteBuffer) -> ByteBuffer {
        inflateReset(&stream)
        var input = Array(compressed.readableBytesView)
        input.append(contentsOf: [0x00, 0x00, 0xFF, 0xFF])
        var output = [UInt8](repeating: 0, count: max(input.count * 8, 4096))
        var produced = 0
        input.withUnsafeMutableBufferPointer { inputBytes in
            stream.next_in = inputBytes.baseAddress
            stream.avail_in = uInt(inputBytes.count)
            while true {
                let status: Int32 = output.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = uInt(out.count - produced)
                    let status = CZlib.inflate(&stream, Z_SYNC_FLUSH)
                    produced = out.count - Int(stream.avail_out)
                    return status
                }
                guard status == Z_OK, stream.avail_in > 0 || stream.avail_out == 0 else { break }
                output.append(contentsOf: repeatElement(0, count: output.count))
            }
        }
        return ByteBuffer(bytes: output[..<produced])
    }
}

/// One inflater per thread.
final class ThreadSpecificInflaters: Sendable {
    private let storage = ThreadSpecificVariable<StormInflater>()

    var current: StormInflater {
        if let inflater = storage.currentValue { return inflater }
        let inflater = StormInflater()
        storage.currentValue = inflater
        return inflater
    }
}
