import ChatProtocol
import NIOCore
import Redis

extension RedisBus {
    /// Applies one message from the subscriber to this node's view and clients.
    func receive(_ message: RedisPubSubMessage) {
        guard let envelope = ClusterEnvelope.decode(message.payload) else {
            logger.debug("ignoring a cluster message this build does not understand", metadata: ["channel": "\(message.channel)"])
            return
        }
        // This node applied its own events when it caused them.
        guard envelope.origin != instance else { return }
        reconciliationBuffer?.append(envelope.event)
        apply(envelope.event)
    }

    func apply(_ event: ClusterEnvelope.Event) {
        switch event {
        case .message(let line):
            guard view.record(line) else { return }
            metrics.eventsDelivered.increment(by: Int64(fanout.broadcast(frame(.message(line, ref: nil)), receivedAt: .now())))
        case .direct(let line, let connection):
            guard let recipient = fanout.member(NickKey(lookingUp: line.to)), recipient.connectionID == connection else { return }
            recipient.outlet.send(frame(.direct(line, ref: nil)))
            metrics.eventsDelivered.increment()
        case .joined(let nick, let owner, let ts):
            guard view.insert(nick, owner: owner) else { return }
            metrics.eventsDelivered.increment(by: Int64(fanout.broadcast(frame(.joined(nick: nick, ts: ts)))))
        case .left(let nick, let owner, let ts, let reason):
            guard view.remove(nick, owner: owner) else { return }
            metrics.eventsDelivered.increment(by: Int64(fanout.broadcast(frame(.left(nick: nick, ts: ts, reason: reason)))))
        case .leftMany(let departures, let ts, let reason):
            // One buffer of every `left` frame, shared by all recipients.
            var frames = ByteBuffer()
            var count = 0
            for departure in departures where view.remove(departure.nick, owner: departure.owner) {
                appendFrame(.left(nick: departure.nick, ts: ts, reason: reason), to: &frames)
                count += 1
            }
            guard count > 0 else { return }
            metrics.eventsDelivered.increment(by: Int64(fanout.broadcast(frames) * count))
        }
    }
}
