import NIOCore
import NIOWebSocket

/// The chat connections of one event loop, owned by that loop.
///
/// The fan-out hands an event to a loop once; the loop writes the same
/// bytes into every local recipient's outbound buffer and flushes each
/// buffer once at the end of the tick, however many events arrived in it.
/// The loop also knows every WebSocket connection it serves, so a draining
/// node can close them all.
final class LoopDelivery {
    let eventLoop: any EventLoop
    private var recipients: [OutboundBuffer] = []
    private var connections: [ObjectIdentifier: WebSocketConnectionHandler] = [:]
    private var flushRequests: [OutboundBuffer] = []
    private var flushing: [OutboundBuffer] = []
    private var isFlushScheduled = false

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// How many joined connections receive broadcasts here.
    var recipientCount: Int { recipients.count }

    /// Starts delivering broadcasts to `buffer`'s connection.
    func addRecipient(_ buffer: OutboundBuffer) {
        guard buffer.recipientSlot == nil else { return }
        buffer.recipientSlot = recipients.count
        recipients.append(buffer)
    }

    /// Stops delivering broadcasts to `buffer`'s connection.
    func removeRecipient(_ buffer: OutboundBuffer) {
        guard let slot = buffer.recipientSlot else { return }
        buffer.recipientSlot = nil
        let last = recipients.removeLast()
        if last !== buffer {
            recipients[slot] = last
            last.recipientSlot = slot
        }
    }

    /// Stops delivering broadcasts to anyone here (the node is draining).
    func removeAllRecipients() {
        for recipient in recipients { recipient.recipientSlot = nil }
        recipients.removeAll()
    }

    /// Queues `frame` for every recipient but the connection `excluded`.
    func broadcast(_ frame: ByteBuffer, excluding excluded: UInt64?) {
        for recipient in recipients where recipient.connectionID != excluded {
            recipient.enqueue(frame)
        }
    }

    /// Flushes `buffer` once everything already queued on this loop ran.
    func flushAtEndOfTick(_ buffer: OutboundBuffer) {
        flushRequests.append(buffer)
        guard !isFlushScheduled else { return }
        isFlushScheduled = true
        eventLoop.assumeIsolated().execute { [self] in
            isFlushScheduled = false
            swap(&flushRequests, &flushing)
            for buffer in flushing { buffer.flushNow() }
            flushing.removeAll(keepingCapacity: true)
        }
    }

    /// Remembers a WebSocket connection until it closes.
    func register(_ connection: WebSocketConnectionHandler) {
        connections[ObjectIdentifier(connection)] = connection
    }

    /// Forgets a closed WebSocket connection.
    func unregister(_ connection: WebSocketConnectionHandler) {
        connections[ObjectIdentifier(connection)] = nil
    }

    /// Closes every WebSocket connection here with `code`.
    func closeAll(_ code: WebSocketErrorCode, reason: String) {
        for connection in Array(connections.values) {
            connection.close(code: code, reason: reason)
        }
    }
}
