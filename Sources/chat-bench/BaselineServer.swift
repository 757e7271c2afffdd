import ArgumentParser
import NIOCore
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
        try YardstickListener.serve(group: group, port: port, subprotocol: "chat.v1.json") { _ in
            BaselineChatHandler(welcome: welcome)
        }
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
