import ChatProtocol

/// The rules of one client session as a value type: what each incoming
/// message means given the session's state, in PROTOCOL.md's precedence
/// (rate limit, `bad_message`, `unknown_type`, joined state, field rules).
///
/// It performs no I/O; `ChatSessionHandler` carries out the returned action.
/// Bus-dependent checks (`unavailable`, `nick_taken`, `no_such_user`) come
/// after it, in the session.
struct SessionStateMachine {
    enum State: Equatable {
        case awaitingHello
        case joined(Nick)
    }

    /// What the session must do with one incoming message.
    enum Action: Equatable {
        /// Answer this client only.
        case reply(ServerEvent)
        /// Answer `rate_limited`, then close with 1008: the client kept flooding.
        case replyAndCloseForFlooding(ServerEvent)
        /// Claim the nick and welcome the client, resuming after `since` (v2).
        case join(Nick, since: String?, ref: String?)
        /// Broadcast a line.
        case say(text: String, ref: String?)
        /// Send a private line.
        case whisper(to: NickKey, text: String, ref: String?)
        /// List the users.
        case who(ref: String?)
    }

    /// After this many `rate_limited` answers in a row the connection is closed.
    static let maximumRateLimitedInARow = 100

    private(set) var state = State.awaitingHello
    private let codec: any ChatCodec.Type
    private var limiter: RateLimiter
    private var rateLimitedInARow = 0

    init(version: ProtocolVersion, rate: Double, burst: Int, now: ContinuousClock.Instant) {
        self.codec = version.codec
        self.limiter = RateLimiter(rate: rate, burst: burst, now: now)
    }

    /// Interprets one complete text message.
    mutating func receive(_ payload: [UInt8], now: ContinuousClock.Instant) -> Action {
        let frame = codec.decode(payload)
        guard limiter.take(now: now) else {
            rateLimitedInARow += 1
            let error = ServerEvent.error(.rateLimited, ref: frame.ref)
            return rateLimitedInARow >= Self.maximumRateLimitedInARow ? .replyAndCloseForFlooding(error) : .reply(error)
        }
        rateLimitedInARow = 0
        let ref = frame.ref
        let message: ClientMessage
        switch frame.message {
        case .failure(let code): return .reply(.error(code, ref: ref))
        case .success(let decoded): message = decoded
        }

        switch (message, state) {
        case (.ping, _):
            return .reply(.pong(ref: ref))
        case (.hello, .joined):
            return .reply(.error(.alreadyJoined, ref: ref))
        case (.hello(let raw, let since), .awaitingHello):
            guard let nick = Nick(validating: raw) else { return .reply(.error(.nickInvalid, ref: ref)) }
            return .join(nick, since: since, ref: ref)
        case (.say, .awaitingHello), (.whisper, .awaitingHello), (.who, .awaitingHello):
            return .reply(.error(.notJoined, ref: ref))
        case (.say(let text), .joined):
            guard MessageText.isValid(text) else { return .reply(.error(.textInvalid, ref: ref)) }
            return .say(text: text, ref: ref)
        case (.whisper(let to, let text), .joined):
            guard MessageText.isValid(text) else { return .reply(.error(.textInvalid, ref: ref)) }
            return .whisper(to: NickKey(lookingUp: to), text: text, ref: ref)
        case (.who, .joined):
            return .who(ref: ref)
        }
    }

    /// Records that the bus accepted the session's `hello`.
    mutating func joined(as nick: Nick) {
        state = .joined(nick)
    }
}
