import ChatProtocol
import NIOCore

/// The bus of a node that runs alone: the whole cluster is this process.
///
/// One actor owns the users, the history and the fan-out, so every
/// operation is atomic and every recipient sees events in one order (the
/// protocol's total order is simply the order of this actor).
actor InProcessBus: ChatBus {
    private let nodeID: String
    private let metrics: ChatMetrics
    private var fanout = LocalFanout()
    private var list = SortedNickList()
    private var history: MessageHistory
    private var presenceSchedule: PresenceFlushSchedule

    init(configuration: NodeConfiguration, metrics: ChatMetrics) {
        self.nodeID = configuration.nodeID
        self.metrics = metrics
        self.history = MessageHistory(retention: configuration.historyRetention, welcomeLength: configuration.historyLength)
        self.presenceSchedule = PresenceFlushSchedule(interval: configuration.presenceInterval)
    }

    var isAvailable: Bool { true }

    func join(_ member: LocalMember, since: String?, ref: String?) -> JoinOutcome {
        guard fanout.member(member.nick.key) == nil else { return .nickTaken }
        list.insert(member.nick)
        let delivered = fanout.announceJoined(member.nick, ts: Clock.milliseconds())
        member.sendWelcome(node: nodeID, users: list.encoded, history: history, since: since, ref: ref)
        fanout.add(member)
        presenceChanged()
        metrics.eventsDelivered.increment(by: Int64(delivered + 1))
        metrics.userJoined(speaking: member.kind.version)
        return .joined
    }

    func leave(_ member: LocalMember, reason: LeaveReason) {
        guard fanout.remove(member.nick.key, connectionID: member.connectionID) != nil else { return }
        list.remove(member.nick.key)
        metrics.userLeft(speaking: member.kind.version)
        let delivered = fanout.announceLeft(member.nick, ts: Clock.milliseconds(), reason: reason)
        presenceChanged()
        metrics.eventsDelivered.increment(by: Int64(delivered))
    }

    func broadcast(_ line: ChatLine, from sender: LocalMember, ref: String?, receivedAt: NIODeadline) {
        history.append(line)
        metrics.busPublishes.increment()
        flushPresence()
        sender.outlet.sendOwnLine(LocalFanout.frame(.message(line, ref: ref)))
        let delivered = fanout.broadcast(fanout.frames(.message(line, ref: nil)), excluding: sender, receivedAt: receivedAt)
        metrics.eventsDelivered.increment(by: Int64(delivered + 1))
    }

    func whisper(_ draft: DirectDraft, to recipientKey: NickKey, from sender: LocalMember, ref: String?) -> WhisperOutcome {
        guard let recipient = fanout.member(recipientKey) else { return .noSuchUser }
        let line = draft.line(to: recipient.nick.canonical)
        flushPresence()
        if recipient.connectionID != sender.connectionID {
            recipient.outlet.send(LocalFanout.frame(.direct(line, ref: nil)))
            metrics.eventsDelivered.increment()
        }
        sender.outlet.send(LocalFanout.frame(.direct(line, ref: ref)))
        metrics.eventsDelivered.increment()
        return .delivered
    }

    func users() -> EncodedNickList {
        list.encoded
    }

    func drain() {
        // Nobody else is left to tell: every client here is about to be closed.
        _ = fanout.removeAll()
        list.removeAll()
        metrics.allUsersLeft()
    }

    func run() async {
        // Nothing to maintain: there is no outside world to watch.
    }

    func stop() async {}

    // MARK: Presence batches

    /// Starts the presence timer when changes are held and none runs.
    private func presenceChanged() {
        guard fanout.hasPendingPresence, let token = presenceSchedule.timerNeeded() else { return }
        let interval = presenceSchedule.interval
        Task {
            try? await Task.sleep(for: interval)
            await self.flushPresence(timer: token)
        }
    }

    /// Sends the held presence changes now (before a message, or when the timer that got `timer` fires).
    private func flushPresence(timer token: Int? = nil) {
        fanout.flushPresence(timer: token, schedule: &presenceSchedule, metrics: metrics) { batch in
            Task { await self.presenceBatchWritten(batch) }
        }
    }

    /// The next interval starts once the last batch is out (`PresenceFlushSchedule`).
    private func presenceBatchWritten(_ batch: Int) {
        if presenceSchedule.written(batch) { presenceChanged() }
    }
}
