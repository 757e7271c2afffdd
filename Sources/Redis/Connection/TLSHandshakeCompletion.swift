import NIOCore
import NIOTLS

/// Completes a promise when the TLS handshake in front of it ends, with the
/// handshake's own error when it fails.
///
/// Waiting for this before the first command means a refused certificate is
/// reported as what it is, rather than as whatever a command written into the
/// closing channel happens to meet (`I/O on closed channel`).
final class TLSHandshakeCompletion: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let done: EventLoopPromise<Void>

    /// `done` succeeds once the handshake completes and fails with its error otherwise.
    init(done: EventLoopPromise<Void>) {
        self.done = done
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            done.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        done.fail(ChannelError.ioOnClosedChannel)
    }
}
