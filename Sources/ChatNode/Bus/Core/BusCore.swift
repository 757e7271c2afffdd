import ChatProtocol
import NIOCore

/// What a bus knows and decides about the chat, with no awaiting and no
/// Redis: the users this node's clients were told about (the view), the
/// history, the local members and the delivery to them, and when held
/// presence changes go out.
///
/// Both buses own one and feed it what happens: `InProcessBus` its own
/// operations, `RedisBus` the events Redis brings back. Delivery to the
/// clients' event loops happens inside (it never waits); what must happen
/// later, a presence timer or a wait for the sockets, comes back as a
/// `PresenceFollowUp` for the bus to arrange through its inbox.
///
/// The view, the fan-out and the presence schedule are one room's state;
/// the node-wide part is the member index for direct messages.
struct BusCore {
    let nodeID: String
    let metrics: ChatMetrics
    /// What this node's clients were told: users and history.
    private(set) var view: ClusterView
    /// The local members and the delivery to them.
    private(set) var fanout = LocalFanout()
    private var presenceSchedule: PresenceFlushSchedule

    init(nodeID: String, history: MessageHistory, presenceInterval: Duration, metrics: ChatMetrics) {
        self.nodeID = nodeID
        self.metrics = metrics
        self.view = ClusterView(history: history)
        self.presenceSchedule = PresenceFlushSchedule(interval: presenceInterval)
    }

    /// The local member with this key, if any.
    func member(_ key: NickKey) -> LocalMember? {
        fanout.member(key)
    }

    // MARK: Local members

    /// Admits `member`, whose nick the cluster granted to `owner`: lists it
    /// (telling everyone here when it is new), sends its `welcome`, and
    /// starts delivering events to it, in one step so no event falls in between.
    mutating func admit(_ member: LocalMember, owner: String, ts: Int64, since: String?, ref: String?) -> PresenceFollowUp {
        var delivered = 0
        if view.insert(member.nick, owner: owner) {
            delivered = fanout.announceJoined(member.nick, ts: ts)
        }
        member.sendWelcome(node: nodeID, users: view.list.encoded, history: view.history, since: since, ref: ref)
        fanout.add(member)
        metrics.eventsDelivered.increment(by: Int64(delivered + 1))
        metrics.userJoined(speaking: member.kind.version)
        return presenceChanged()
    }

    /// Stops delivering to `member`; false when it had left already.
    /// The view keeps listing it until its departure is applied (`listLeft`).
    mutating func dismiss(_ member: LocalMember) -> Bool {
        guard fanout.remove(member.nick.key, connectionID: member.connectionID) != nil else { return false }
        metrics.userLeft(speaking: member.kind.version)
        return true
    }

    /// Stops delivering to every local member at once (the node is draining); returns them.
    mutating func dismissAll() -> [LocalMember] {
        let members = fanout.removeAll()
        metrics.allUsersLeft()
        return members
    }

    // MARK: Cluster events

    /// Lists `nick`, held by `owner`, and tells the local clients when it is new.
    mutating func listJoined(_ nick: Nick, owner: String, ts: Int64) -> PresenceFollowUp {
        guard view.insert(nick, owner: owner) else { return .none }
        metrics.eventsDelivered.increment(by: Int64(fanout.announceJoined(nick, ts: ts)))
        return presenceChanged()
    }

    /// Unlists `nick` if `owner` still holds it, and tells the local clients.
    mutating func listLeft(_ nick: Nick, owner: String, ts: Int64, reason: LeaveReason) -> PresenceFollowUp {
        guard view.remove(nick.key, owner: owner) else { return .none }
        metrics.eventsDelivered.increment(by: Int64(fanout.announceLeft(nick, ts: ts, reason: reason)))
        return presenceChanged()
    }

    /// Unlists many users at once (a draining or dead node), in one pass.
    mutating func listLeft(_ departures: [(nick: Nick, owner: String)], ts: Int64, reason: LeaveReason) -> PresenceFollowUp {
        var nicks: [Nick] = []
        for departure in departures where view.remove(departure.nick.key, owner: departure.owner) {
            nicks.append(departure.nick)
        }
        metrics.eventsDelivered.increment(by: Int64(fanout.announceLeft(nicks, ts: ts, reason: reason)))
        return presenceChanged()
    }

    /// Makes the view list exactly `target` (key → nick and owner), telling
    /// the local clients about every difference: after an outage, or at start.
    mutating func reconcile(with target: [NickKey: (nick: Nick, owner: String)], ts: Int64) -> PresenceFollowUp {
        var departed: [Nick] = []
        for (key, entry) in view.users where target[key] == nil {
            if view.remove(key, owner: entry.owner) { departed.append(Nick(trustedCanonical: entry.nick)) }
        }
        var delivered = fanout.announceLeft(departed, ts: ts, reason: .quit)
        for entry in target.values where view.insert(entry.nick, owner: entry.owner) {
            delivered += fanout.announceJoined(entry.nick, ts: ts)
        }
        metrics.eventsDelivered.increment(by: Int64(delivered))
        return presenceChanged()
    }

    /// Replaces the history with the cluster's stored one (oldest first),
    /// keeping the lines received live that the stored one lacks: they came
    /// after its snapshot.
    mutating func loadHistory(_ stored: [ChatLine]) {
        let live = view.history.all
        view.history.replace(with: stored)
        for line in live { view.history.append(line) }
    }

    /// Appends `line` to the history and delivers it to every local member,
    /// after any held presence changes; its sender (`origin`) gets its own
    /// copy with its `ref`. Returns nil, and sends nothing, when the history
    /// already holds the line. `origin` is asked only for a new line.
    mutating func deliver(_ line: ChatLine, origin: (String) -> LineOrigin) -> PresenceFollowUp? {
        guard view.history.append(line) else { return nil }
        let followUp = flushPresence(timer: nil)
        let frames = fanout.frames(.message(line, ref: nil))
        switch origin(line.id) {
        case .elsewhere:
            metrics.eventsDelivered.increment(by: Int64(fanout.broadcast(frames, receivedAt: .now())))
        case .sender(let sender, let ref, let receivedAt):
            sender.outlet.sendOwnLine(LocalFanout.frame(.message(line, ref: ref)))
            let delivered = fanout.broadcast(frames, excluding: sender, receivedAt: receivedAt)
            metrics.eventsDelivered.increment(by: Int64(delivered + 1))
        case .senderServedAlready(let sender):
            metrics.eventsDelivered.increment(by: Int64(fanout.broadcast(frames, excluding: sender, receivedAt: .now())))
        }
        return followUp
    }

    /// Sends a direct line to one local member, after any held presence changes.
    mutating func deliverDirect(_ line: DirectLine, to recipient: LocalMember, ref: String?) -> PresenceFollowUp {
        let followUp = flushPresence(timer: nil)
        recipient.outlet.send(LocalFanout.frame(.direct(line, ref: ref)))
        metrics.eventsDelivered.increment()
        return followUp
    }

    // MARK: Presence batches

    /// The presence timer that got `token` fired: sends the held changes if it is still current.
    mutating func presenceTimerFired(_ token: Int) -> PresenceFollowUp {
        flushPresence(timer: token)
    }

    /// Batch `batch` reached every socket: the next interval may start.
    mutating func presenceBatchWritten(_ batch: Int) -> PresenceFollowUp {
        guard presenceSchedule.written(batch) else { return .none }
        return presenceChanged()
    }

    /// Asks for a timer when changes are held and none runs.
    private mutating func presenceChanged() -> PresenceFollowUp {
        guard fanout.hasPendingPresence, let token = presenceSchedule.timerNeeded() else { return .none }
        return .startTimer(token: token, interval: presenceSchedule.interval)
    }

    /// Sends the held presence changes: when the timer that got `token` is
    /// still current, or early (`token` nil, before a message or direct
    /// event) when any are held.
    private mutating func flushPresence(timer token: Int?) -> PresenceFollowUp {
        if let token {
            guard presenceSchedule.isCurrent(token) else { return .none }
        } else {
            guard fanout.hasPendingPresence else { return .none }
        }
        let batch = presenceSchedule.flushed()
        let (batchSize, delivered) = fanout.flushPresence()
        if batchSize > 0 { metrics.presenceBatchSize.record(Double(batchSize)) }
        metrics.eventsDelivered.increment(by: Int64(delivered))
        guard let written = fanout.writeQueuedOnEveryLoop() else {
            return presenceBatchWritten(batch)
        }
        return .awaitWritten(batch: batch, written)
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
    /// Call `presenceTimerFired(token)` after `interval`.
    case startTimer(token: Int, interval: Duration)
    /// Call `presenceBatchWritten(batch)` once `written` completes.
    case awaitWritten(batch: Int, EventLoopFuture<Void>)
}

/// What a bus's inbox brings about presence batches.
enum PresenceInput: Sendable {
    case timerFired(token: Int)
    case batchWritten(batch: Int)
}

extension BusCore {
    /// Feeds a presence input from the inbox to the core.
    mutating func receive(_ input: PresenceInput) -> PresenceFollowUp {
        switch input {
        case .timerFired(let token): presenceTimerFired(token)
        case .batchWritten(let batch): presenceBatchWritten(batch)
        }
    }
}
