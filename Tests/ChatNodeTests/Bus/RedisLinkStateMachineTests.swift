import ChatProtocol
import Redis
import Testing

@testable import ChatNode

@Suite("The link to Redis: one state machine for outages, resynchronisations, failovers and the shutdown")
struct RedisLinkStateMachineTests {
    /// A machine that has loaded the cluster at start-up: connected.
    private static func connected() -> RedisLinkStateMachine {
        var machine = RedisLinkStateMachine()
        _ = machine.resynchronisationFinished(succeeded: true)
        return machine
    }

    private static let line = ChatLine(id: "1", from: "alice", text: "hi", ts: 1)
    private static let master = RedisServerAddress(host: "127.0.0.1", port: 7000)

    @Test("a new node is loading the cluster and serves once loaded; the connections' first reports change nothing")
    func startUp() {
        var machine = RedisLinkStateMachine()
        #expect(machine.isResynchronising)
        #expect(machine.resynchronisationFinished(succeeded: true) == [])
        #expect(machine.connection(.commands, isUp: true) == [])
        #expect(machine.connection(.subscriber, isUp: true) == [])
        #expect(machine.isAvailable)
        #expect(!machine.isResynchronising)
    }

    @Test("losing the subscriber refuses chat and gives lines in flight back; losing the command connection only refuses chat")
    func outage() {
        var machine = Self.connected()
        #expect(machine.connection(.subscriber, isUp: false) == [.reportUnreachable, .releaseLinesInFlight])
        #expect(!machine.isAvailable)
        #expect(machine.connection(.commands, isUp: false) == [])

        var other = Self.connected()
        #expect(other.connection(.commands, isUp: false) == [.reportUnreachable])
    }

    @Test("chat is served again, and one run starts, only once both connections are back")
    func reconnection() {
        var machine = Self.connected()
        _ = machine.connection(.commands, isUp: false)
        _ = machine.connection(.subscriber, isUp: false)
        #expect(machine.connection(.commands, isUp: true) == [])
        #expect(!machine.isAvailable)
        #expect(machine.connection(.subscriber, isUp: true) == [.startResynchronisation])
        #expect(machine.isAvailable)
        #expect(machine.resynchronisationFinished(succeeded: true) == [])
        if case .connected = machine.state {} else { Issue.record("expected connected, got \(machine.state)") }
    }

    @Test("after an outage, live lines wait from the reconnection on until the run's catch-up has delivered the missed ones")
    func linesHeldFromReconnection() {
        var machine = Self.connected()
        _ = machine.connection(.subscriber, isUp: false)
        #expect(machine.connection(.subscriber, isUp: true) == [.startResynchronisation])
        #expect(machine.runCatchesUp)
        // Before the run's first step has even started.
        #expect(machine.received(.message(Self.line)) == .hold)
        machine.beginCatchUp()
        let later = ChatLine(id: "2", from: "bob", text: "yo", ts: 2)
        #expect(machine.received(.message(later)) == .hold)
        #expect(machine.endCatchUp() == [Self.line, later])
        #expect(machine.received(.message(later)) == .apply)
    }

    @Test("a reaping while connected starts one run; another before its claims went out is covered by it")
    func reapedOnce() {
        var machine = Self.connected()
        #expect(machine.reaped() == [.reportPresumedDead, .startResynchronisation])
        #expect(machine.reaped() == [])
        #expect(machine.resynchronisationFinished(succeeded: true) == [])
        #expect(!machine.isResynchronising)
    }

    @Test("a reaping after the run's claims went out makes it run once more, after it ends, never beside it")
    func reapedAfterClaims() {
        var machine = Self.connected()
        _ = machine.reaped()
        machine.claimsSent()
        #expect(machine.reaped() == [])
        #expect(machine.reaped() == [])
        #expect(machine.resynchronisationFinished(succeeded: true) == [.startResynchronisation])
        #expect(machine.resynchronisationFinished(succeeded: true) == [])
    }

    @Test("a Redis Cluster shard back while connected: one run, chat served throughout; while detached, the reconnection's run covers it")
    func shardRecovered() {
        var machine = Self.connected()
        #expect(machine.shardRecovered(Self.master) == [.startResynchronisation])
        #expect(machine.isAvailable)
        #expect(!machine.runCatchesUp, "each cut room catches up by itself")
        #expect(machine.received(.message(Self.line)) == .apply)
        #expect(machine.shardRecovered(Self.master) == [], "the run under way covers a second shard")
        #expect(machine.resynchronisationFinished(succeeded: true) == [])
        _ = machine.connection(.commands, isUp: false)
        #expect(machine.shardRecovered(Self.master) == [])
        #expect(!machine.isAvailable)
    }

    @Test("a shard's return claims again only what lives on it; another shard's return before the claims widens the run, a reaping widens it to everything")
    func shardScope() {
        let other = RedisServerAddress(host: "127.0.0.1", port: 7001)
        var machine = Self.connected()
        #expect(machine.shardRecovered(Self.master) == [.startResynchronisation])
        #expect(machine.runScope == .shards([Self.master]))
        #expect(machine.shardRecovered(other) == [])
        #expect(machine.runScope == .shards([Self.master, other]))
        #expect(machine.reaped() == [])
        #expect(machine.runScope == .everything)

        var late = Self.connected()
        _ = late.shardRecovered(Self.master)
        late.claimsSent()
        #expect(late.shardRecovered(other) == [], "after the claims went out, another run follows")
        #expect(late.runScope == .shards([Self.master]))
        #expect(late.resynchronisationFinished(succeeded: true) == [.startResynchronisation])
        #expect(late.runScope == .everything)
    }

    @Test("an empty restart while a run is under way: the cut-short run ends first, then exactly one more runs")
    func outageDuringRun() {
        var machine = Self.connected()
        _ = machine.reaped()
        _ = machine.connection(.subscriber, isUp: false)
        #expect(machine.isResynchronising)
        // Back before the cut-short run noticed: no second run beside it.
        #expect(machine.connection(.subscriber, isUp: true) == [])
        // The beacon finds the node reaped too (Redis restarted empty): still one run.
        #expect(machine.reaped() == [])
        #expect(machine.resynchronisationFinished(succeeded: false) == [.startResynchronisation])
        #expect(machine.resynchronisationFinished(succeeded: true) == [])
        #expect(!machine.isResynchronising)
    }

    @Test("a run that fails during the outage ends quietly; the reconnection starts a fresh one")
    func runFailsWhileDetached() {
        var machine = Self.connected()
        _ = machine.reaped()
        _ = machine.connection(.commands, isUp: false)
        #expect(machine.resynchronisationFinished(succeeded: false) == [])
        #expect(!machine.isResynchronising)
        #expect(machine.connection(.commands, isUp: true) == [.startResynchronisation])
    }

    @Test("a reaping found during an outage waits for the run after the reconnection")
    func reapedWhileDetached() {
        var machine = Self.connected()
        _ = machine.connection(.commands, isUp: false)
        #expect(machine.reaped() == [])
        #expect(machine.connection(.commands, isUp: true) == [.startResynchronisation])
    }

    @Test("a line from the subscriber's new connection that comes before the machine heard of it waits for the run's catch-up too")
    func linesHeldBeforeReconnectionIsKnown() {
        var machine = Self.connected()
        _ = machine.connection(.subscriber, isUp: false)
        #expect(machine.received(.message(Self.line)) == .hold)
        #expect(machine.received(.joined(nick: "bob", owner: "i/1", ts: 1)) == .apply)
        #expect(machine.connection(.subscriber, isUp: true) == [.startResynchronisation])
        machine.beginCatchUp()
        #expect(machine.endCatchUp() == [Self.line])
    }

    @Test("while only the command connection is down, nothing was missed: live lines apply at once")
    func commandOutageAppliesLines() {
        var machine = Self.connected()
        _ = machine.connection(.commands, isUp: false)
        #expect(machine.received(.message(Self.line)) == .apply)
    }

    @Test("the subscriber back while a cut-short run still ends: live lines wait for the next run's catch-up")
    func linesHeldForNextRun() {
        var machine = Self.connected()
        _ = machine.reaped()
        machine.beginCatchUp()
        #expect(machine.endCatchUp() == [])
        _ = machine.connection(.subscriber, isUp: false)
        #expect(machine.connection(.subscriber, isUp: true) == [])
        #expect(machine.received(.message(Self.line)) == .hold)
        #expect(machine.resynchronisationFinished(succeeded: false) == [.startResynchronisation])
        machine.beginCatchUp()
        #expect(machine.endCatchUp() == [Self.line])
        #expect(machine.received(.message(Self.line)) == .apply)
    }

    @Test("during a catch-up live lines are held and come out after the missed ones; other events apply at once")
    func catchUpHoldsLines() {
        var machine = Self.connected()
        _ = machine.reaped()
        machine.beginCatchUp()
        #expect(machine.received(.message(Self.line)) == .hold)
        #expect(machine.received(.joined(nick: "bob", owner: "i/1", ts: 1)) == .apply)
        #expect(machine.endCatchUp() == [Self.line])
        #expect(machine.received(.message(Self.line)) == .apply)
    }

    @Test("lines held by a catch-up that the outage cut short are still handed back")
    func catchUpCutShort() {
        var machine = Self.connected()
        _ = machine.reaped()
        machine.beginCatchUp()
        _ = machine.received(.message(Self.line))
        _ = machine.connection(.subscriber, isUp: false)
        #expect(machine.endCatchUp() == [Self.line])
    }

    @Test("while the users are read, every event is applied and remembered for the snapshot")
    func reconciliationSeesEvents() {
        var machine = RedisLinkStateMachine()
        machine.beginReconciliation()
        let joined = ClusterEnvelope.Event.joined(nick: "bob", owner: "i/1", ts: 1)
        #expect(machine.received(joined) == .apply)
        #expect(machine.received(.message(Self.line)) == .apply)
        #expect(machine.endReconciliation() == [joined, .message(Self.line)])
        #expect(machine.endReconciliation() == [])
    }

    @Test("the shutdown withdraws once; a failover, an outage or a reaping during it starts nothing")
    func shutdown() {
        var machine = Self.connected()
        #expect(machine.stopRequested() == [.withdraw])
        #expect(machine.isAvailable)
        #expect(machine.stopRequested() == [])
        #expect(machine.failover(to: Self.master) == [])
        #expect(machine.connection(.commands, isUp: false) == [])
        #expect(machine.connection(.commands, isUp: true) == [])
        #expect(machine.reaped() == [])
        machine.withdrawn()
        #expect(machine.isStopped)
        #expect(!machine.isAvailable)
    }

    @Test("a withdraw with a frozen Redis: the shutdown during an outage still withdraws (bounded by the bus), and a late run's end changes nothing")
    func shutdownWhileDetached() {
        var machine = Self.connected()
        _ = machine.reaped()
        _ = machine.connection(.commands, isUp: false)
        #expect(machine.stopRequested() == [.withdraw])
        #expect(machine.resynchronisationFinished(succeeded: false) == [])
        machine.withdrawn()
        #expect(machine.isStopped)
    }

    @Test("a failover is followed while connected, resynchronising or detached")
    func failover() {
        var machine = Self.connected()
        #expect(machine.failover(to: Self.master) == [.followFailover(Self.master)])
        _ = machine.connection(.commands, isUp: false)
        #expect(machine.failover(to: Self.master) == [.followFailover(Self.master)])
    }
}
