import ChatProtocol
import NIOCore
import Redis

/// A chat line this node published, waiting to come back through the event stream.
struct LineInFlight {
    let line: ChatLine
    let sender: LocalMember
    let ref: String?
    let receivedAt: NIODeadline
}

extension RedisBus {
    /// Applies one message from the subscriber to this node's view and clients.
    func receive(_ message: RedisPubSubMessage) {
        guard let envelope = ClusterEnvelope.decode(message.payload) else {
            logger.debug("ignoring a cluster message this build does not understand", metadata: ["channel": "\(message.channel)"])
            return
        }
        if case .message(let line) = envelope.event, heldLines != nil {
            // Older lines this node missed go out first (`catchUp`).
            heldLines?.append(line)
            return
        }
        reconciliationBuffer?.append(envelope.event)
        apply(envelope.event)
    }

    /// After the subscription was cut: delivers, oldest first, the lines of
    /// the history this node never got, then the lines that arrived live
    /// meanwhile, so its clients see every line once and in the cluster's order.
    func catchUp() async throws(BusError) {
        heldLines = []
        defer {
            for line in heldLines ?? [] { apply(.message(line)) }
            heldLines = nil
            // A released line that Redis recorded is in the history or came live by now.
            linesReleased.removeAll()
        }
        guard case .array(let stored) = try await batch([
            RedisCommand(["LRANGE", keys.history, "0", String(view.history.retention - 1)])
        ]).first else { return }
        var missed = 0
        for case .bulk(let bytes) in stored.reversed() {
            guard let line = ChatLine(storedForm: bytes), !view.history.contains(line.id) else { continue }
            apply(.message(line))
            missed += 1
        }
        if missed > 0 {
            logger.info("delivered the lines sent while this node's subscription was cut", metadata: ["lines": "\(missed)"])
        }
    }

    /// Applies one cluster event, this node's own included: the stream's
    /// order is the order every node delivers in.
    func apply(_ event: ClusterEnvelope.Event) {
        switch event {
        case .message(let line):
            guard view.history.append(line) else { return }
            flushPresenceEarly()
            let frames = fanout.frames(.message(line, ref: nil))
            if let inFlight = linesInFlight.removeValue(forKey: line.id) {
                inFlight.sender.outlet.sendOwnLine(LocalFanout.frame(.message(line, ref: inFlight.ref)))
                let delivered = fanout.broadcast(frames, excluding: inFlight.sender, receivedAt: inFlight.receivedAt)
                metrics.eventsDelivered.increment(by: Int64(delivered + 1))
            } else if let sender = linesReleased.removeValue(forKey: line.id) {
                // Its sender has its copy already (`releaseLinesInFlight`).
                metrics.eventsDelivered.increment(by: Int64(fanout.broadcast(frames, excluding: sender, receivedAt: .now())))
            } else {
                metrics.eventsDelivered.increment(by: Int64(fanout.broadcast(frames, receivedAt: .now())))
            }
        case .direct(let line, let connection):
            guard let recipient = fanout.member(NickKey(lookingUp: line.to)), recipient.connectionID == connection else { return }
            flushPresenceEarly()
            recipient.outlet.send(LocalFanout.frame(.direct(line, ref: nil)))
            metrics.eventsDelivered.increment()
        case .joined(let nick, let owner, let ts):
            let nick = Nick(trustedCanonical: nick)
            guard view.insert(nick, owner: owner) else { return }
            metrics.eventsDelivered.increment(by: Int64(fanout.announceJoined(nick, ts: ts)))
            presenceChanged()
        case .left(let nick, let owner, let ts, let reason):
            let nick = Nick(trustedCanonical: nick)
            guard view.remove(nick.key, owner: owner) else { return }
            metrics.eventsDelivered.increment(by: Int64(fanout.announceLeft(nick, ts: ts, reason: reason)))
            presenceChanged()
        case .leftMany(let departures, let ts, let reason):
            var nicks: [Nick] = []
            for departure in departures {
                let nick = Nick(trustedCanonical: departure.nick)
                if view.remove(nick.key, owner: departure.owner) { nicks.append(nick) }
            }
            metrics.eventsDelivered.increment(by: Int64(fanout.announceLeft(nicks, ts: ts, reason: reason)))
            presenceChanged()
        }
    }

    /// The subscriber lost its connection: lines in flight will not come
    /// back. Their senders get their own copy (Redis took the line, or will
    /// refuse it and they get `unavailable`), and their sessions go on.
    func releaseLinesInFlight() {
        let lost = linesInFlight
        linesInFlight.removeAll()
        for inFlight in lost.values {
            inFlight.sender.outlet.sendOwnLine(LocalFanout.frame(.message(inFlight.line, ref: inFlight.ref)))
            // Redis may still record it: it then comes back, for everyone but its sender.
            linesReleased[inFlight.line.id] = inFlight.sender
        }
    }

    // MARK: Presence batches

    /// Starts the presence timer when changes are held and none runs.
    func presenceChanged() {
        guard fanout.hasPendingPresence, let token = presenceSchedule.timerNeeded() else { return }
        let interval = presenceSchedule.interval
        Task {
            try? await Task.sleep(for: interval)
            await self.flushPresence(timer: token)
        }
    }

    /// Sends held presence changes before a `message` or `direct` event.
    func flushPresenceEarly() {
        flushPresence(timer: nil)
    }

    private func flushPresence(timer token: Int?) {
        fanout.flushPresence(timer: token, schedule: &presenceSchedule, metrics: metrics) { batch in
            Task { await self.presenceBatchWritten(batch) }
        }
    }

    /// The next interval starts once the last batch is out (`PresenceFlushSchedule`).
    private func presenceBatchWritten(_ batch: Int) {
        if presenceSchedule.written(batch) { presenceChanged() }
    }
}
