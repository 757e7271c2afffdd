import NIOCore
import NIOWebSocket

/// The chat connections of one event loop, owned by that loop.
///
/// The fan-out hands an event to a loop once; the loop writes the same
/// bytes into every local recipient's outbound buffer and flushes each
/// buffer once at the end of the tick, however many events arrived in it.
/// The loop also knows every WebSocket connection it serves: one timer per
/// loop sweeps them for heartbeats (instead of a timer per connection), and
/// a draining node can close them all.
final class LoopDelivery {
    let eventLoop: any EventLoop
    private let heartbeatSweepInterval: TimeAmount
    private var heartbeatSweep: RepeatedTask?
    private var recipients: [OutboundBuffer] = []
    private var connections: [ObjectIdentifier: WebSocketConnectionHandler] = [:]
    private var flushRequests: [OutboundBuffer] = []
    private var flushing: [OutboundBuffer] = []
    private var isFlushScheduled = false

    /// `pingInterval` is the connections' `--ping-interval`; they are swept twice per interval.
    init(eventLoop: any EventLoop, pingInterval: TimeAmount) {
        self.eventLoop = eventLoop
        self.heartbeatSweepInterval = .nanoseconds(max(pingInterval.nanoseconds / 2, 1_000_000))
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
        if heartbeatSweep == nil {
            let delivery = NIOLoopBound(self, eventLoop: eventLoop)
            heartbeatSweep = eventLoop.scheduleRepeatedTask(initialDelay: heartbeatSweepInterval, delay: heartbeatSweepInterval) { _ in
                delivery.value.sweepHeartbeats()
            }
        }
    }

    /// Forgets a closed WebSocket connection.
    func unregister(_ connection: WebSocketConnectionHandler) {
        connections[ObjectIdentifier(connection)] = nil
        if connections.isEmpty {
            heartbeatSweep?.cancel()
            heartbeatSweep = nil
        }
    }

    private func sweepHeartbeats() {
        let now = NIODeadline.now()
        for connection in Array(connections.values) {
            connection.heartbeat(now: now)
        }
    }

    /// Closes every WebSocket connection here with `code`.
    func closeAll(_ code: WebSocketErrorCode, reason: String) {
        for connection in Array(connections.values) {
            connection.close(code: code, reason: reason)
        }
    }
}
