/// A message delivered to a subscriber: a `message` or `pmessage` push.
public struct RedisPubSubMessage: Sendable, Equatable {
    /// The channel it was published to.
    public var channel: String
    /// The pattern that matched, for `PSUBSCRIBE` subscriptions.
    public var pattern: String?
    /// The published payload, binary safe.
    public var payload: [UInt8]

    /// Creates a message.
    public init(channel: String, pattern: String? = nil, payload: [UInt8]) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }
}

/// A push a subscriber connection receives outside the request/reply flow.
enum RedisPush: Sendable {
    case message(RedisPubSubMessage)
    /// `subscribe`/`psubscribe` confirmation for a channel or pattern.
    case subscribed(String)
    /// `unsubscribe`/`punsubscribe`/`sunsubscribe` confirmation, or (sharded)
    /// the server dropping a channel whose slot moved to another node.
    case unsubscribed(String)
    /// An error reply while no command waits for one: Redis refused a
    /// `SUBSCRIBE` (an ACL user without that channel, say).
    case refused(String)

    /// Recognises a push among replies on a connection in subscriber mode.
    init?(_ reply: RedisReply) {
        guard case .array(let parts) = reply, let kind = parts.first?.string else { return nil }
        switch (kind, parts.count) {
        case ("message", 3), ("smessage", 3):
            guard let channel = parts[1].string, case .bulk(let payload) = parts[2] else { return nil }
            self = .message(RedisPubSubMessage(channel: channel, payload: payload))
        case ("pmessage", 4):
            guard let pattern = parts[1].string, let channel = parts[2].string, case .bulk(let payload) = parts[3] else { return nil }
            self = .message(RedisPubSubMessage(channel: channel, pattern: pattern, payload: payload))
        case ("subscribe", 3), ("psubscribe", 3), ("ssubscribe", 3):
            guard let name = parts[1].string else { return nil }
            self = .subscribed(name)
        case ("unsubscribe", 3), ("punsubscribe", 3), ("sunsubscribe", 3):
            self = .unsubscribed(parts[1].string ?? "")
        default:
            return nil
        }
    }
}
