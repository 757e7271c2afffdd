import ChatProtocol
import NIOCore
import NIOPosix

/// The bus of a node that runs alone: the whole cluster is this process.
///
/// One actor owns the core (users, history, fan-out), so every operation
/// is atomic and every recipient sees events in one order (the protocol's
/// total order is simply the order of this actor).
actor InProcessBus: ChatBus {
    /// What reaches the bus through its inbox.
    enum Input: Sendable {
        case presence(PresenceInput)
        case leave(LocalMember, LeaveReason)
        /// Time to forget the rooms that have been idle long enough.
        case forgetIdleRooms
    }

    var core: BusCore
    /// Rooms that emptied, until they are forgotten or have members again.
    private var idleRooms: IdleRoomSchedule
    /// The rooms with members in `room_list` order.
    var ranking = RoomRanking()
    /// Whether an `.forgetIdleRooms` input is on its way.
    private var isSweepArranged = false
    private let inbox: BusInbox<Input>
    /// The event loop this actor runs on (one of the node's), so a chat line
    /// reaches it from a client's loop with one hop and no task.
    nonisolated let loop: any EventLoop

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        loop.executor.asUnownedSerialExecutor()
    }

    init(configuration: NodeConfiguration, metrics: ChatMetrics, loop: any EventLoop) {
        self.loop = loop
        self.core = BusCore(
            nodeID: configuration.nodeID,
            historyRetention: configuration.historyRetention,
            historyLength: configuration.historyLength,
            presenceInterval: configuration.presenceInterval,
            largeRoom: configuration.largeRoom,
            metrics: metrics
        )
        self.idleRooms = IdleRoomSchedule(idleLimit: configuration.forgetIdleRoomsAfter)
        self.inbox = BusInbox(timerLoop: loop)
    }

    var isAvailable: Bool { true }

    /// Users are listed under their connection (a nick's holder is one
    /// connection of this process), a logged-in user under its `sub`.
    func owner(of member: LocalMember) -> String {
        member.identity.map { "~" + $0.subject } ?? String(member.connectionID)
    }

    nonisolated func join(_ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<JoinOutcome> {
        loop.submit { self.assumeIsolated { $0.admit(member, since: since, ref: ref) } }
    }

    private func admit(_ member: LocalMember, since: String?, ref: String?) -> JoinOutcome {
        guard member.nick.key != .server else { return .nickTaken }
        if let holder = core.member(member.nick.key) {
            // A logged-in user may hold its nick through several connections (§7).
            guard let subject = member.identity?.subject, holder.identity?.subject == subject else { return .nickTaken }
        }
        if member.kind.version == .v3 {
            core.admit(member, ref: ref)
        } else {
            arrange(core.admitToLobby(member, owner: owner(of: member), ts: Clock.milliseconds(), since: since, ref: ref))
            rank(.lobby)
        }
        return .joined
    }

    nonisolated func leave(_ member: LocalMember, reason: LeaveReason) {
        inbox.post(.leave(member, reason))
    }

    private func depart(_ member: LocalMember, reason: LeaveReason) {
        guard let rooms = core.dismiss(member) else { return }
        let ts = Clock.milliseconds()
        for room in rooms where !core.hasOtherConnection(of: member, in: room) {
            listLeft(member, in: room, ts: ts, reason: reason)
        }
    }

    nonisolated func enter(_ room: RoomName, _ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<RoomOutcome> {
        loop.submit {
            self.assumeIsolated { bus in
                bus.arrange(bus.core.admit(member, to: room, owner: bus.owner(of: member), ts: Clock.milliseconds(), since: since, ref: ref))
                bus.rank(room)
                return .done
            }
        }
    }

    nonisolated func part(_ room: RoomName, _ member: LocalMember) -> EventLoopFuture<RoomOutcome> {
        loop.submit {
            self.assumeIsolated { bus in
                guard bus.core.dismiss(member, from: room) else { return .notInRoom }
                if !bus.core.hasOtherConnection(of: member, in: room) {
                    bus.listLeft(member, in: room, ts: Clock.milliseconds(), reason: .part)
                }
                return .done
            }
        }
    }

    nonisolated func broadcast(_ line: ChatLine, from sender: LocalMember, ref: String?, receivedAt: NIODeadline) -> EventLoopFuture<RoomOutcome> {
        loop.submit {
            self.assumeIsolated { $0.deliver(line, from: sender, ref: ref, receivedAt: receivedAt) }
        }
    }

    private func deliver(_ line: ChatLine, from sender: LocalMember, ref: String?, receivedAt: NIODeadline) -> RoomOutcome {
        guard core.isMember(sender, of: line.room) else { return .notInRoom }
        core.metrics.busPublishes.increment()
        if let followUp = core.deliver(line, origin: { _ in .sender(sender, ref: ref, receivedAt: receivedAt) }) {
            arrange(followUp)
        }
        return .done
    }

    nonisolated func whisper(_ draft: DirectDraft, to recipientKey: NickKey, from sender: LocalMember, ref: String?) -> EventLoopFuture<WhisperOutcome> {
        loop.submit { self.assumeIsolated { $0.deliverDirect(draft, to: recipientKey, from: sender, ref: ref) } }
    }

    private func deliverDirect(_ draft: DirectDraft, to recipientKey: NickKey, from sender: LocalMember, ref: String?) -> WhisperOutcome {
        let recipients = core.members(recipientKey)
        guard let first = recipients.first else { return .noSuchUser }
        let line = draft.line(to: first.nick.canonical)
        // Every connection of the recipient (§7: a logged-in user may have several).
        for recipient in recipients where recipient.connectionID != sender.connectionID {
            inbox.arrange(core.deliverDirect(line, to: recipient, ref: nil), as: Input.presence)
        }
        inbox.arrange(core.deliverDirect(line, to: sender, ref: ref), as: Input.presence)
        return .delivered
    }

    nonisolated func members(of room: RoomName, for member: LocalMember, page: MemberQuery?) -> EventLoopFuture<MembersOutcome> {
        loop.submit { self.assumeIsolated { $0.core.members(of: room, for: member, page: page) } }
    }

    nonisolated func roomList() -> EventLoopFuture<[RoomCount]> {
        loop.submit {
            self.assumeIsolated { $0.ranking.busiest() }
        }
    }

    func drain() {
        // Nobody else is left to tell: every client here is about to be closed.
        for user in core.dismissAll() {
            for room in user.rooms {
                _ = core.listLeft(user.member.nick, in: room, owner: owner(of: user.member), ts: 0, reason: .quit)
            }
        }
    }

    /// Handles the inbox until `stop()`.
    func run() async {
        for await input in inbox.inputs {
            switch input {
            case .presence(let presence): arrange(core.receive(presence))
            case .leave(let member, let reason): depart(member, reason: reason)
            case .forgetIdleRooms: forgetIdleRooms()
            }
        }
    }

    nonisolated func stop() async {
        inbox.finish()
    }

    func arrange(_ followUp: PresenceFollowUp) {
        inbox.arrange(followUp, as: Input.presence)
    }

    // MARK: Room lists and forgetting idle rooms

    /// Notes `room`'s member count in the ranking `room_list` reads.
    func rank(_ room: RoomName) {
        ranking.set(room, count: core.view(of: room)?.count ?? 0)
    }

    /// Takes `member` off `room`'s list, telling the other members; a room
    /// left empty is dropped at once when it has no history (it no longer
    /// exists), else forgotten once idle for a day.
    func listLeft(_ member: LocalMember, in room: RoomName, ts: Int64, reason: LeaveReason) {
        arrange(core.listLeft(member.nick, in: room, owner: owner(of: member), ts: ts, reason: reason))
        rank(room)
        guard room != .lobby, let view = core.view(of: room), view.count == 0 else { return }
        if view.history.isEmpty {
            core.close(room)
        } else {
            idleRooms.emptied(room, at: ts)
            arrangeSweep()
        }
    }

    private func forgetIdleRooms() {
        isSweepArranged = false
        let forgotten = idleRooms.idleRooms(at: Clock.milliseconds()) { room in
            guard let view = core.view(of: room), view.count == 0 else { return .occupied }
            return .vacant(lastMessage: view.history.all.last?.ts)
        }
        for room in forgotten { core.close(room) }
        arrangeSweep()
    }

    /// Posts `.forgetIdleRooms` for when the first waiting room falls due, unless one is on its way.
    private func arrangeSweep() {
        guard !isSweepArranged, let due = idleRooms.nextDue else { return }
        isSweepArranged = true
        inbox.post(.forgetIdleRooms, after: .milliseconds(max(0, due - Clock.milliseconds())))
    }
}
