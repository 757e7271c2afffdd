import ArgumentParser
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The yardstick for connect storms: a WebSocket server that does the least
/// a chat server must (upgrade, answer `hello` with a `welcome`, relay
/// lines to everyone) and nothing else: no presence, no nick rules, no
/// Redis. A storm against it measures what the machine and the load tool
/// cost by themselves.
struct BaselineServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline-server",
        abstract: "Run a trivial broadcast WebSocket server that sends no presence (the storm's yardstick)."
    )

    @Option(help: "Port to listen on") var port = 18090

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let welcome = ByteBuffer(string: #"{"type":"welcome","nick":"x","node":"baseline","users":[],"history":[]}"#)
        let upgrader = NIOWebSocketServerUpgrader(
            shouldUpgrade: { channel, _ in
                channel.eventLoop.makeSucceededFuture(HTTPHeaders([("Sec-WebSocket-Protocol", "chat.v1.json")]))
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BaselineChatHandler(welcome: welcome))
                }
            }
        )
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: "127.0.0.1", port: port)
            .wait()
        print("listening on http://127.0.0.1:\(port)")
        try server.closeFuture.wait()
    }
}

/// Answers every text frame that is not a line with the welcome; ignores the rest.
private final class BaselineChatHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let welcome: ByteBuffer

    init(welcome: ByteBuffer) {
        self.welcome = welcome
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: welcome)), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }
}
