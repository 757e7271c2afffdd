import NIOCore
import NIOHTTP1

/// Closes a connection whose bytes are not HTTP, after NIO's protocol error
/// handler has answered 400.
///
/// Nothing else would: the parse error leaves the upgrade handler waiting
/// for a request that never comes, so the socket stayed open for good and
/// held up the node's shutdown (found by `chat-chaos`, hostile bytes).
final class MalformedRequestCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}
