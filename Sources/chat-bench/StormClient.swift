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
/// plus `joined`/`left`) to compare with `who` at the end.
final class StormClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let nick: String
    private let port: Int
    private let expectedUsers: Int
    private let stats: StormStats
    private let onSettled: @Sendable () -> Void
    private let keepsList: Bool
    private var buffer = ByteBuffer()
    private var isUpgraded = false
    private var isSettled = false
    private var isComplete = false
    private var listCount = 0
    /// The sampled client's list, and the last `users` reply.
    private(set) var list: Set<String> = []
    private(set) var whoAnswer: [String]?

    private static let typePrefix = Array(#"{"type":""#.utf8)
    private static let usersMarker = Array(#""users":["#.utf8)
    private static let nickMarker = Array(#""nick":""#.utf8)

    init(nick: String, port: Int, expectedUsers: Int, keepsList: Bool, stats: StormStats, onSettled: @escaping @Sendable () -> Void) {
        self.nick = nick
        self.port = port
        self.expectedUsers = expectedUsers
        self.keepsList = keepsList
        self.stats = stats
        self.onSettled = onSettled
    }

    private var context: ChannelHandlerContext?

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        context.write(wrapOutboundOut(.upgradeRequest(port: port)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.maskedClientFrame(Array(#"{"type":"hello","nick":"\#(nick)"}"#.utf8))), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        stats.disconnected.add(1, ordering: .relaxed)
        settle(failed: true)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Asks for the user list (sampled clients compare it with their own).
    func sendWho() {
        context?.writeAndFlush(wrapOutboundOut(.maskedClientFrame(Array(#"{"type":"who"}"#.utf8))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
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
        switch payload[payload.startIndex + Self.typePrefix.count] {
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
        case UInt8(ascii: "u"):
            whoAnswer = Self.strings(afterMarker: Self.usersMarker, in: payload)
        case UInt8(ascii: "e"):
            stats.errors.add(1, ordering: .relaxed)
            settle(failed: true)
        default:
            break
        }
        if !isComplete, listCount == expectedUsers {
            isComplete = true
            stats.complete.add(1, ordering: .relaxed)
            stats.recordTime(stats.lastCompleteAt)
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
        guard let start = payload.firstRange(of: usersMarker)?.upperBound else { return 0 }
        var commas = 0
        var index = start
        while index < payload.endIndex, payload[index] != UInt8(ascii: "]") {
            if payload[index] == UInt8(ascii: ",") { commas += 1 }
            index += 1
        }
        return index == start ? 0 : commas + 1
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
