import ChatProtocol
import NIOCore

/// The bus of a node that runs alone: the whole cluster is this process.
///
/// One actor owns the users, the history and the fan-out, so every
/// operation is atomic and every recipient sees events in one order.
actor InProcessBus: ChatBus {
    private let nodeID: String
    private let historyLength: Int
    private let metrics: ChatMetrics
    private var fanout = LocalFanout()
    private var list = SortedNickList()
    private var history: [ChatLine] = []

    init(nodeID: String, historyLength: Int, metrics: ChatMetrics) {
        self.nodeID = nodeID
        self.historyLength = historyLength
        self.metrics = metrics
    }

    var isAvailable: Bool { true }

    func join(_ member: LocalMember, ref: String?) -> JoinOutcome {
        guard fanout.member(member.nick.key) == nil else { return .nickTaken }
        list.insert(member.nick)
        member.outlet.send(frame(.welcome(nick: member.nick.canonical, node: nodeID, users: list.encoded, history: history, ref: ref)))
        let delivered = fanout.broadcast(frame(.joined(nick: member.nick.canonical, ts: Clock.milliseconds())))
        fanout.add(member)
        metrics.eventsDelivered.increment(by: Int64(delivered + 1))
        metrics.joinedUsers.increment()
        return .joined
    }

    func leave(_ member: LocalMember, reason: LeaveReason) {
        guard fanout.remove(member.nick.key, connectionID: member.connectionID) != nil else { return }
        list.remove(member.nick.key)
        metrics.joinedUsers.decrement()
        let delivered = fanout.broadcast(frame(.left(nick: member.nick.canonical, ts: Clock.milliseconds(), reason: reason)))
        metrics.eventsDelivered.increment(by: Int64(delivered))
    }

    func broadcast(_ line: ChatLine, from sender: LocalMember, ref: String?, receivedAt: NIODeadline) {
        history.append(line)
        if history.count > historyLength { history.removeFirst(history.count - historyLength) }
        metrics.busPublishes.increment()
        sender.outlet.send(frame(.message(line, ref: ref)))
        let delivered = fanout.broadcast(frame(.message(line, ref: nil)), excluding: sender, receivedAt: receivedAt)
        metrics.eventsDelivered.increment(by: Int64(delivered + 1))
    }

    func whisper(_ draft: DirectDraft, to recipientKey: NickKey, from sender: LocalMember, ref: String?) -> WhisperOutcome {
        guard let recipient = fanout.member(recipientKey) else { return .noSuchUser }
        let line = draft.line(to: recipient.nick.canonical)
        if recipient.connectionID != sender.connectionID {
            recipient.outlet.send(frame(.direct(line, ref: nil)))
            metrics.eventsDelivered.increment()
        }
        sender.outlet.send(frame(.direct(line, ref: ref)))
        metrics.eventsDelivered.increment()
        return .delivered
    }

    func users() -> EncodedNickList {
        list.encoded
    }

    func drain() {
        // Nobody else is left to tell: every client here is about to be closed.
        let removed = fanout.removeAll()
        list.removeAll()
        metrics.joinedUsers.decrement(by: Double(removed.count))
    }

    func run() async {
        // Nothing to maintain: there is no outside world to watch.
    }
}
