import ChatProtocol
import Foundation

/// The rules of one client session as a value type: what each incoming
/// message means given the session's state, in PROTOCOL.md's precedence
/// (rate limit, `bad_message`, `unknown_type`, joined state, field rules,
/// the room rules among them: `room_invalid`, `already_in_room`, `too_many_rooms`).
///
/// It performs no I/O; `ChatSession` carries out the returned action.
/// Bus-dependent checks (`unavailable`, `nick_taken`, `no_such_user`) come
/// after it, in the session, and so does `not_in_room`, a cluster-state check.
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
        /// Answer `unauthorized`, then close with 1008: the `hello`'s login token was not accepted.
        case replyAndCloseUnauthorized(ServerEvent)
        /// Claim the nick and welcome the client, resuming after `since`
        /// (v2); `identity` is what its login token proved (nil without `--auth-key`).
        case join(Nick, since: String?, identity: UserIdentity?, ref: String?)
        /// The connection's login token was replaced by a newer one (nil without `--auth-key`).
        case refreshed(UserIdentity?)
        /// Broadcast a line to a room (v1 and v2: `lobby`).
        case say(text: String, room: RoomName, ref: String?)
        /// Send a private line.
        case whisper(to: NickKey, text: String, ref: String?)
        /// List a room's members: all of `lobby` for v1 and v2, one page for v3.
        case who(room: RoomName, page: MemberQuery?, ref: String?)
        /// v3: become a member of a room, resuming after `since`.
        case enter(RoomName, since: String?, ref: String?)
        /// v3: stop being a member of a room.
        case part(RoomName, ref: String?)
        /// v3: list the busiest rooms.
        case rooms(ref: String?)
    }

    /// After this many `rate_limited` answers in a row the connection is closed.
    static let maximumRateLimitedInARow = 100

    private(set) var state = State.awaitingHello
    /// What the connection's login token proves, once joined with one.
    private(set) var identity: UserIdentity?
    /// Checks login tokens; nil when the node needs none (no `--auth-key`).
    private let login: LoginVerifier?
    /// v3: the rooms the session is a member of.
    private(set) var rooms: Set<RoomName> = []
    /// v3: how many rooms the session may be a member of at once (`--max-rooms`).
    let maximumRooms: Int
    private let version: ProtocolVersion
    private let codec: any ChatCodec.Type
    private var limiter: RateLimiter
    private var rateLimitedInARow = 0

    init(
        version: ProtocolVersion, rate: Double, burst: Int, maximumRooms: Int = 50, login: LoginVerifier? = nil, now: ContinuousClock.Instant
    ) {
        self.version = version
        self.login = login
        self.maximumRooms = maximumRooms
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
        case (.hello(let raw, let since, let token), .awaitingHello):
            guard let nick = Nick(validating: raw) else { return .reply(.error(.nickInvalid, ref: ref)) }
            guard let login else { return .join(nick, since: since, identity: nil, ref: ref) }
            let verified = token.map { login.verify($0, now: Date().timeIntervalSince1970) } ?? .failure(.missing)
            switch verified {
            case .success(let identity) where identity.permits(nick):
                return .join(nick, since: since, identity: identity, ref: ref)
            case .success:
                return .replyAndCloseUnauthorized(Self.unauthorized(.otherNick, ref: ref))
            case .failure(let refusal):
                return .replyAndCloseUnauthorized(Self.unauthorized(refusal, ref: ref))
            }
        case (.refresh(let token), .joined):
            guard let login, let current = identity else { return .refreshed(nil) }
            switch login.verify(token, now: Date().timeIntervalSince1970) {
            case .success(let renewed) where renewed.subject == current.subject:
                identity = renewed
                return .refreshed(renewed)
            case .success:
                return .reply(Self.unauthorized(.otherUser, ref: ref))
            case .failure(let refusal):
                return .reply(Self.unauthorized(refusal, ref: ref))
            }
        case (.say, .awaitingHello), (.whisper, .awaitingHello), (.who, .awaitingHello),
            (.join, .awaitingHello), (.part, .awaitingHello), (.rooms, .awaitingHello), (.refresh, .awaitingHello):
            return .reply(.error(.notJoined, ref: ref))
        case (.say(let text, let rawRoom), .joined):
            guard let room = room(rawRoom) else { return .reply(.error(.roomInvalid, ref: ref)) }
            guard MessageText.isValid(text) else { return .reply(.error(.textInvalid, ref: ref)) }
            return .say(text: text, room: room, ref: ref)
        case (.whisper(let to, let text), .joined):
            guard MessageText.isValid(text) else { return .reply(.error(.textInvalid, ref: ref)) }
            return .whisper(to: NickKey(lookingUp: to), text: text, ref: ref)
        case (.who(let query), .joined):
            guard let query else { return .who(room: .lobby, page: nil, ref: ref) }
            guard let room = RoomName(validating: query.room) else { return .reply(.error(.roomInvalid, ref: ref)) }
            return .who(room: room, page: query, ref: ref)
        case (.join(let rawRoom, let since), .joined):
            guard let room = RoomName(validating: rawRoom) else { return .reply(.error(.roomInvalid, ref: ref)) }
            guard !rooms.contains(room) else { return .reply(.error(.alreadyInRoom, ref: ref)) }
            guard rooms.count < maximumRooms else { return .reply(.error(.tooManyRooms, ref: ref)) }
            // The token in force now decides, so a refresh that names more rooms opens them.
            guard RoomAccess.mayJoin(room, identity: identity) else { return .reply(.error(.roomForbidden, ref: ref)) }
            return .enter(room, since: since, ref: ref)
        case (.part(let rawRoom), .joined):
            guard let room = RoomName(validating: rawRoom) else { return .reply(.error(.roomInvalid, ref: ref)) }
            return .part(room, ref: ref)
        case (.rooms, .joined):
            return .rooms(ref: ref)
        }
    }

    /// The room a `say` names: v1 and v2 name none and speak in `lobby`.
    private func room(_ raw: String?) -> RoomName? {
        guard let raw else { return version < .v3 ? .lobby : nil }
        return RoomName(validating: raw)
    }

    private static func unauthorized(_ refusal: LoginRefusal, ref: String?) -> ServerEvent {
        .error(code: .unauthorized, message: refusal.message, ref: ref)
    }

    /// Records that the bus accepted the session's `hello`, with the identity its token proved.
    mutating func joined(as nick: Nick, identity: UserIdentity?) {
        state = .joined(nick)
        self.identity = identity
    }

    /// Records that the session became a member of `room` (v3).
    mutating func entered(_ room: RoomName) {
        rooms.insert(room)
    }

    /// Records that the session is no longer a member of `room` (v3).
    mutating func left(_ room: RoomName) {
        rooms.remove(room)
    }
}
