import ChatProtocol
import Foundation
import NIOCore
import NIOWebSocket

/// One client's session, run on its connection's event loop: applies
/// `SessionStateMachine` to each message and carries out its actions on
/// the bus.
///
/// Messages are handled one at a time: while a bus operation is in flight,
/// later messages wait in a small inbox, so the replies and events a
/// client's messages cause reach it in the order it sent them. A `say`
/// completes once Redis took the line; its copy comes back to the client
/// later, in the cluster's order, so further lines may be published
/// meanwhile but any other reply waits until the client's own lines are
/// back (`OwnLinesInFlight`). An inbox that fills up stops reading from
/// the socket until it drains. An idle connection costs no task and no
/// actor, only this object, which its transport handler holds: it is not
/// a pipeline handler of its own, which would cost every connection one
/// more handler context.
final class ChatSession {
    /// Reading pauses while this many bytes of messages wait.
    static let inboxHighWatermark = 64 * 1024

    private let node: ChatNode
    private let connectionID: UInt64
    private let outlet: ConnectionOutlet
    /// An action that must wait until the client's own lines are back; boxed
    /// because it is rare and an action inline would cost every session 113 bytes.
    private var actionAfterOwnLines: WaitingAction?
    private var machine: SessionStateMachine
    private var membership = SessionMembership()
    /// Messages waiting for the bus operation in flight; empty (and free) when idle.
    private var inbox = SessionInbox(highWatermark: ChatSession.inboxHighWatermark)
    private var isBusy = false
    /// The connection's one deadline: for the hello until the join, then for
    /// the login token's expiry when it has one and no newer one came (§7).
    private var deadline: Scheduled<Void>?
    private var leaveReason = LeaveReason.quit

    /// Made on the connection's event loop, which `outlet`'s handlers belong to;
    /// it hears from the connection once `start()` attached it to the transport.
    init(node: ChatNode, connectionID: UInt64, version: ProtocolVersion, outlet: ConnectionOutlet) {
        self.node = node
        self.connectionID = connectionID
        self.outlet = outlet
        self.machine = SessionStateMachine(
            version: version, rate: node.configuration.rate, burst: node.configuration.burst,
            maximumRooms: node.configuration.maximumRooms, login: node.login, now: .now
        )
    }

    // The connection's parts, reached through the outlet rather than kept
    // here too: every field is paid for by every connection.
    private var buffer: OutboundBuffer { outlet.buffer.value }
    private var transport: WebSocketConnectionHandler { outlet.transport.value }
    private var ownLines: OwnLinesInFlight { outlet.ownLines.value }
    private var codec: any ChatCodec.Type { outlet.kind.version.codec }

    // MARK: Lifecycle

    /// Attaches the session to its connection's transport and starts the hello deadline.
    func start() {
        transport.attach(self)
        ownLines.session = self
        outlet.notices.value.session = self
        node.metrics.connections.increment()
        deadline = outlet.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(node.configuration.helloTimeout)) { [self] in
            helloTimedOut()
        }
    }

    private func end() {
        guard let action = membership.connectionEnded() else { return }
        deadline?.cancel()
        inbox.removeAll()
        node.metrics.connections.decrement()
        apply(action)
    }

    private func apply(_ action: SessionMembership.Action) {
        switch action {
        case .none:
            break
        case .closeForLateHello:
            transport.close(code: .policyViolation, reason: "no hello within the time limit")
        case .leave(let member):
            node.bus.leave(member, reason: leaveReason)
        }
    }

    private func processInbox() {
        while !isBusy, !ownLines.isFull, actionAfterOwnLines == nil, !membership.hasEnded, let payload = inbox.next() {
            handle(payload)
        }
        if inbox.resumeReading() { transport.resumeReading() }
    }

    private func handle(_ payload: [UInt8]) {
        // A draining node has released its users and is closing every connection.
        guard !node.isDraining else { return }
        node.metrics.messagesReceived.increment()
        let action = machine.receive(payload, now: .now)
        if case .say = action {
            // Lines are published in order without waiting for the previous ones to come back.
        } else if ownLines.count > 0 {
            actionAfterOwnLines = WaitingAction(action)
            return
        }
        carryOut(action)
    }

    private func carryOut(_ action: SessionStateMachine.Action) {
        switch action {
        case .reply(let event):
            if case .error(.rateLimited, _, _) = event { node.metrics.rateLimited.increment() }
            reply(event)
        case .replyAndCloseForFlooding(let event):
            node.metrics.rateLimited.increment()
            reply(event)
            transport.close(code: .policyViolation, reason: "too many messages")
        case .replyAndCloseUnauthorized(let event):
            node.metrics.loginsRefused.increment()
            reply(event)
            transport.close(code: .policyViolation, reason: "login token not accepted")
        case .join(let nick, let since, let identity, let ref):
            join(nick, since: since, identity: identity, ref: ref)
        case .refreshed(let identity):
            if let identity { scheduleLoginDeadline(identity) }
        case .say(let text, let room, let ref):
            say(text, in: room, ref: ref)
        case .whisper(let recipient, let text, let ref):
            whisper(text, to: recipient, ref: ref)
        case .who(let room, let page, let ref):
            who(room, page: page, ref: ref)
        case .enter(let room, let since, let ref):
            enter(room, since: since, ref: ref)
        case .part(let room, let ref):
            part(room, ref: ref)
        case .rooms(let ref):
            rooms(ref: ref)
        }
    }

    // MARK: Actions

    private func join(_ nick: Nick, since: String?, identity: UserIdentity?, ref: String?) {
        let candidate = LocalMember(connectionID: connectionID, nick: nick, outlet: outlet, identity: identity)
        membership.joinStarted()
        perform(node.bus.join(candidate, since: since, ref: ref)) { [self] result in
            switch result {
            case .success(.joined):
                machine.joined(as: nick, identity: identity)
                deadline?.cancel()
                // The cancelled task's promise would otherwise stay with the session for good.
                deadline = nil
                if let identity { scheduleLoginDeadline(identity) }
                // Leaves at once if the connection ended while the join was in flight.
                apply(membership.joined(candidate))
            case .success(.nickTaken):
                reply(.error(.nickTaken, ref: ref))
                apply(membership.joinFailed())
            case .failure(let error):
                unavailable(error, ref: ref)
                apply(membership.joinFailed())
            }
        }
    }

    /// Publishes a line without waiting for Redis: the next lines go out
    /// meanwhile (up to `OwnLinesInFlight.limit`), and only a refusal comes
    /// back to this loop, after the lines sent before it.
    private func say(_ text: String, in room: RoomName, ref: String?) {
        guard let member = membership.member else { return }
        let line = ChatLine(id: node.messageIDs.next(), from: member.nick.canonical, text: text, ts: Clock.milliseconds(), room: room)
        ownLines.published(line.id)
        let session = NIOLoopBound(self, eventLoop: outlet.eventLoop)
        node.bus.broadcast(line, from: member, ref: ref, receivedAt: .now()).whenComplete { result in
            if case .success(.done) = result { return }
            session.eventLoop.execute { session.value.refused(line.id, result, ref: ref) }
        }
    }

    /// A line was not published, so it will not come back: its refusal
    /// follows the copies of the lines sent before it.
    private func refused(_ id: String, _ result: Result<RoomOutcome, any Error>, ref: String?) {
        let refusal: ErrorCode
        switch result {
        case .success(.done):
            return
        case .success(.notInRoom):
            refusal = .notInRoom
        case .failure(let error):
            node.logger.debug("bus unavailable", metadata: ["error": "\((error as? BusError)?.message ?? "\(error)")"])
            node.metrics.busFailures.increment()
            refusal = .unavailable
        }
        ownLines.refused(id, with: .error(refusal, ref: ref))
    }

    private func whisper(_ text: String, to recipient: NickKey, ref: String?) {
        guard let member = membership.member else { return }
        let draft = DirectDraft(id: node.messageIDs.next(), from: member.nick.canonical, text: text, ts: Clock.milliseconds())
        perform(node.bus.whisper(draft, to: recipient, from: member, ref: ref)) { [self] result in
            switch result {
            case .success(.delivered): break
            case .success(.noSuchUser): reply(.error(.noSuchUser, ref: ref))
            case .failure(let error): unavailable(error, ref: ref)
            }
        }
    }

    private func who(_ room: RoomName, page: MemberQuery?, ref: String?) {
        guard let member = membership.member else { return }
        perform(node.bus.members(of: room, for: member, page: page)) { [self] result in
            switch result {
            case .success(.all(let users)): reply(.users(users, ref: ref))
            case .success(.page(let page)): reply(.memberPage(page, ref: ref))
            case .success(.notInRoom): reply(.error(.notInRoom, ref: ref))
            case .failure(let error): unavailable(error, ref: ref)
            }
        }
    }

    private func enter(_ room: RoomName, since: String?, ref: String?) {
        guard let member = membership.member else { return }
        perform(node.bus.enter(room, member, since: since, ref: ref)) { [self] result in
            switch result {
            case .success(.done): machine.entered(room)
            case .success(.notInRoom): reply(.error(.notInRoom, ref: ref))
            case .failure(let error): unavailable(error, ref: ref)
            }
        }
    }

    private func part(_ room: RoomName, ref: String?) {
        guard let member = membership.member else { return }
        perform(node.bus.part(room, member)) { [self] result in
            switch result {
            case .success(.done):
                machine.left(room)
                reply(.parted(room: room, reason: .part, ref: ref))
            case .success(.notInRoom): reply(.error(.notInRoom, ref: ref))
            case .failure(let error): unavailable(error, ref: ref)
            }
        }
    }

    private func rooms(ref: String?) {
        let identity = machine.identity
        perform(node.bus.roomList()) { [self] result in
            switch result {
            case .success(let rooms):
                // Private rooms are listed only to users who may join them (§7).
                reply(.roomList(rooms.filter { RoomAccess.mayJoin($0.room, identity: identity) }, ref: ref))
            case .failure(let error): unavailable(error, ref: ref)
            }
        }
    }

    /// Starts a bus operation (it hops to the bus's loop, no task), then runs
    /// `completion` back on this connection's loop, and only then the next
    /// message of the inbox.
    private func perform<Value: Sendable>(
        _ operation: @autoclosure () -> EventLoopFuture<Value>,
        then completion: @escaping (Result<Value, BusError>) -> Void
    ) {
        guard !membership.hasEnded else { return }
        isBusy = true
        operation().hop(to: outlet.eventLoop).assumeIsolated().whenComplete { [self] result in
            isBusy = false
            completion(result.mapError { $0 as? BusError ?? .unavailable("\($0)") })
            processInbox()
        }
    }

    // MARK: Replies

    private func helloTimedOut() {
        apply(membership.helloDeadlinePassed())
    }

    /// A connection has until `loginGrace` (30 s) after its token's `exp` to send a newer one (§7).
    private func scheduleLoginDeadline(_ identity: UserIdentity) {
        guard !membership.hasEnded else { return }
        deadline?.cancel()
        let grace = Double(node.configuration.loginGrace.components.seconds) + Double(node.configuration.loginGrace.components.attoseconds) / 1e18
        let remaining = identity.expiresAt + grace - Date().timeIntervalSince1970
        deadline = outlet.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(max(0, remaining) * 1e9))) { [self] in
            node.metrics.loginsExpired.increment()
            reply(.error(code: .unauthorized, message: "the login token expired; reconnect with a new one", ref: nil))
            transport.close(code: .policyViolation, reason: "login token expired")
        }
    }


    private func unavailable(_ error: BusError, ref: String?) {
        node.metrics.busFailures.increment()
        node.logger.debug("bus unavailable", metadata: ["error": "\(error.message)"])
        reply(.error(.unavailable, ref: ref))
    }

    private func reply(_ event: ServerEvent) {
        buffer.enqueue(ServerFrame.text(codec.encode(event)))
        node.metrics.eventsDelivered.increment()
    }
}

extension ChatSession: ConnectionEventReceiver {
    func receive(_ event: ConnectionEvent) {
        switch event {
        case .message(let payload):
            inbox.append(payload)
            processInbox()
        case .heartbeatTimedOut:
            node.metrics.heartbeatTimeouts.increment()
            leaveReason = .timeout
        }
    }

    func readRequested() -> Bool {
        inbox.readRequested()
    }

    func connectionEnded() {
        end()
    }
}

extension ChatSession: SessionListener {
    /// The lines in flight are all back, or there is room for more: what
    /// waited for them goes on.
    func ownLinesSettled() {
        if ownLines.count == 0, let action = actionAfterOwnLines?.action {
            actionAfterOwnLines = nil
            guard !membership.hasEnded, !node.isDraining else { return }
            carryOut(action)
        }
        processInbox()
    }

    func ownLineRefused(_ refusal: ServerEvent) {
        reply(refusal)
    }

    func removedFromRoom(_ room: RoomName) {
        machine.left(room)
    }
}

/// A session's action that waits for its lines in flight.
private final class WaitingAction {
    let action: SessionStateMachine.Action

    init(_ action: SessionStateMachine.Action) {
        self.action = action
    }
}
