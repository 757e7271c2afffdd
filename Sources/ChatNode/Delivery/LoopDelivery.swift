import NIOCore
import NIOWebSocket

/// The chat connections of one event loop, owned by that loop.
///
/// The fan-out hands an event to a loop once. Broadcast frames that arrive
/// in one tick are appended to one shared buffer (the run), which is handed
/// to every local recipient at the end of the tick as a single reference:
/// a storm of events costs each recipient one queue entry and one write per
/// tick, not a copy per event. A recipient added during a run gets only the
/// part after its addition; anything sent to one recipient alone (a
/// whisper, a reply) first hands out the run, so per-sender order holds.
/// The loop also knows every WebSocket connection it serves: one timer per
/// loop sweeps them for heartbeats (instead of a timer per connection), and
/// a draining node can close them all.
final class LoopDelivery {
    let eventLoop: any EventLoop
    private let heartbeatSweepInterval: TimeAmount
    private var heartbeatSweep: RepeatedTask?
    private var recipients: [OutboundBuffer] = []
    private var connections: [ObjectIdentifier: WebSocketConnectionHandler] = [:]
    private var run = ByteBuffer()
    private var runEvents = 0
    /// When the oldest chat line in the run reached the node, if any.
    private var runReceivedAt: NIODeadline?
    /// Which recipient is timed next, so the samples rotate over connections.
    private var sampleCursor = 0
    private var isRunHandOutScheduled = false
    private var flushRequests: [OutboundBuffer] = []
    private var flushing: [OutboundBuffer] = []
    private var isFlushScheduled = false

    /// `pingInterval` is the connections' `--ping-interval`; they are swept twice per interval.
    init(eventLoop: any EventLoop, pingInterval: TimeAmount) {
        self.eventLoop = eventLoop
        self.heartbeatSweepInterval = .nanoseconds(max(pingInterval.nanoseconds / 2, 1_000_000))
    }

    /// Starts delivering broadcasts to `buffer`'s connection.
    func addRecipient(_ buffer: OutboundBuffer) {
        guard buffer.recipientSlot == nil else { return }
        buffer.recipientSlot = recipients.count
        buffer.runStart = (run.readableBytes, runEvents)
        recipients.append(buffer)
    }

    /// Stops delivering broadcasts to `buffer`'s connection. Its user has
    /// left and the connection is ending, so its part of the current run is
    /// dropped (handing it a slice would make the next append copy the run).
    func removeRecipient(_ buffer: OutboundBuffer) {
        guard let slot = buffer.recipientSlot else { return }
        buffer.runStart = (0, 0)
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
        run.clear()
        runEvents = 0
        runReceivedAt = nil
    }

    /// Queues `frame` for every recipient but the connection `excluded`.
    func broadcast(_ frame: ByteBuffer, excluding excluded: UInt64?, receivedAt: NIODeadline? = nil) {
        guard let excluded else {
            guard !recipients.isEmpty else { return }
            run.writeImmutableBuffer(frame)
            runEvents += 1
            if runReceivedAt == nil { runReceivedAt = receivedAt }
            scheduleRunHandOut()
            return
        }
        handOutRun()
        for recipient in recipients where recipient.connectionID != excluded {
            recipient.enqueueBroadcast(frame, events: 1)
        }
        if let receivedAt { timeOneRecipient(receivedAt, excluding: excluded) }
    }

    /// Marks one recipient (rotating) to record, at its next write, how long
    /// after `receivedAt` the line reached its socket: one sample per loop
    /// and tick rather than a clock read per recipient.
    private func timeOneRecipient(_ receivedAt: NIODeadline, excluding excluded: UInt64? = nil) {
        guard !recipients.isEmpty else { return }
        sampleCursor = (sampleCursor + 1) % recipients.count
        let recipient = recipients[sampleCursor]
        guard recipient.connectionID != excluded else { return }
        recipient.timeNextWrite(since: receivedAt)
    }

    private func scheduleRunHandOut() {
        guard !isRunHandOutScheduled else { return }
        isRunHandOutScheduled = true
        // Broadcasts already queued on this loop run first and join the run.
        eventLoop.assumeIsolated().execute { [self] in
            handOutRun()
        }
    }

    /// Hands the run to every recipient, then starts a new one.
    func handOutRun() {
        isRunHandOutScheduled = false
        guard runEvents > 0 else { return }
        for recipient in recipients { handOutRun(to: recipient) }
        if let receivedAt = runReceivedAt { timeOneRecipient(receivedAt) }
        run = ByteBuffer()
        runEvents = 0
        runReceivedAt = nil
    }

    /// Hands `recipient` the part of the run that came after its addition.
    private func handOutRun(to recipient: OutboundBuffer) {
        let (startByte, startEvent) = recipient.runStart
        recipient.runStart = (0, 0)
        guard runEvents > startEvent else { return }
        let part = run.getSlice(at: run.readerIndex + startByte, length: run.readableBytes - startByte)!
        recipient.enqueueBroadcast(part, events: runEvents - startEvent)
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

    /// Bytes and events waiting in the outbound buffers of this loop's joined
    /// connections; read when metrics are scraped, never on the event path.
    func outboundBacklog() -> (bytes: Int, events: Int) {
        var bytes = run.readableBytes * recipients.count
        var events = runEvents * recipients.count
        for recipient in recipients {
            bytes += recipient.queuedBytes
            events += recipient.queuedEvents
        }
        return (bytes, events)
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
