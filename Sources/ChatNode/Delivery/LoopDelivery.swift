import ChatProtocol
import NIOCore
import NIOWebSocket

/// The chat connections of one event loop, owned by that loop.
///
/// The fan-out hands an event to a loop once. A room's recipients here are
/// grouped by kind (protocol version, compression), and broadcast frames
/// are appended to one shared buffer per room and group (the run), which
/// is handed to every recipient of the group as a single reference: a
/// storm of events costs each recipient one queue entry and one write per
/// hand-out, not a copy per event. Runs are handed out at the end of the
/// tick, but no sooner than `coalescingWindow` after the previous
/// hand-out: the first line after a quiet spell leaves at once, and under
/// load each recipient's lines leave in fewer, larger writes (a write
/// costs the kernel far more than the bytes in it).
///
/// A recipient added during a run gets only the part after its addition;
/// a broadcast that excludes its sender leaves the sender out of that
/// frame; anything sent to one recipient alone (a whisper, a reply, the
/// sender's own copy) first hands that recipient its part of the runs of
/// its rooms, so per-recipient order holds without handing the runs to
/// anyone else. The loop also knows every WebSocket connection it serves:
/// one timer per loop sweeps them for heartbeats (instead of a timer per
/// connection), and a draining node can close them all.
final class LoopDelivery {
    /// The least time between two hand-outs of the runs while broadcasts keep coming:
    /// at 150 000 deliveries a second, 10 ms costs a third less CPU per delivery
    /// than 4 ms for a p99 latency of about 11 ms instead of 5 (docs/DECISIONS.md).
    static let coalescingWindow = TimeAmount.milliseconds(10)

    /// A member's connection and where it starts in its group's run (bytes, events).
    private struct Recipient {
        let buffer: OutboundBuffer
        var runStart: (bytes: Int, events: Int)
    }

    /// The members of one kind in one room and the broadcast bytes they have yet to get.
    private struct RecipientGroup {
        /// The recipients, by slot, each with where it starts in the run: one
        /// array, not two, since a node holds a group per room and loop.
        var recipients: [Recipient] = []
        var run = ByteBuffer()
        var runEvents = 0

        /// Where a recipient added now starts in the run.
        var runStart: (bytes: Int, events: Int) { (run.readableBytes, runEvents) }
    }

    /// One room's members on this loop, by kind: the group of a kind is at
    /// its `position`, and only as many groups exist as the kinds present
    /// need (a room of plain v3 clients, the usual case, has one).
    private struct RoomRecipients {
        var groups: [RecipientGroup] = []
        var count = 0
        var hasRun = false
    }

    /// Where the group of `kind` sits in a room's groups: v3 first, then v2, then v1.
    private static func position(of kind: RecipientKind) -> Int {
        RecipientKind.count - 2 - kind.index / 2 * 2 + kind.index % 2
    }

    /// The kind whose group sits at `position`.
    private static func kind(at position: Int) -> RecipientKind {
        RecipientKind(index: RecipientKind.count - 2 - position / 2 * 2 + position % 2)
    }

    let eventLoop: any EventLoop
    /// Inflates the compressed messages of this loop's connections, one at a time.
    private(set) lazy var inflater = MessageInflater()
    private let heartbeatSweepInterval: TimeAmount
    private var heartbeatSweep: RepeatedTask?
    private var rooms: [RoomName: RoomRecipients] = [:]
    /// The rooms whose runs hold something, in the order they started.
    private var roomsWithRuns: [RoomName] = []
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

    /// Starts delivering `room`'s broadcasts to `buffer`'s connection.
    func addRecipient(_ buffer: OutboundBuffer, room: RoomName) {
        guard buffer.roomSlots[room] == nil else { return }
        let index = Self.position(of: buffer.kind)
        rooms[room, default: RoomRecipients()].count += 1
        while rooms[room]!.groups.count <= index { rooms[room]!.groups.append(RecipientGroup()) }
        let start = rooms[room]!.groups[index].runStart
        buffer.roomSlots[room] = rooms[room]!.groups[index].recipients.count
        rooms[room]!.groups[index].recipients.append(Recipient(buffer: buffer, runStart: start))
    }

    /// Stops delivering `room`'s broadcasts to `buffer`'s connection. Its
    /// part of the room's current run is dropped: its user left the room
    /// (handing it a slice would make the next append copy the run).
    func removeRecipient(_ buffer: OutboundBuffer, room: RoomName) {
        guard let slot = buffer.roomSlots.removeValue(forKey: room) else { return }
        let index = Self.position(of: buffer.kind)
        let last = rooms[room]!.groups[index].recipients.removeLast()
        if last.buffer !== buffer {
            rooms[room]!.groups[index].recipients[slot] = last
            last.buffer.roomSlots[room] = slot
        }
        rooms[room]!.count -= 1
        if rooms[room]!.count == 0, !rooms[room]!.hasRun { rooms[room] = nil }
    }

    /// Stops delivering `room`'s broadcasts to anyone here.
    func removeAllRecipients(of room: RoomName) {
        guard let recipients = rooms.removeValue(forKey: room) else { return }
        for group in recipients.groups {
            for recipient in group.recipients { recipient.buffer.roomSlots[room] = nil }
        }
        roomsWithRuns.removeAll { $0 == room }
    }

    /// Stops delivering broadcasts to anyone here (the node is draining).
    func removeAllRecipients() {
        for room in rooms.values {
            for group in room.groups {
                for recipient in group.recipients { recipient.buffer.roomSlots.removeAll() }
            }
        }
        rooms.removeAll()
        roomsWithRuns.removeAll()
        runReceivedAt = nil
    }

    /// Queues `frames` for every member of `room` here in `audience` but
    /// `excluded` (the sender's connection, when it is on this loop).
    func broadcast(
        _ frames: OutgoingFrames, room: RoomName, to audience: Audience, excluding excluded: OutboundBuffer? = nil, receivedAt: NIODeadline? = nil
    ) {
        guard rooms[room] != nil else { return }
        var appended = false
        for index in rooms[room]!.groups.indices where !rooms[room]!.groups[index].recipients.isEmpty {
            let kind = Self.kind(at: index)
            guard audience.includes(kind) else { continue }
            let senderSlot = excluded?.kind == kind ? excluded?.roomSlots[room] : nil
            if let senderSlot { catchUp(room: room, index: index, slot: senderSlot) }
            rooms[room]!.groups[index].run.writeImmutableBuffer(frames.bytes(for: kind))
            rooms[room]!.groups[index].runEvents += 1
            if let senderSlot { rooms[room]!.groups[index].recipients[senderSlot].runStart = rooms[room]!.groups[index].runStart }
            appended = true
        }
        guard appended else { return }
        if !rooms[room]!.hasRun {
            rooms[room]!.hasRun = true
            roomsWithRuns.append(room)
        }
        if runReceivedAt == nil { runReceivedAt = receivedAt }
        scheduleRunHandOut()
    }

    /// Hands `buffer` its part of the current runs of its rooms now, ahead
    /// of the others: what is sent to it alone next must come after what
    /// was broadcast before.
    func catchUp(_ buffer: OutboundBuffer) {
        for (room, slot) in buffer.roomSlots where rooms[room]?.hasRun == true {
            catchUp(room: room, index: Self.position(of: buffer.kind), slot: slot)
        }
    }

    private func catchUp(room: RoomName, index: Int, slot: Int) {
        // Element by element: a copy of the group kept across the write below would copy its arrays.
        let events = rooms[room]!.groups[index].runEvents
        guard events > 0 else { return }
        let run = rooms[room]!.groups[index].run
        handOut(run, events: events, to: rooms[room]!.groups[index].recipients[slot])
        rooms[room]!.groups[index].recipients[slot].runStart = (run.readableBytes, events)
    }

    /// Marks one recipient of `room` (rotating) to record, at its next
    /// write, how long after `receivedAt` the line reached its socket: one
    /// sample per loop and tick rather than a clock read per recipient.
    private func timeOneRecipient(of room: RoomRecipients, since receivedAt: NIODeadline) {
        guard room.count > 0 else { return }
        sampleCursor = (sampleCursor + 1) % room.count
        var position = sampleCursor
        for group in room.groups {
            guard position >= group.recipients.count else {
                group.recipients[position].buffer.timeNextWrite(since: receivedAt)
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

    /// Hands each room's runs to their recipients, then starts new runs.
    func handOutRun() {
        isRunHandOutScheduled = false
        guard !roomsWithRuns.isEmpty else { return }
        let handedOut = roomsWithRuns
        roomsWithRuns.removeAll(keepingCapacity: true)
        for room in handedOut {
            guard var recipients = rooms.removeValue(forKey: room) else { continue }
            recipients.hasRun = false
            for index in recipients.groups.indices where recipients.groups[index].runEvents > 0 {
                let (run, events) = (recipients.groups[index].run, recipients.groups[index].runEvents)
                recipients.groups[index].run = ByteBuffer()
                recipients.groups[index].runEvents = 0
                for slot in recipients.groups[index].recipients.indices {
                    handOut(run, events: events, to: recipients.groups[index].recipients[slot])
                    recipients.groups[index].recipients[slot].runStart = (0, 0)
                }
            }
            if let receivedAt = runReceivedAt {
                timeOneRecipient(of: recipients, since: receivedAt)
                runReceivedAt = nil
            }
            if recipients.count > 0 { rooms[room] = recipients }
        }
        lastHandOut = .now()
        runReceivedAt = nil
    }

    /// Hands `recipient` the part of `run` that came after its start.
    private func handOut(_ run: ByteBuffer, events: Int, to recipient: Recipient) {
        let start = recipient.runStart
        guard events > start.events else { return }
        let part = run.getSlice(at: run.readerIndex + start.bytes, length: run.readableBytes - start.bytes)!
        recipient.buffer.enqueueBroadcast(part, events: events - start.events)
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
        var counted: Set<ObjectIdentifier> = []
        for room in rooms.values {
            for group in room.groups {
                bytes += group.run.readableBytes * group.recipients.count
                events += group.runEvents * group.recipients.count
                for recipient in group.recipients where counted.insert(ObjectIdentifier(recipient.buffer)).inserted {
                    bytes += recipient.buffer.queuedBytes
                    events += recipient.buffer.queuedEvents
                }
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

    /// How many WebSocket connections of this loop are open.
    var connectionCount: Int { connections.count }

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
