import ChatProtocol
import NIOCore
import Redis

/// A chat line this node published, waiting to come back through the event stream.
struct LineInFlight {
    let line: ChatLine
    let sender: LocalMember
    let ref: String?
    let receivedAt: NIODeadline
    /// Redis answered the line's script: it is in the room's history.
    var isStored = false
}

/// A room being loaded: its events that arrived meanwhile (with their
/// numbers in the room's sequence), and who waits.
struct RoomLoad {
    let loaded: EventLoopPromise<Void>
    var held: [(event: ClusterEnvelope.Event, sequence: Int64?)] = []
}

extension RedisBus {
    /// Applies one message from the subscriber to this node's view and clients.
    func receive(_ message: RedisPubSubMessage) {
        metrics.busEventsReceived.increment()
        guard let envelope = ClusterEnvelope.decode(message.payload) else {
            logger.debug("ignoring a cluster message this build does not understand", metadata: ["channel": "\(message.channel)"])
            return
        }
        switch link.received(envelope.event) {
        case .apply: apply(envelope.event, sequence: envelope.sequence)
        case .hold: break
        }
    }

    /// After the subscription was cut: delivers, oldest first, the lines of
    /// each held room's history this node never got, then the lines that
    /// arrived live meanwhile, so its clients see every line once and in
    /// each room's order.
    func catchUp() async throws(BusError) {
        link.beginCatchUp()
        defer {
            for line in link.endCatchUp() { apply(.message(line)) }
            // A released line that Redis recorded is in the history or came live by now.
            linesReleased.removeAll()
        }
        let rooms = Array(core.rooms.keys)
        let replies = try await batch(rooms.map { room in
            RedisCommand(["LRANGE", keys.history(room), "0", String(core.historyRetention - 1)])
        })
        var missed = 0
        for (room, reply) in zip(rooms, replies) {
            for line in Self.lines(in: reply) where line.room == room && core.view(of: room)?.history.contains(line.id) == false {
                apply(.message(line))
                missed += 1
            }
        }
        if missed > 0 {
            logger.info("delivered the lines sent while this node's subscription was cut", metadata: ["lines": "\(missed)"])
        }
    }

    /// Applies one cluster event, this node's own included: the stream's
    /// order is the order every node delivers in. A room's events wait
    /// while the room loads or catches up after its channel was cut; those of
    /// rooms this node does not hold are dropped.
    func apply(_ event: ClusterEnvelope.Event, sequence: Int64? = nil) {
        if let room = event.room {
            if roomLoads[room] != nil {
                roomLoads[room]!.held.append((event, sequence))
                return
            }
            // Usually empty: one check spares every event a lookup.
            if !roomCatchUps.isEmpty, roomCatchUps[room] != nil {
                roomCatchUps[room]!.hold(event, sequence: sequence)
                return
            }
        }
        switch event {
        case .message(let line):
            let followUp = core.deliver(line) { id in
                if let inFlight = linesInFlight.removeValue(forKey: id) {
                    return .sender(inFlight.sender, ref: inFlight.ref, receivedAt: inFlight.receivedAt)
                }
                if let sender = linesReleased.removeValue(forKey: id) { return .senderServedAlready(sender) }
                return .elsewhere
            }
            if let followUp {
                arrange(followUp)
            } else if !core.holds(line.room) {
                // The sender left the room (or the node) before its line came back.
                linesInFlight[line.id] = nil
            }
        case .direct(let line, let connection):
            for recipient in core.members(NickKey(lookingUp: line.to)) where recipient.connectionID == connection {
                arrange(core.deliverDirect(line, to: recipient, ref: nil))
            }
        case .joined(let nick, let owner, let ts, let room):
            arrange(core.listJoined(Nick(trustedCanonical: nick), in: room, owner: owner, ts: ts))
        case .left(let nick, let owner, let ts, let reason, let room):
            arrange(core.listLeft(Nick(trustedCanonical: nick), in: room, owner: owner, ts: ts, reason: reason))
        case .leftMany(let departures, let ts, let reason, let room):
            let nicks = departures.map { (nick: Nick(trustedCanonical: $0.nick), owner: $0.owner) }
            arrange(core.listLeft(nicks, in: room, ts: ts, reason: reason))
        case .kick(let nick, let connection, let room):
            kickLocal(nick, connection: connection, from: room)
        case .disconnect(let nick, let connection, let reason):
            disconnectLocal(nick, connection: connection, reason: reason)
        }
    }

    /// The link to Redis was lost: the lines in flight that Redis stored
    /// will not come back live. Their senders get their own copy now (the
    /// others get the lines from history once the link is back). A line
    /// whose script Redis has not answered yet waits for the answer: stored,
    /// its sender gets its copy then; refused or lost, `unavailable`.
    func releaseLinesInFlight() {
        for (id, inFlight) in linesInFlight where inFlight.isStored { releaseLine(id) }
    }

    /// Tells the sender of a line that Redis acknowledged and then lost (its
    /// master died before the replica that took over had it) that the line
    /// went nowhere, so it can send it again.
    func refuseLostLine(_ id: String) {
        guard let inFlight = linesInFlight.removeValue(forKey: id) else { return }
        let refusal = ServerEvent.error(code: .unavailable, message: "the line was lost in a Redis failover; send it again", ref: inFlight.ref)
        inFlight.sender.outlet.sendOwnLine(LocalFanout.frame(refusal, for: inFlight.sender.kind.version), id: id)
    }

    /// Gives the sender of a stored line its own copy, as it will not come back live.
    func releaseLine(_ id: String) {
        guard let inFlight = linesInFlight.removeValue(forKey: id) else { return }
        let sender = inFlight.sender
        sender.outlet.sendOwnLine(LocalFanout.frame(.message(inFlight.line, ref: inFlight.ref), for: sender.kind.version), id: id)
        // It may still come back (the catch-up, or a subscriber that stayed up): then for everyone but its sender.
        linesReleased[inFlight.line.id] = inFlight.sender
    }

    /// Arranges what the core asked for, through the inbox.
    func arrange(_ followUp: PresenceFollowUp) {
        inbox.arrange(followUp, as: Input.presence)
    }

    /// Arranges each of what the core asked for.
    func arrange(_ followUps: [PresenceFollowUp]) {
        inbox.arrange(followUps, as: Input.presence)
    }
}
