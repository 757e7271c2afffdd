import ChatProtocol
import Redis

/// The life of a node's link to Redis, as one state machine: connected,
/// resynchronising, detached, stopping. `RedisBus` feeds it every event
/// (a connection going down or up, a subscription message, the beacon
/// finding the node reaped, a failover, a step of a resynchronisation, the
/// shutdown) and carries out the actions it returns. Orderings that broke
/// before, such as a reaping during a resynchronisation, an outage in the
/// middle of one, or a failover during the shutdown, are cases here, and
/// `RedisLinkStateMachineTests` drive them without Redis.
struct RedisLinkStateMachine {
    enum State {
        /// Both connections up and the view in step with Redis.
        case connected
        /// Both connections up; one run brings the view back in step (after
        /// an outage, a reaping, or at start-up). Chat is served meanwhile.
        case resynchronising(Resynchronisation)
        /// A connection is down: chat is refused until both are back.
        case detached(Detachment)
        /// Leaving the cluster: nothing new starts.
        case stopping
        /// Left the cluster: the connections are closing and may not be used.
        case stopped
        /// Only while an associated value is changed in place (no copy of its arrays).
        case modifying
    }

    /// What a run collects while it reads a snapshot of Redis.
    enum Snapshot {
        case none
        /// Reading the stored history: live lines wait until the older ones are out.
        case catchingUp(held: [ChatLine])
        /// Reading the users: events that arrive meanwhile may be newer than the snapshot.
        case reconciling(seen: [ClusterEnvelope.Event])
    }

    /// One resynchronisation run.
    struct Resynchronisation {
        /// A run after an outage holds live lines from its first moment: they
        /// are newer than the ones the node missed, which its catch-up (the
        /// run's first step) delivers first.
        var snapshot = Snapshot.catchingUp(held: [])
        /// The run has claimed its users again: a request from now on needs another run.
        var haveClaimsGoneOut = false
        /// Start another run when this one ends.
        var isNeededAgain = false
        /// The subscriber came back while this run was ending: the live lines
        /// since then wait for the next run's catch-up, which delivers the missed ones first.
        var heldForNextRun: [ChatLine]?
        /// The run starts with a catch-up of every held room's lines. A run
        /// after a Redis Cluster shard came back needs none: each room whose
        /// channel was cut catches up by itself (`RoomCatchUp`).
        var catchesUp = true
        /// What the run claims again and reconciles.
        var scope = Scope.everything
    }

    /// What a run claims again and reconciles.
    enum Scope: Equatable {
        /// Every local user and held room: after an outage, a reaping, at start-up.
        case everything
        /// Only the nicks and rooms whose keys live on these Redis Cluster
        /// masters, which came back: the other shards lost nothing.
        case shards(Set<RedisServerAddress>)
    }

    /// An outage: which connections are up, and the run it cut short, if
    /// any, which is still on its way to failing.
    struct Detachment {
        var isCommandConnectionUp: Bool
        var isSubscriberUp: Bool
        var unfinished: Resynchronisation?
        /// The subscriber was down: lines were missed, and the live lines
        /// received from its return on (`held`) wait for the catch-up.
        var wasSubscriberCut: Bool
        var held: [ChatLine] = []
    }

    /// Live lines held beyond this many are dropped oldest first (a catch-up
    /// delivers them from each room's history), so an outage of the command
    /// connection alone cannot grow a node's memory without limit.
    static let heldLinesLimit = 10_000

    /// One of the node's two connections to Redis.
    enum Link {
        case commands
        case subscriber
    }

    /// What the bus must do.
    enum Action: Equatable {
        /// Log that chat is refused until Redis is back.
        case reportUnreachable
        /// The subscription is lost: give lines in flight back to their senders.
        case releaseLinesInFlight
        /// Start a resynchronisation run (in the background); it reports back
        /// with `claimsSent()` and `resynchronisationFinished(succeeded:)`.
        case startResynchronisation
        /// Another node had presumed this one dead: log it.
        case reportPresumedDead
        /// Point both connections at the master Sentinel names now.
        case followFailover(RedisServerAddress)
        /// Leave the cluster, then report `withdrawn()`.
        case withdraw
    }

    /// What to do with a message from the subscription.
    enum MessageAction: Equatable {
        case apply
        /// Held until the run's catch-up ends (`endCatchUp`).
        case hold
    }

    /// A new node is loading the cluster's state: a run is under way (it
    /// holds no rooms yet, so no line to hold).
    private(set) var state = State.resynchronising(Resynchronisation(snapshot: .none))

    /// Whether the bus serves chat: both connections are up and the node has not stopped.
    var isAvailable: Bool {
        switch state {
        case .connected, .resynchronising, .stopping: true
        case .detached, .stopped, .modifying: false
        }
    }

    /// Whether the node has left the cluster.
    var isStopped: Bool {
        if case .stopped = state { return true }
        return false
    }

    /// Whether a resynchronisation run is under way (or cut short and still ending).
    var isResynchronising: Bool {
        switch state {
        case .resynchronising: true
        case .detached(let detachment): detachment.unfinished != nil
        default: false
        }
    }

    // MARK: Connections

    /// A connection went down or came up (each also reports its state once at first).
    mutating func connection(_ link: Link, isUp: Bool) -> [Action] {
        switch state {
        case .connected, .resynchronising:
            guard !isUp else { return [] }
            var unfinished: Resynchronisation?
            if case .resynchronising(let run) = state { unfinished = run }
            state = .detached(Detachment(
                isCommandConnectionUp: link != .commands,
                isSubscriberUp: link != .subscriber,
                unfinished: unfinished,
                wasSubscriberCut: link == .subscriber
            ))
            return link == .subscriber ? [.reportUnreachable, .releaseLinesInFlight] : [.reportUnreachable]
        case .detached(var detachment):
            switch link {
            case .commands: detachment.isCommandConnectionUp = isUp
            case .subscriber:
                detachment.isSubscriberUp = isUp
                if !isUp { detachment.wasSubscriberCut = true }
            }
            let released: [Action] = link == .subscriber && !isUp ? [.releaseLinesInFlight] : []
            guard detachment.isCommandConnectionUp, detachment.isSubscriberUp else {
                state = .detached(detachment)
                return released
            }
            // Back: whatever happened meanwhile, the view must be checked again.
            if var unfinished = detachment.unfinished {
                unfinished.isNeededAgain = true
                unfinished.heldForNextRun = detachment.held
                state = .resynchronising(unfinished)
                return released
            }
            state = .resynchronising(Resynchronisation(snapshot: .catchingUp(held: detachment.held)))
            return released + [.startResynchronisation]
        case .stopping, .stopped, .modifying:
            return []
        }
    }

    /// The beacon found this instance reaped by another node (it looked dead).
    mutating func reaped() -> [Action] {
        let actions = resynchronisationNeeded(.everything)
        return actions.isEmpty ? [] : [.reportPresumedDead] + actions
    }

    /// On a Redis Cluster, a shard that was lost serves again (its master is
    /// back, or a replica took over): what lives there is claimed again and
    /// reconciled while chat goes on, without the catch-up of every room.
    mutating func shardRecovered(_ master: RedisServerAddress) -> [Action] {
        resynchronisationNeeded(.shards([master]))
    }

    /// What the run under way claims again and reconciles.
    var runScope: Scope {
        switch state {
        case .resynchronising(let run): run.scope
        case .detached(let detachment): detachment.unfinished?.scope ?? .everything
        case .connected, .stopping, .stopped, .modifying: .everything
        }
    }

    /// Whether the run under way starts with a catch-up.
    var runCatchesUp: Bool {
        switch state {
        case .resynchronising(let run): run.catchesUp
        case .detached(let detachment): detachment.unfinished?.catchesUp ?? false
        case .connected, .stopping, .stopped, .modifying: false
        }
    }

    /// Starts a run unless one under way will cover what happened.
    private mutating func resynchronisationNeeded(_ scope: Scope) -> [Action] {
        switch state {
        case .connected:
            if case .shards = scope {
                state = .resynchronising(Resynchronisation(snapshot: .none, catchesUp: false, scope: scope))
            } else {
                state = .resynchronising(Resynchronisation())
            }
            return [.startResynchronisation]
        case .resynchronising(var run):
            // A run whose claims are still to go out covers what happened, once widened to it.
            guard run.haveClaimsGoneOut else {
                run.scope = run.scope.widened(to: scope)
                state = .resynchronising(run)
                return []
            }
            run.isNeededAgain = true
            state = .resynchronising(run)
            return []
        case .detached, .stopping, .stopped, .modifying:
            // After an outage a run follows the reconnection anyway.
            return []
        }
    }

    /// Sentinel named a new master.
    func failover(to master: RedisServerAddress) -> [Action] {
        switch state {
        case .connected, .resynchronising, .detached: [.followFailover(master)]
        case .stopping, .stopped, .modifying: []
        }
    }

    // MARK: Resynchronisation

    /// The run has claimed the local users again.
    mutating func claimsSent() {
        modifyRun { $0.haveClaimsGoneOut = true }
    }

    /// The run ended; a failed one is retried when the connections come back.
    mutating func resynchronisationFinished(succeeded: Bool) -> [Action] {
        switch state {
        case .resynchronising(let run):
            if run.isNeededAgain {
                state = .resynchronising(Resynchronisation(snapshot: .catchingUp(held: run.heldForNextRun ?? [])))
                return [.startResynchronisation]
            }
            state = .connected
            return []
        case .detached(var detachment):
            detachment.unfinished = nil
            state = .detached(detachment)
            return []
        case .connected, .stopping, .stopped, .modifying:
            return []
        }
    }

    /// The run starts reading the stored history (lines held since the run began stay held).
    mutating func beginCatchUp() {
        modifyRun { run in
            if case .catchingUp = run.snapshot { return }
            run.snapshot = .catchingUp(held: [])
        }
    }

    /// The run has delivered the lines it missed: the live lines held meanwhile, oldest first.
    mutating func endCatchUp() -> [ChatLine] {
        modifyRun { run -> [ChatLine] in
            defer { run.snapshot = .none }
            guard case .catchingUp(let held) = run.snapshot else { return [] }
            return held
        } ?? []
    }

    /// The run starts reading the users.
    mutating func beginReconciliation() {
        modifyRun { $0.snapshot = .reconciling(seen: []) }
    }

    /// The run has its snapshot of the users: the events that arrived while it was read.
    mutating func endReconciliation() -> [ClusterEnvelope.Event] {
        modifyRun { run -> [ClusterEnvelope.Event] in
            defer { run.snapshot = .none }
            guard case .reconciling(let seen) = run.snapshot else { return [] }
            return seen
        } ?? []
    }

    // MARK: Messages

    /// A message came through the subscription.
    mutating func received(_ event: ClusterEnvelope.Event) -> MessageAction {
        switch state {
        case .connected, .stopping, .stopped, .modifying:
            return .apply
        case .detached(var detachment) where detachment.wasSubscriberCut:
            // Back before the inbox heard of it, or while the commands are down: older lines are missing.
            guard case .message(let line) = event else { return .apply }
            state = .modifying
            detachment.held.append(line)
            Self.bound(&detachment.held)
            state = .detached(detachment)
            return .hold
        case .resynchronising, .detached:
            return modifyRun { run -> MessageAction in
                if var held = run.heldForNextRun, case .message(let line) = event {
                    run.heldForNextRun = nil
                    held.append(line)
                    Self.bound(&held)
                    run.heldForNextRun = held
                    return .hold
                }
                switch run.snapshot {
                case .none:
                    return .apply
                case .catchingUp(var held):
                    // Older lines this node missed go out first.
                    guard case .message(let line) = event else { return .apply }
                    run.snapshot = .none
                    held.append(line)
                    Self.bound(&held)
                    run.snapshot = .catchingUp(held: held)
                    return .hold
                case .reconciling(var seen):
                    run.snapshot = .none
                    seen.append(event)
                    run.snapshot = .reconciling(seen: seen)
                    return .apply
                }
            } ?? .apply
        }
    }

    private static func bound(_ held: inout [ChatLine]) {
        if held.count > heldLinesLimit { held.removeFirst(held.count - heldLinesLimit) }
    }

    // MARK: Shutdown

    /// The node shuts down: leave the cluster while the connections are up.
    mutating func stopRequested() -> [Action] {
        switch state {
        case .connected, .resynchronising, .detached:
            state = .stopping
            return [.withdraw]
        case .stopping, .stopped, .modifying:
            return []
        }
    }

    /// The node has left the cluster (or given up trying).
    mutating func withdrawn() {
        state = .stopped
    }

    /// Changes the run under way, wherever the state keeps it, without
    /// copying its arrays; nil when no run is under way.
    private mutating func modifyRun<Result>(_ body: (inout Resynchronisation) -> Result) -> Result? {
        switch state {
        case .resynchronising(var run):
            state = .modifying
            let result = body(&run)
            state = .resynchronising(run)
            return result
        case .detached(var detachment):
            guard var run = detachment.unfinished else { return nil }
            state = .modifying
            detachment.unfinished = nil
            let result = body(&run)
            detachment.unfinished = run
            state = .detached(detachment)
            return result
        case .connected, .stopping, .stopped, .modifying:
            return nil
        }
    }
}

extension RedisLinkStateMachine.Scope {
    /// This scope grown to cover `other` as well.
    func widened(to other: Self) -> Self {
        switch (self, other) {
        case (.shards(let these), .shards(let those)): .shards(these.union(those))
        default: .everything
        }
    }
}
