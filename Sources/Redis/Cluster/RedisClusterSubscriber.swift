import Logging
import NIOCore

/// Sharded pub/sub on a Redis Cluster: each channel is subscribed
/// (`SSUBSCRIBE`) at the master of its hash slot, through one subscriber
/// connection per master that holds subscribed channels, so a message
/// travels only within its shard.
///
/// When the slot map changes (a failover, a resharding) or a master drops a
/// channel whose slot moved (`sunsubscribe`), the channel is subscribed
/// again at its new master. A shard whose subscriber is down, or whose
/// channels moved, is reported lost and then recovered (`onShardChange`),
/// so the node catches up that shard's rooms from history while the other
/// shards' channels go on. Each channel is also reported cut, and resumed
/// once its master confirmed it again (`onChannelChange`), so a consumer can
/// hold that channel's later messages until it has caught up.
///
/// Runs on the event loop of the `RedisClusterClient` whose slot map it follows.
public actor RedisClusterSubscriber: RedisSubscription {
    public nonisolated let url: RedisURL
    public nonisolated let eventLoop: any EventLoop
    private let client: RedisClusterClient
    private let logger: Logger
    /// One sharded subscriber per master that holds channels.
    private var shards: [RedisServerAddress: RedisSubscriber] = [:]
    private var shardTasks: [RedisServerAddress: Task<Void, Never>] = [:]
    /// Subscribers of former masters being closed, which `shutdown()` waits for.
    private var retiring: [RedisServerAddress: Task<Void, Never>] = [:]
    /// The slot map being asked for again, then the channels re-homed: one
    /// at a time, and `shutdown()` waits for it.
    private var rehoming: Task<Void, Never>?
    /// A channel was lost while `rehoming` ran: ask once more after it.
    private var isRehomingAgain = false
    private var shardsUp: Set<RedisServerAddress> = []
    /// Where each subscribed channel is subscribed now.
    private var homes: [String: RedisServerAddress] = [:]
    private var handler: (@Sendable (RedisPubSubMessage) -> Void)?
    private var observers = RedisConnectionObservers()
    private var lastPublished = true
    private var isShutDown = false
    /// Called on the event loop when a shard's subscriptions are cut or subscribed again.
    private var shardObservers: [@Sendable (ShardChange) -> Void] = []
    /// Channels cut and not yet confirmed at their home.
    private var cut: Set<String> = []
    /// Called on the event loop when channels are cut or confirmed again.
    private var channelObservers: [@Sendable (ChannelChange) -> Void] = []

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        eventLoop.executor.asUnownedSerialExecutor()
    }

    /// A subscription that follows `client`'s slot map (and runs on its event loop).
    public init(client: RedisClusterClient, logger: Logger) {
        self.client = client
        self.url = client.url
        self.eventLoop = client.eventLoop
        self.logger = logger
    }

    /// Connects a subscriber to every master and starts following the slot map.
    public func connect() async throws(RedisError) {
        await client.onSlotMapChange { [weak self] in
            guard let self else { return }
            self.assumeIsolated { $0.rehome() }
        }
        for master in await client.masters where shards[master] == nil {
            let shard = makeShard(at: master)
            try await shard.connect()
            shardsUp.insert(master)
            keepUp(shard, at: master)
        }
        publishState()
    }

    /// Waits until shut down (each shard's connection keeps itself up).
    public func run() async {
        while !isShutDown, !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
        }
    }

    public func shutdown() async {
        isShutDown = true
        observers.finishAll()
        for task in shardTasks.values { task.cancel() }
        for shard in shards.values { await shard.shutdown() }
        shards = [:]
        // The caller stops the event loop next: nothing of ours may still be scheduled on it.
        for task in retiring.values { await task.value }
        retiring = [:]
        rehoming?.cancel()
        await rehoming?.value
    }

    /// Up while some shard's subscriber is up: a shard whose master is
    /// unreachable cuts only its own channels (`onShardChange` tells).
    public func connectionStates() -> AsyncStream<Bool> {
        let eventLoop = self.eventLoop
        return observers.makeStream(current: isUp) { [weak self] id in
            guard let self else { return }
            eventLoop.execute { self.assumeIsolated { $0.observers.remove(id) } }
        }
    }

    /// Some master has a subscriber that is up (or none was needed yet).
    private var isUp: Bool {
        shards.isEmpty || !shardsUp.isEmpty
    }

    /// Calls `observer` on the event loop when a shard's subscriptions are
    /// cut (its master is unreachable) or subscribed again (at the master
    /// or at the replica promoted in its place).
    public func onShardChange(_ observer: @escaping @Sendable (ShardChange) -> Void) {
        shardObservers.append(observer)
    }

    private func tell(_ change: ShardChange) {
        for observer in shardObservers { observer(change) }
    }

    /// Calls `observer` on the event loop when channels are cut, and again
    /// when their master confirms them, before any of their messages that follow.
    public func onChannelChange(_ observer: @escaping @Sendable (ChannelChange) -> Void) {
        channelObservers.append(observer)
    }

    /// Marks channels as cut (told once, until they are confirmed again).
    private func cutOff(_ names: some Sequence<String>) {
        let newlyCut = names.filter { cut.insert($0).inserted }
        guard !newlyCut.isEmpty else { return }
        for observer in channelObservers { observer(.cut(newlyCut)) }
    }

    /// `master` confirmed `name`: if that is its home and it was cut, it is resumed.
    private func confirmed(_ name: String, at master: RedisServerAddress) {
        guard homes[name] == master, cut.remove(name) != nil else { return }
        for observer in channelObservers { observer(.resumed([name])) }
    }

    private func publishState() {
        let now = isUp
        guard now != lastPublished else { return }
        lastPublished = now
        observers.publish(now)
    }

    public func deliverMessages(to handler: @escaping @Sendable (RedisPubSubMessage) -> Void) {
        self.handler = handler
        for shard in shards.values { shard.assumeIsolated { $0.deliverMessages(to: handler) } }
    }

    public func subscribe(_ names: [String]) async throws(RedisError) {
        do {
            try await subscribeFromEventLoop(names).get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.errorReply, NetworkFailure.sentence(for: error))
        }
    }

    public nonisolated func subscribeFromEventLoop(_ names: [String]) -> EventLoopFuture<Void> {
        guard eventLoop.inEventLoop else {
            return eventLoop.flatSubmit { self.assumeIsolated { $0.start(names) } }
        }
        return assumeIsolated { $0.start(names) }
    }

    public nonisolated func unsubscribeFromEventLoop(_ names: [String]) {
        assumeIsolated { subscription in
            for name in names {
                subscription.cut.remove(name)
                guard let home = subscription.homes.removeValue(forKey: name) else { continue }
                subscription.shards[home]?.unsubscribeFromEventLoop([name])
            }
            subscription.publishState()
        }
    }

    /// Nothing to do: the slot map says where channels live.
    public func reconnect(unlessConnectedTo address: RedisServerAddress) {}

    private func start(_ names: [String]) -> EventLoopFuture<Void> {
        let slots = client.assumeIsolated { $0.slots }
        var confirmations: [EventLoopFuture<Void>] = []
        for name in names {
            guard let master = slots.master(for: HashSlot(key: name)) else {
                client.assumeIsolated { $0.refreshSlotMapSoon() }
                homes[name] = Self.nowhere  // subscribed once the map names a master
                cutOff([name])
                continue
            }
            homes[name] = master
            // A shard still connecting takes the channel now and subscribes it once connected:
            // until Redis confirms it there, it counts as cut, so its room catches up then.
            if !shardsUp.contains(master) { cutOff([name]) }
            confirmations.append(shard(at: master).subscribeFromEventLoop([name]))
        }
        publishState()
        return EventLoopFuture.andAllSucceed(confirmations, on: eventLoop)
    }

    /// Subscribes every channel whose slot's master changed at its new master.
    private func rehome() {
        guard !isShutDown else { return }
        let slots = client.assumeIsolated { $0.slots }
        var moved: [(String, RedisServerAddress)] = []
        for (name, home) in homes {
            if let master = slots.master(for: HashSlot(key: name)), master != home { moved.append((name, master)) }
        }
        for (name, master) in moved {
            if let old = homes[name] { shards[old]?.unsubscribeFromEventLoop([name]) }
            homes[name] = master
        }
        cutOff(moved.map(\.0))
        for (master, names) in Dictionary(grouping: moved, by: \.1) {
            let channels = names.map(\.0)
            shard(at: master).subscribeFromEventLoop(channels).whenComplete { result in
                self.assumeIsolated { $0.subscribed(channels, at: master, result) }
            }
        }
        if !moved.isEmpty { logger.info("sharded subscriptions moved to new masters", metadata: ["channels": "\(moved.count)"]) }
        // One subscriber per master: new masters get one, former masters lose theirs.
        let masters = Set(slots.slotCounts.keys)
        for master in masters { _ = shard(at: master) }
        for (address, shard) in shards where !masters.contains(address) {
            shards[address] = nil
            shardsUp.remove(address)
            shardTasks.removeValue(forKey: address)?.cancel()
            // Keyed by address, so a master that leaves again and again holds one task, not a list.
            retiring[address] = Task { [before = retiring[address]] in
                await before?.value
                await shard.shutdown()
            }
        }
        publishState()
    }

    /// Once moved channels are subscribed at their new master, its shard is
    /// back. A refusal (the master is still importing the slot and answers
    /// `MOVED`, say) must not leave them looking subscribed: they are nowhere
    /// again, the shard counts as lost, and the map is asked for again shortly.
    private func subscribed(_ names: [String], at master: RedisServerAddress, _ result: Result<Void, any Error>) {
        guard !isShutDown else { return }
        switch result {
        case .success:
            tell(.recovered(master))
        case .failure(let error):
            logger.debug("sharded subscription refused; asking for the slot map again", metadata: [
                "master": "\(master)", "error": "\(NetworkFailure.sentence(for: error))",
            ])
            for name in names where homes[name] == master { homes[name] = Self.nowhere }
            tell(.lost(master))
            rehomeSoon(after: .milliseconds(200))
        }
    }

    /// The subscriber at `master`, made and kept up on first use.
    private func shard(at master: RedisServerAddress) -> RedisSubscriber {
        if let existing = shards[master] { return existing }
        let shard = makeShard(at: master)
        keepUp(shard, at: master)
        return shard
    }

    private func makeShard(at master: RedisServerAddress) -> RedisSubscriber {
        let shard = RedisSubscriber(url: url.node(master), eventLoop: eventLoop, logger: logger, sharded: true)
        shards[master] = shard
        let handler = self.handler
        shard.assumeIsolated { subscriber in
            if let handler { subscriber.deliverMessages(to: handler) }
            subscriber.onChannelDropped { [weak self] name in
                guard let self else { return }
                self.assumeIsolated { $0.dropped(name) }
            }
            subscriber.onChannelConfirmed { [weak self] name in
                guard let self else { return }
                self.assumeIsolated { $0.confirmed(name, at: master) }
            }
        }
        return shard
    }

    /// Keeps `shard` connected and follows its state.
    private func keepUp(_ shard: RedisSubscriber, at master: RedisServerAddress) {
        shardTasks[master] = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await shard.run() }
                group.addTask {
                    for await isUp in await shard.connectionStates() {
                        await self.note(master, isUp: isUp, of: shard)
                    }
                }
            }
        }
    }

    /// A master dropped `name` (its slot moved): down until the map says where it lives now.
    private func dropped(_ name: String) {
        guard let home = homes[name] else { return }
        homes[name] = Self.nowhere
        cutOff([name])
        tell(.lost(home))
        publishState()
        rehomeSoon(after: .zero)
    }

    /// Asks for the slot map again after `delay`, then subscribes the
    /// channels that are nowhere at their masters.
    private func rehomeSoon(after delay: Duration) {
        guard !isShutDown else { return }
        guard rehoming == nil else {
            isRehomingAgain = true
            return
        }
        rehoming = Task {
            if delay > .zero { try? await Task.sleep(for: delay) }
            if !isShutDown { try? await client.refreshSlotMap() }
            rehoming = nil
            guard !isShutDown else { return }
            rehome()
            if isRehomingAgain {
                isRehomingAgain = false
                rehomeSoon(after: .milliseconds(200))
            }
        }
    }

    /// The home of a channel whose slot has no known master (yet).
    private static let nowhere = RedisServerAddress(host: "", port: 0)

    private func note(_ master: RedisServerAddress, isUp: Bool, of shard: RedisSubscriber) {
        guard shards[master] === shard else { return }
        if isUp {
            if shardsUp.insert(master).inserted { tell(.recovered(master)) }
        } else {
            cutOff(homes.filter { $0.value == master }.keys)
            if shardsUp.remove(master) != nil { tell(.lost(master)) }
            client.assumeIsolated { $0.refreshSlotMapSoon() }
        }
        publishState()
    }
}
