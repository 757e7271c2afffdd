import NIOCore

/// Closes a connection that has not sent a complete HTTP request head within
/// the deadline (PROTOCOL.md §1, Idle sockets), or at once when the node
/// shuts down before it did.
///
/// It watches raw bytes at the front of the pipeline for the blank line
/// that ends the head, so silent sockets and slowly dribbled heads
/// (slowloris) are caught alike. Once the head is complete it removes
/// itself; later requests on the connection fall under the HTTP idle timeout.
final class RequestHeadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private static let headEnd: [UInt8] = Array("\r\n\r\n".utf8)

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    /// How many bytes of `headEnd` the bytes read so far end with.
    private var matched = 0
    private var isComplete = false

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !isComplete {
            for byte in unwrapInboundIn(data).readableBytesView {
                if byte == Self.headEnd[matched] {
                    matched += 1
                } else {
                    matched = byte == Self.headEnd[0] ? 1 : 0
                }
                if matched == Self.headEnd.count {
                    isComplete = true
                    break
                }
            }
        }
        context.fireChannelRead(data)
        if isComplete {
            timer?.cancel()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !isComplete {
            // No request is in progress, so nothing is lost by closing now.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
