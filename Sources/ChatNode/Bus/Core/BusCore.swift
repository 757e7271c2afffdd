import ChatProtocol
import NIOCore

/// What a bus knows and decides about the chat, with no awaiting and no
/// Redis: this node's users, and for each room it holds what its clients
/// were told (members, history), its local members and the delivery to
/// them, and when held presence changes go out.
///
/// Both buses own one and feed it what happens: `InProcessBus` its own
/// operations, `RedisBus` the events Redis brings back. Delivery to the
/// clients' event loops happens inside (it never waits); what must happen
/// later, a presence timer or a wait for the sockets, comes back as a
/// `PresenceFollowUp` for the bus to arrange through its inbox.
///
/// v1 and v2 users live in `lobby` from their `welcome` on; v3 users join
/// and part rooms. The node-wide part is the user index, for direct
/// messages and for leaving every room when a connection ends. A
/// logged-in user (§7) may have several connections here, each with its
/// own rooms; a room's view lists the user once.
struct BusCore {
    /// A connection of a user of this node and the rooms it is a member of.
    struct LocalUser {
        let member: LocalMember
        var rooms: Set<RoomName> = []
    }

    let nodeID: String
    let metrics: ChatMetrics
    let historyRetention: Int
    let historyLength: Int
    let presenceInterval: Duration
    /// A room with more members than this is large (`--large-room`).
    let largeRoom: Int
    /// This node's users' connections.
    private(set) var users: [UInt64: LocalUser] = [:]
    /// The connections of each nick here: one, or a logged-in user's several.
    private var connectionsByNick: [NickKey: NickConnections] = [:]
    /// The rooms this node holds.
    private(set) var rooms: [RoomName: Room] = [:]
    /// Compresses broadcasts for every room, one at a time (on the bus's executor).
    private let deflater = MessageDeflater()

    init(nodeID: String, historyRetention: Int, historyLength: Int, presenceInterval: Duration, largeRoom: Int, metrics: ChatMetrics) {
        self.nodeID = nodeID
        self.largeRoom = largeRoom
        self.metrics = metrics
        self.historyRetention = historyRetention
        self.historyLength = historyLength
        self.presenceInterval = presenceInterval
    }

    /// A local connection of the nick with this key, if any.
    func member(_ key: NickKey) -> LocalMember? {
        connectionsByNick[key].flatMap { users[$0.first]?.member }
    }

    /// Every local connection of the nick with this key.
    func members(_ key: NickKey) -> [LocalMember] {
        connectionsByNick[key]?.compactMap { users[$0]?.member } ?? []
    }

    /// Whether `member`'s connection is still one of this node's.
    func isConnected(_ member: LocalMember) -> Bool {
        users[member.connectionID] != nil
    }

    /// Whether `member`'s connection is a member of `room`.
    func isMember(_ member: LocalMember, of room: RoomName) -> Bool {
        users[member.connectionID]?.rooms.contains(room) ?? false
    }

    /// Whether another local connection of `member`'s user is a member of `room`.
    func hasOtherConnection(of member: LocalMember, in room: RoomName) -> Bool {
        connectionsByNick[member.nick.key]?.contains { $0 != member.connectionID && users[$0]?.rooms.contains(room) == true } ?? false
    }

    /// The rooms `member`'s connection is a member of.
    func rooms(of member: LocalMember) -> Set<RoomName> {
        users[member.connectionID]?.rooms ?? []
    }

    /// Whether this node holds `room`.
    func holds(_ room: RoomName) -> Bool {
        rooms[room] != nil
    }

    /// The room's view, if this node holds the room.
    func view(of room: RoomName) -> RoomView? {
        rooms[room]?.view
    }

    /// Holds `room` from now on, empty, unless it does already.
    mutating func open(_ room: RoomName) {
        guard rooms[room] == nil else { return }
        rooms[room] = Room(
            name: room,
            history: MessageHistory(retention: historyRetention, welcomeLength: historyLength),
            presenceInterval: presenceInterval,
            deflater: deflater
        )
    }

    /// Stops holding `room` (no local member is left in it).
    mutating func close(_ room: RoomName) {
        guard let closed = rooms.removeValue(forKey: room) else { return }
        var fanout = closed.fanout
        _ = fanout.removeAll()
    }

    // MARK: Local members

    /// Records a connection the cluster granted its nick.
    private mutating func record(_ member: LocalMember) {
        users[member.connectionID] = LocalUser(member: member)
        if connectionsByNick[member.nick.key] == nil {
            connectionsByNick[member.nick.key] = NickConnections(member.connectionID)
        } else {
            connectionsByNick[member.nick.key]!.append(member.connectionID)
        }
    }

    /// Admits a v3 `member`, whose nick the cluster granted, into no room:
    /// records it and sends its `welcome`.
    mutating func admit(_ member: LocalMember, ref: String?) {
        record(member)
        member.outlet.send(LocalFanout.frame(
            .welcome(nick: member.nick.canonical, node: nodeID, users: [], history: [], resumed: false, ref: ref), for: member.kind.version
        ))
        metrics.eventsDelivered.increment()
        metrics.userJoined(speaking: member.kind.version)
    }

    /// Admits a v1 or v2 `member`, whose nick the cluster granted to
    /// `owner`, into `lobby`: lists it (telling the lobby's members here
    /// when it is new), sends its `welcome`, and starts delivering the
    /// lobby's events to it, in one step so no event falls in between.
    mutating func admitToLobby(_ member: LocalMember, owner: String, ts: Int64, since: String?, ref: String?) -> PresenceFollowUp {
        record(member)
        metrics.userJoined(speaking: member.kind.version)
        return admit(member, to: .lobby, owner: owner, ts: ts, since: since, ref: ref)
    }

    /// Admits an admitted user into `room` (held already): lists it, sends
    /// its snapshot (`welcome` in v1 and v2, `room` in v3) and starts
    /// delivering the room's events to it, in one step.
    mutating func admit(_ member: LocalMember, to room: RoomName, owner: String, ts: Int64, since: String?, ref: String?) -> PresenceFollowUp {
        open(room)
        var delivered = 1
        if rooms[room]!.view.insert(member.nick, owner: owner) {
            delivered += rooms[room]!.fanout.announceJoined(member.nick, ts: ts)
        }
        rooms[room]!.updateSize(threshold: largeRoom)
        // No copy of the whole room is kept across the changes below: it
        // would make them copy the room's member tables, once per join.
        if member.kind.version == .v3 {
            if rooms[room]!.fanout.count(of: .v3) == 0 { rooms[room]!.sizeTold(now: .now()) }
            let snapshot = rooms[room]!.snapshot(since: since)
            member.outlet.send { ServerFrame.text(ChatV3Codec.encode(.room(snapshot, ref: ref))) }
        } else {
            let (users, history) = (rooms[room]!.view.list.encoded, rooms[room]!.view.history)
            member.sendWelcome(node: nodeID, users: users, history: history, since: since, ref: ref)
        }
        rooms[room]!.fanout.add(member)
        users[member.connectionID]?.rooms.insert(room)
        metrics.eventsDelivered.increment(by: Int64(delivered))
        return presenceChanged(in: room)
    }

    /// Stops delivering to `member` (its connection ended); returns the
    /// rooms it was in, or nil when it had left already. The views keep
    /// listing it until its departures are applied (`listLeft`).
    mutating func dismiss(_ member: LocalMember) -> Set<RoomName>? {
        guard let user = users.removeValue(forKey: member.connectionID) else { return nil }
        if connectionsByNick[member.nick.key]?.remove(member.connectionID) == false { connectionsByNick[member.nick.key] = nil }
        for room in user.rooms {
            _ = rooms[room]?.fanout.remove(connectionID: member.connectionID)
        }
        metrics.userLeft(speaking: member.kind.version)
        return user.rooms
    }

    /// Stops delivering `room`'s events to `member` (it parted); false when it was not a member.
    mutating func dismiss(_ member: LocalMember, from room: RoomName) -> Bool {
        guard isMember(member, of: room) else { return false }
        users[member.connectionID]?.rooms.remove(room)
        _ = rooms[room]?.fanout.remove(connectionID: member.connectionID)
        return true
    }

    /// Stops delivering to every local user at once (the node is
    /// draining); returns them with their rooms.
    mutating func dismissAll() -> [LocalUser] {
        let all = Array(users.values)
        users.removeAll()
        connectionsByNick.removeAll()
        for room in rooms.keys {
            _ = rooms[room]!.fanout.removeAll()
        }
        metrics.allUsersLeft()
        return all
    }

    /// How many of this node's users are members of `room`.
    func localMemberCount(of room: RoomName) -> Int {
        rooms[room]?.fanout.count ?? 0
    }

    // MARK: Cluster events

    /// Lists `nick`, held by `owner`, in `room`, and tells the room's local members when it is new.
    mutating func listJoined(_ nick: Nick, in room: RoomName, owner: String, ts: Int64) -> PresenceFollowUp {
        guard rooms[room]?.view.insert(nick, owner: owner) == true else { return .none }
        metrics.eventsDelivered.increment(by: Int64(rooms[room]!.fanout.announceJoined(nick, ts: ts)))
        return presenceChanged(in: room)
    }

    /// Unlists `nick` from `room` if `owner` still holds it, and tells the room's local members.
    mutating func listLeft(_ nick: Nick, in room: RoomName, owner: String, ts: Int64, reason: LeaveReason) -> PresenceFollowUp {
        guard rooms[room]?.view.remove(nick.key, owner: owner) == true else { return .none }
        metrics.eventsDelivered.increment(by: Int64(rooms[room]!.fanout.announceLeft(nick, ts: ts, reason: reason)))
        return presenceChanged(in: room)
    }

    /// Unlists many users of `room` at once (a draining or dead node), in one pass.
    mutating func listLeft(_ departures: [(nick: Nick, owner: String)], in room: RoomName, ts: Int64, reason: LeaveReason) -> PresenceFollowUp {
        guard rooms[room] != nil else { return .none }
        var nicks: [Nick] = []
        for departure in departures where rooms[room]!.view.remove(departure.nick.key, owner: departure.owner) {
            nicks.append(departure.nick)
        }
        metrics.eventsDelivered.increment(by: Int64(rooms[room]!.fanout.announceLeft(nicks, ts: ts, reason: reason)))
        return presenceChanged(in: room)
    }

    /// Makes `room`'s view list exactly `target` (key → nick and owner),
    /// telling the local members about every difference: after an outage,
    /// or when the node starts holding the room.
    mutating func reconcile(_ room: RoomName, with target: [NickKey: (nick: Nick, owner: String)], ts: Int64) -> PresenceFollowUp {
        open(room)
        var departed: [Nick] = []
        for entry in rooms[room]!.view.list.entries {
            let nick = Nick(trustedCanonical: entry.nick)
            if target[nick.key] == nil, rooms[room]!.view.remove(nick.key, heldBy: entry.owner) { departed.append(nick) }
        }
        var delivered = rooms[room]!.fanout.announceLeft(departed, ts: ts, reason: .quit)
        for entry in target.values where rooms[room]!.view.insert(entry.nick, owner: entry.owner) {
            delivered += rooms[room]!.fanout.announceJoined(entry.nick, ts: ts)
        }
        metrics.eventsDelivered.increment(by: Int64(delivered))
        return presenceChanged(in: room)
    }

    /// Replaces `room`'s history with the stored one (oldest first),
    /// keeping the lines received live that the stored one lacks: they came
    /// after its snapshot.
    mutating func loadHistory(_ stored: [ChatLine], of room: RoomName) {
        open(room)
        let live = rooms[room]!.view.history.all
        rooms[room]!.view.history.replace(with: stored)
        for line in live { rooms[room]!.view.history.append(line) }
    }

    /// Appends `line` to its room's history and delivers it to the room's
    /// local members, after any held presence changes; its sender
    /// (`origin`) gets its own copy with its `ref`. Returns nil, and sends
    /// nothing, when the node does not hold the room or the history already
    /// holds the line. `origin` is asked only for a new line.
    mutating func deliver(_ line: ChatLine, origin: (String) -> LineOrigin) -> PresenceFollowUp? {
        let room = line.room
        guard rooms[room]?.view.history.append(line) == true else { return nil }
        let followUp = flushPresence(in: room, timer: nil)
        let frames = rooms[room]!.fanout.frames(.message(line, ref: nil))
        switch origin(line.id) {
        case .elsewhere:
            metrics.eventsDelivered.increment(by: Int64(rooms[room]!.fanout.broadcast(frames, receivedAt: .now())))
        case .sender(let sender, let ref, let receivedAt):
            sender.outlet.sendOwnLine(LocalFanout.frame(.message(line, ref: ref), for: sender.kind.version), id: line.id)
            let delivered = rooms[room]!.fanout.broadcast(frames, excluding: sender, receivedAt: receivedAt)
            metrics.eventsDelivered.increment(by: Int64(delivered + 1))
        case .senderServedAlready(let sender):
            metrics.eventsDelivered.increment(by: Int64(rooms[room]!.fanout.broadcast(frames, excluding: sender, receivedAt: .now())))
        }
        return followUp
    }

    /// Sends a direct line to one local member, after the presence changes
    /// held for its rooms.
    mutating func deliverDirect(_ line: DirectLine, to recipient: LocalMember, ref: String?) -> [PresenceFollowUp] {
        let followUps = rooms(of: recipient).map { flushPresence(in: $0, timer: nil) }
        recipient.outlet.send(LocalFanout.frame(.direct(line, ref: ref), for: recipient.kind.version))
        metrics.eventsDelivered.increment()
        return followUps
    }

    // MARK: Queries

    /// `room`'s members for `member`: all of them (`page` nil: v1, v2), or one page (v3).
    func members(of room: RoomName, for member: LocalMember, page: MemberQuery?) -> MembersOutcome {
        guard isMember(member, of: room), let view = rooms[room]?.view else { return .notInRoom }
        guard let page else { return .all(view.list.encoded) }
        return self.page(of: room, prefix: page.prefix, after: page.after, limit: page.limit).map(MembersOutcome.page) ?? .notInRoom
    }

    /// One page of `room`'s members for `who`; nil when the node does not hold the room.
    func page(of room: RoomName, prefix: String?, after: String?, limit: Int) -> MemberPage? {
        guard let view = rooms[room]?.view else { return nil }
        let (nicks, next) = view.list.page(
            prefix: prefix.map(NickKey.init(lookingUp:)), after: after.map(NickKey.init(lookingUp:)), limit: limit
        )
        return MemberPage(room: room, count: view.count, users: nicks, next: next)
    }

    // MARK: Presence batches

    /// The presence timer of `room` that got `token` fired: sends the held changes if it is still current.
    mutating func presenceTimerFired(in room: RoomName, token: Int) -> PresenceFollowUp {
        flushPresence(in: room, timer: token)
    }

    /// Batch `batch` of `room` reached every socket: the next interval may start.
    mutating func presenceBatchWritten(in room: RoomName, batch: Int) -> PresenceFollowUp {
        guard rooms[room]?.presenceSchedule.written(batch) == true else { return .none }
        return presenceChanged(in: room)
    }

    /// Asks for a timer when changes are held in `room` (or a large room's
    /// v3 members are owed its count) and none runs.
    private mutating func presenceChanged(in room: RoomName) -> PresenceFollowUp {
        guard rooms[room] != nil else { return .none }
        rooms[room]!.updateSize(threshold: largeRoom)
        let isOwed = rooms[room]!.fanout.hasPendingPresence || (rooms[room]!.owesCount && rooms[room]!.fanout.count(of: .v3) > 0)
        guard isOwed, let token = rooms[room]!.presenceSchedule.timerNeeded() else { return .none }
        return .startTimer(room: room, token: token, interval: presenceInterval)
    }

    /// Sends `room`'s held presence changes: when the timer that got
    /// `token` is still current, or early (`token` nil, before a message
    /// or direct event) when any are held.
    private mutating func flushPresence(in room: RoomName, timer token: Int?) -> PresenceFollowUp {
        guard rooms[room] != nil else { return .none }
        if let token {
            guard rooms[room]!.presenceSchedule.isCurrent(token) else { return .none }
        } else {
            guard rooms[room]!.fanout.hasPendingPresence else { return .none }
        }
        let batch = rooms[room]!.presenceSchedule.flushed()
        let v3 = rooms[room]!.v3Presence(now: .now())
        let (batchSize, delivered) = rooms[room]!.fanout.flushPresence(count: rooms[room]!.view.count, v3: v3)
        if batchSize > 0 { metrics.presenceBatchSize.record(Double(batchSize)) }
        metrics.eventsDelivered.increment(by: Int64(delivered))
        guard let written = rooms[room]!.fanout.writeQueuedOnEveryLoop() else {
            return presenceBatchWritten(in: room, batch: batch)
        }
        return .awaitWritten(room: room, batch: batch, written)
    }
}

/// Who sent a chat line, as far as this node is concerned.
enum LineOrigin {
    /// Another node's client, or a line this node no longer tracks.
    case elsewhere
    /// A local client waiting for its own copy, which carries `ref`;
    /// `receivedAt` is when the line reached this node.
    case sender(LocalMember, ref: String?, receivedAt: NIODeadline)
    /// A local client that already got its copy (`RedisBus.releaseLinesInFlight`).
    case senderServedAlready(LocalMember)
}

/// What a bus must arrange for its core after a change, since a value cannot wait.
enum PresenceFollowUp {
    case none
    /// Call `presenceTimerFired(in: room, token:)` after `interval`.
    case startTimer(room: RoomName, token: Int, interval: Duration)
    /// Call `presenceBatchWritten(in: room, batch:)` once `written` completes.
    case awaitWritten(room: RoomName, batch: Int, EventLoopFuture<Void>)
}

/// What a bus's inbox brings about presence batches.
enum PresenceInput: Sendable {
    case timerFired(room: RoomName, token: Int)
    case batchWritten(room: RoomName, batch: Int)
}

extension BusCore {
    /// Feeds a presence input from the inbox to the core.
    mutating func receive(_ input: PresenceInput) -> PresenceFollowUp {
        switch input {
        case .timerFired(let room, let token): presenceTimerFired(in: room, token: token)
        case .batchWritten(let room, let batch): presenceBatchWritten(in: room, batch: batch)
        }
    }
}
