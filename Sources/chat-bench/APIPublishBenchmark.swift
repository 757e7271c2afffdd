import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Lines published through a node's server API (`POST /api/publish`,
/// PROTOCOL.md §7) from one client process: each keep-alive connection
/// sends its next request when the previous one is answered. Then reads
/// the room's history back and checks each connection's lines are in the
/// order it sent them. It reports what it measured; it asserts nothing.
struct APIPublishBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-publish",
        abstract: "Publish lines through the server API as fast as answers come back."
    )

    @Option(help: "The node's port") var port: Int
    @Option(help: "File holding the server API key") var keyFile: String
    @Option(help: "The room to publish into (it must exist: lobby always does)") var room = "lobby"
    @Option(help: "Lines to publish in all") var lines = 20000
    @Option(help: "Keep-alive connections") var connections = 1
    @Option(help: "Requests in flight per connection (HTTP/1.1 pipelining; the node answers them in order)") var pipeline = 1

    func run() async throws {
        let key = try String(contentsOfFile: keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let perConnection = lines / connections
        let started = ContinuousClock.now
        let failures = NIOLockedValueBox(0)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for index in 0..<connections {
                tasks.addTask {
                    let done = group.any().makePromise(of: Void.self)
                    let handler = PublishingClient(
                        host: "127.0.0.1:\(port)", key: key, room: room, prefix: "c\(index)-", count: perConnection, pipeline: pipeline, done: done
                    ) { failures.withLockedValue { $0 += 1 } }
                    _ = try await ClientBootstrap(group: group)
                        .channelInitializer { channel in
                            channel.pipeline.addHTTPClientHandlers().flatMap { channel.pipeline.addHandler(handler) }
                        }
                        .connect(host: "127.0.0.1", port: port).get()
                    try await done.futureResult.get()
                }
            }
            try await tasks.waitForAll()
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let sent = perConnection * connections
        let ordered = try await historyIsInOrder(key: key, connections: connections)
        print(String(
            format: "RESULT api-publish connections=%d pipeline=%d lines=%d failed=%d seconds=%.2f lines_per_s=%.0f history_in_order=%@",
            connections, pipeline, sent, failures.withLockedValue { $0 }, seconds, Double(sent) / seconds, ordered ? "yes" : "no"
        ))
        try await group.shutdownGracefully()
    }

    /// Whether the room's kept history lists each connection's lines in the order that connection sent them.
    private func historyIsInOrder(key: String, connections: Int) async throws -> Bool {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/rooms/\(room)/history?limit=1000")!)
        request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let history = object["history"] as? [[String: Any]]
        else { return false }
        var last: [String: Int] = [:]
        for line in history {
            guard let text = line["text"] as? String, let dash = text.lastIndex(of: "-"), let number = Int(text[text.index(after: dash)...]) else {
                continue
            }
            let sender = String(text[..<dash])
            if let previous = last[sender], previous >= number { return false }
            last[sender] = number
        }
        return !last.isEmpty
    }
}

/// One keep-alive connection publishing `count` lines, `pipeline` requests in flight.
private final class PublishingClient: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let host: String
    private let key: String
    private let room: String
    private let prefix: String
    private let count: Int
    private let pipeline: Int
    private var answered = 0
    private let done: EventLoopPromise<Void>
    private let onFailure: @Sendable () -> Void
    private var sent = 0
    private var status: HTTPResponseStatus = .ok

    init(
        host: String, key: String, room: String, prefix: String, count: Int, pipeline: Int, done: EventLoopPromise<Void>,
        onFailure: @escaping @Sendable () -> Void
    ) {
        self.pipeline = max(1, pipeline)
        self.host = host
        self.key = key
        self.room = room
        self.prefix = prefix
        self.count = count
        self.done = done
        self.onFailure = onFailure
    }

    func channelActive(context: ChannelHandlerContext) {
        for _ in 0..<min(pipeline, count) { sendNext(context: context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
        case .body:
            break
        case .end:
            if status != .ok { onFailure() }
            answered += 1
            if answered == count {
                context.close(promise: nil)
                done.succeed(())
            } else if sent < count {
                sendNext(context: context)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.close(promise: nil)
    }

    private func sendNext(context: ChannelHandlerContext) {
        sent += 1
        let body = ByteBuffer(string: #"{"room":"\#(room)","text":"\#(prefix)\#(sent)"}"#)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/api/publish")
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Authorization", value: "Bearer \(key)")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
