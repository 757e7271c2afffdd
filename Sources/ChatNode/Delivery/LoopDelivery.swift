import NIOCore
import NIOWebSocket

/// The chat connections of one event loop, owned by that loop.
///
/// The fan-out hands an event to a loop once. Recipients are grouped by
/// kind (protocol version, compression), and broadcast frames are appended
/// to one shared buffer per group (the run), which is handed to every
/// recipient of the group as a single reference: a storm of events costs
/// each recipient one queue entry and one write per hand-out, not a copy
/// per event. Runs are handed out at the end of the tick, but no sooner
/// than `coalescingWindow` after the previous hand-out: the first line
/// after a quiet spell leaves at once, and under load each recipient's
/// lines leave in fewer, larger writes (a write costs the kernel far more
/// than the bytes in it).
///
/// A recipient added during a run gets only the part after its addition;
/// a broadcast that excludes its sender leaves the sender out of that
/// frame; anything sent to one recipient alone (a whisper, a reply, the
/// sender's own copy) first hands that recipient its part of the run, so
/// per-recipient order holds without handing the run to anyone else. The
/// loop also knows every WebSocket connection it serves: one timer per
/// loop sweeps them for heartbeats (instead of a timer per connection),
/// and a draining node can close them all.
final class LoopDelivery {
    /// The least time between two hand-outs of the runs while broadcasts keep coming.
    static let coalescingWindow = TimeAmount.milliseconds(4)

    /// The joined connections of one kind and the broadcast bytes they have yet to get.
    private struct RecipientGroup {
        var recipients: [OutboundBuffer] = []
        var run = ByteBuffer()
        var runEvents = 0
    }

    let eventLoop: any EventLoop
    /// Inflates the compressed messages of this loop's connections, one at a time.
    private(set) lazy var inflater = MessageInflater()
    private let heartbeatSweepInterval: TimeAmount
    private var heartbeatSweep: RepeatedTask?
    private var groups = Array(repeating: RecipientGroup(), count: RecipientKind.count)
    private var connections: [ObjectIdentifier: WebSocketConnectionHandler] = [:]
    /// When the oldest chat line in the runs reached the node, if any.
    private var runReceivedAt: NIODeadline?
    /// Which recipient is timed next, so the samples rotate over connections.
    private var sampleCursor = 0
    private var isRunHandOutScheduled = false
    private var lastHandOut = NIODeadline.uptimeNanoseconds(0)
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
        let index = buffer.kind.index
        buffer.recipientSlot = groups[index].recipients.count
        buffer.runStart = (groups[index].run.readableBytes, groups[index].runEvents)
        groups[index].recipients.append(buffer)
    }

    /// Stops delivering broadcasts to `buffer`'s connection. Its user has
    /// left and the connection is ending, so its part of the current run is
    /// dropped (handing it a slice would make the next append copy the run).
    func removeRecipient(_ buffer: OutboundBuffer) {
        guard let slot = buffer.recipientSlot else { return }
        let index = buffer.kind.index
        buffer.runStart = (0, 0)
        buffer.recipientSlot = nil
        let last = groups[index].recipients.removeLast()
        if last !== buffer {
            groups[index].recipients[slot] = last
            last.recipientSlot = slot
        }
    }

    /// Stops delivering broadcasts to anyone here (the node is draining).
    func removeAllRecipients() {
        for index in groups.indices {
            for recipient in groups[index].recipients { recipient.recipientSlot = nil }
        }
        groups = Array(repeating: RecipientGroup(), count: RecipientKind.count)
        runReceivedAt = nil
    }

    /// Queues `frames` for every recipient in `audience` but `excluded`
    /// (the sender's connection, when it is on this loop).
    func broadcast(_ frames: OutgoingFrames, to audience: Audience, excluding excluded: OutboundBuffer? = nil, receivedAt: NIODeadline? = nil) {
        var appended = false
        for index in groups.indices where !groups[index].recipients.isEmpty {
            let kind = RecipientKind(index: index)
            guard audience.includes(kind) else { continue }
            let skipsSender = excluded?.kind == kind && excluded?.recipientSlot != nil
            if skipsSender, let excluded { catchUp(excluded) }
            groups[index].run.writeImmutableBuffer(frames.bytes(for: kind))
            groups[index].runEvents += 1
            if skipsSender, let excluded { excluded.runStart = (groups[index].run.readableBytes, groups[index].runEvents) }
            appended = true
        }
        guard appended else { return }
        if runReceivedAt == nil { runReceivedAt = receivedAt }
        scheduleRunHandOut()
    }

    /// Hands `buffer` its part of the current run now, ahead of the others:
    /// what is sent to it alone next must come after what was broadcast before.
    func catchUp(_ buffer: OutboundBuffer) {
        guard buffer.recipientSlot != nil else { return }
        let group = groups[buffer.kind.index]
        guard group.runEvents > 0 else { return }
        handOut(group.run, events: group.runEvents, to: buffer)
        buffer.runStart = (group.run.readableBytes, group.runEvents)
    }

    /// Marks one recipient (rotating) to record, at its next write, how long
    /// after `receivedAt` the line reached its socket: one sample per loop
    /// and tick rather than a clock read per recipient.
    private func timeOneRecipient(_ receivedAt: NIODeadline) {
        let total = groups.reduce(0) { $0 + $1.recipients.count }
        guard total > 0 else { return }
        sampleCursor = (sampleCursor + 1) % total
        var position = sampleCursor
        for group in groups {
            guard position >= group.recipients.count else {
                group.recipients[position].timeNextWrite(since: receivedAt)
                return
            }
            position -= group.recipients.count
        }
    }

    private func scheduleRunHandOut() {
        guard !isRunHandOutScheduled else { return }
        isRunHandOutScheduled = true
        let due = lastHandOut + Self.coalescingWindow
        if NIODeadline.now() >= due {
            // Broadcasts already queued on this loop run first and join the run.
            eventLoop.assumeIsolated().execute { [self] in handOutRun() }
        } else {
            eventLoop.assumeIsolated().scheduleTask(deadline: due) { [self] in handOutRun() }
        }
    }

    /// Hands each group's run to its recipients, then starts new runs.
    func handOutRun() {
        isRunHandOutScheduled = false
        var handedOut = false
        for index in groups.indices where groups[index].runEvents > 0 {
            let group = groups[index]
            groups[index].run = ByteBuffer()
            groups[index].runEvents = 0
            for recipient in group.recipients { handOut(group.run, events: group.runEvents, to: recipient) }
            handedOut = true
        }
        guard handedOut else { return }
        lastHandOut = .now()
        if let receivedAt = runReceivedAt { timeOneRecipient(receivedAt) }
        runReceivedAt = nil
    }

    /// Hands `recipient` the part of `run` that came after its addition.
    private func handOut(_ run: ByteBuffer, events: Int, to recipient: OutboundBuffer) {
        let (startByte, startEvent) = recipient.runStart
        recipient.runStart = (0, 0)
        guard events > startEvent else { return }
        let part = run.getSlice(at: run.readerIndex + startByte, length: run.readableBytes - startByte)!
        recipient.enqueueBroadcast(part, events: events - startEvent)
    }

    /// Flushes `buffer` once everything already queued on this loop ran.
    func flushAtEndOfTick(_ buffer: OutboundBuffer) {
        flushRequests.append(buffer)
        guard !isFlushScheduled else { return }
        isFlushScheduled = true
        eventLoop.assumeIsolated().execute { [self] in
            isFlushScheduled = false
            flushRequested()
        }
    }

    /// Hands out the runs and flushes every connection waiting for a flush
    /// now, instead of at the end of the tick.
    func writeQueuedNow() {
        handOutRun()
        flushRequested()
    }

    private func flushRequested() {
        swap(&flushRequests, &flushing)
        for buffer in flushing { buffer.flushNow() }
        flushing.removeAll(keepingCapacity: true)
    }

    /// Bytes and events waiting in the outbound buffers of this loop's joined
    /// connections; read when metrics are scraped, never on the event path.
    func outboundBacklog() -> (bytes: Int, events: Int) {
        var bytes = 0
        var events = 0
        for group in groups {
            bytes += group.run.readableBytes * group.recipients.count
            events += group.runEvents * group.recipients.count
            for recipient in group.recipients {
                bytes += recipient.queuedBytes
                events += recipient.queuedEvents
            }
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
