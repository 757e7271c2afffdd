import Logging
import NIOCore
import NIOPosix

/// A pipelined client for a Redis Cluster: one `RedisConnection` per master,
/// each command sent to the master of its hash slot.
///
/// The slot map comes from `CLUSTER SLOTS`, asked of the seed nodes and
/// then of any known node. A `MOVED` reply moves the slot in the map and
/// the command goes again to the new master (a refused command ran
/// nowhere, so retrying it is safe, scripts included); an `ASK` reply sends
/// that one command again to the importing node after `ASKING`. A master
/// that cannot be reached makes the client ask for the map again (a replica
/// may have been promoted), and its commands fail with `.notConnected`
/// until the map names a master that answers.
///
/// The actor runs on its event loop, as do its connections.
public actor RedisClusterClient: RedisCommandTransport {
    /// How many redirections one command follows before giving up.
    static let redirectionLimit = 5
    /// How often `run()` asks for the slot map, to learn of topology changes no command ran into.
    static let refreshInterval = Duration.seconds(5)

    /// The cluster's URL: seed nodes, credentials, TLS.
    public nonisolated let url: RedisURL
    /// The event loop the client and its connections run on.
    public nonisolated let eventLoop: any EventLoop
    /// Scripts every connection loads when it connects.
    public nonisolated let scripts: [RedisScript]
    let logger: Logger
    /// Which master serves which slot, as far as the client knows.
    public private(set) var slots = ClusterSlotMap()
    private var connections: [RedisServerAddress: RedisConnection] = [:]
    private var reconnecting: [RedisServerAddress: Task<Void, Never>] = [:]
    /// Connections making their first attempt, which other callers wait for.
    private var firstAttempts: [RedisServerAddress: Task<RedisError?, Never>] = [:]
    private var refresh: Task<Void, Never>?
    /// Connections to former masters being closed, which `shutdown()` waits for.
    private var retiring: [RedisServerAddress: Task<Void, Never>] = [:]
    private var isShutDown = false
    /// Which masters' connections are up, for `connectionStates()`.
    private var connected: Set<RedisServerAddress> = []
    private var observers = RedisConnectionObservers()
    private var lastPublished = false
    /// Called on the event loop whenever the slot map changes.
    private var slotMapObservers: [@Sendable () -> Void] = []
    /// Called on the event loop when a master's connection goes down or (back) up after `connect()`.
    private var shardObservers: [@Sendable (ShardChange) -> Void] = []
    /// `connect()` has finished: masters connecting from now on bring shards back.
    private var isStarted = false

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        eventLoop.executor.asUnownedSerialExecutor()
    }

    /// Creates a client for the cluster `url` names (`redis-cluster://`);
    /// nothing is connected until `connect()`.
    public init(
        url: RedisURL,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any(),
        scripts: [RedisScript] = [],
        logger: Logger
    ) {
        self.url = url
        self.eventLoop = eventLoop
        self.scripts = scripts
        self.logger = logger
    }

    /// Learns the slot map and connects to every master, so a node can refuse
    /// to start when the cluster is unreachable, refuses it or has unserved slots.
    public func connect() async throws(RedisError) {
        try await refreshSlotMap()
        guard slots.coversEverySlot else {
            throw RedisError(.connectionFailed, "the Redis Cluster at \(url) does not serve every hash slot (CLUSTER SLOTS has gaps)")
        }
        for master in slots.slotCounts.keys {
            _ = try await connection(to: master)
        }
        isStarted = true
    }

    /// The masters serving slots now, as far as the client knows.
    public var masters: [RedisServerAddress] { Array(slots.slotCounts.keys) }

    /// Whether some master's connection is up: a shard whose master is
    /// unreachable fails only its own commands (`onShardChange` tells).
    private var isUp: Bool {
        !connected.isEmpty
    }

    /// Up (true) while some master's connection is up, now and at every change.
    public func connectionStates() -> AsyncStream<Bool> {
        let eventLoop = self.eventLoop
        return observers.makeStream(current: isUp) { [weak self] id in
            guard let self else { return }
            eventLoop.execute { self.assumeIsolated { $0.observers.remove(id) } }
        }
    }

    private func publishState() {
        let now = isUp
        guard now != lastPublished else { return }
        lastPublished = now
        observers.publish(now)
    }

    /// Asks for the slot map every few seconds (twice a second while a
    /// master is unreachable) until shut down or cancelled (each master's
    /// connection keeps itself up).
    public func run() async {
        while !isShutDown, !Task.isCancelled {
            // While a master is missing, ask often: its replica's promotion ends that shard's outage.
            let everyMasterUp = slots.coversEverySlot && slots.slotCounts.keys.allSatisfy { connected.contains($0) }
            try? await Task.sleep(for: everyMasterUp ? Self.refreshInterval : .milliseconds(500))
            try? await refreshSlotMap()
        }
    }

    /// Calls `observer` on the client's event loop whenever the slot map changes.
    public func onSlotMapChange(_ observer: @escaping @Sendable () -> Void) {
        slotMapObservers.append(observer)
    }

    private func slotMapChanged() {
        for observer in slotMapObservers { observer() }
    }

    /// Calls `observer` on the client's event loop when a master becomes
    /// unreachable, or reachable (again, or newly promoted) after `connect()`.
    public func onShardChange(_ observer: @escaping @Sendable (ShardChange) -> Void) {
        shardObservers.append(observer)
    }

    /// Records whether `address`'s connection is up, telling the shard observers of a change.
    private func setConnected(_ address: RedisServerAddress, _ isUp: Bool) {
        let changed = isUp ? connected.insert(address).inserted : connected.remove(address) != nil
        guard changed, isStarted else { return }
        for observer in shardObservers { observer(isUp ? .recovered(address) : .lost(address)) }
    }

    /// Nothing to do: a cluster names its masters itself (`CLUSTER SLOTS`), not Sentinel.
    public func reconnect(unlessConnectedTo address: RedisServerAddress) {}

    /// Sends commands, each to the master of its slot (commands of one slot
    /// in their order; a command without a key to any master), and returns
    /// the replies in the order of `commands`.
    public func sendBatch(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisReply] {
        do {
            return try await startBatch(commands).get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw .notConnected("Redis Cluster: \(NetworkFailure.sentence(for: error))")
        }
    }

    /// `sendBatch` without a task: called on the client's event loop, each
    /// master's share is written at once.
    public nonisolated func sendBatchFromEventLoop(_ commands: [RedisCommand]) -> EventLoopFuture<[RedisReply]> {
        guard eventLoop.inEventLoop else {
            return eventLoop.flatSubmit { self.assumeIsolated { $0.startBatch(commands) } }
        }
        return assumeIsolated { $0.startBatch(commands) }
    }

    private func startBatch(_ commands: [RedisCommand]) -> EventLoopFuture<[RedisReply]> {
        guard !isShutDown else { return eventLoop.makeFailedFuture(RedisError(.shutDown, "Redis Cluster client was shut down")) }
        guard !commands.isEmpty else { return eventLoop.makeSucceededFuture([]) }
        // Most batches (a chat line's one script) go to one master: no split, no reassembly.
        if let master = soleMaster(of: commands), let connection = connections[master], connected.contains(master) {
            return connection.sendBatchFromEventLoop(commands)
                .flatMap { replies in self.followingRedirections(replies, of: commands) }
                .flatMapErrorThrowing { error in
                    if (error as? RedisError)?.code == .notConnected { self.assumeIsolated { $0.refreshSlotMapSoon() } }
                    throw error
                }
        }
        var shares: [RedisServerAddress: [Int]] = [:]
        for (index, command) in commands.enumerated() {
            guard let master = command.slot.map({ slots.master(for: $0) }) ?? slots.slotCounts.keys.first else {
                refreshSlotMapSoon()
                return eventLoop.makeFailedFuture(RedisError.notConnected("no master of the Redis Cluster serves hash slot \(command.slot.map(\.description) ?? "(any)") (yet)"))
            }
            shares[master, default: []].append(index)
        }
        var sent: [(indices: [Int], replies: EventLoopFuture<[RedisReply]>)] = []
        for (master, indices) in shares {
            guard let connection = connections[master], connected.contains(master) else {
                // Not connected yet (a master just learned of): the slow path connects first.
                let share = indices.map { commands[$0] }
                let replies = eventLoop.makeFutureWithTask { try await self.send(share, to: master) }
                sent.append((indices, replies))
                continue
            }
            sent.append((indices, connection.sendBatchFromEventLoop(indices.map { commands[$0] })))
        }
        let sentIndices = sent.map(\.indices)
        return EventLoopFuture.whenAllSucceed(sent.map(\.replies), on: eventLoop).flatMap { shareReplies in
            var replies = [RedisReply](repeating: .null, count: commands.count)
            for (indices, share) in zip(sentIndices, shareReplies) {
                for (index, reply) in zip(indices, share) { replies[index] = reply }
            }
            return self.followingRedirections(replies, of: commands)
        }.flatMapErrorThrowing { error in
            if (error as? RedisError)?.code == .notConnected { self.assumeIsolated { $0.refreshSlotMapSoon() } }
            throw error
        }
    }

    /// The master serving every command's slot, if they all have one and it is the same.
    private func soleMaster(of commands: [RedisCommand]) -> RedisServerAddress? {
        guard let master = commands[0].slot.flatMap({ slots.master(for: $0) }) else { return nil }
        for command in commands.dropFirst() {
            guard let slot = command.slot, slots.master(for: slot) == master else { return nil }
        }
        return master
    }

    /// `replies` with each `MOVED` or `ASK` answer replaced by the reply of the server it names.
    private nonisolated func followingRedirections(_ replies: [RedisReply], of commands: [RedisCommand]) -> EventLoopFuture<[RedisReply]> {
        var redirected: [(Int, ClusterRedirection)] = []
        for (index, reply) in replies.enumerated() {
            if case .error(let text) = reply, let redirection = ClusterRedirection(errorText: text) {
                redirected.append((index, redirection))
            }
        }
        guard !redirected.isEmpty else { return eventLoop.makeSucceededFuture(replies) }
        return eventLoop.makeFutureWithTask { [redirected] in
            var followed = replies
            for (index, redirection) in redirected {
                followed[index] = try await self.follow(redirection, with: commands[index], hops: 1)
            }
            return followed
        }
    }

    /// Sends one command to the master of its slot and returns its reply; an error reply is returned, not thrown.
    public func send(_ command: RedisCommand) async throws(RedisError) -> RedisReply {
        try await sendBatch([command])[0]
    }

    /// Sends `command` where `redirection` says, following further redirections up to the limit.
    private func follow(_ redirection: ClusterRedirection, with command: RedisCommand, hops: Int) async throws(RedisError) -> RedisReply {
        let reply: RedisReply
        switch redirection {
        case .moved(let slot, let master):
            slots.assign(slot, to: master)
            slotMapChanged()
            refreshSlotMapSoon()
            reply = try await send([command], to: master)[0]
        case .ask(_, let importing):
            reply = try await send([RedisCommand(["ASKING"]), command], to: importing)[1]
        }
        guard case .error(let text) = reply, let next = ClusterRedirection(errorText: text) else { return reply }
        guard hops < Self.redirectionLimit else {
            throw RedisError(.protocolError, "the Redis Cluster redirected a command \(hops) times; last: \(text)")
        }
        return try await follow(next, with: command, hops: hops + 1)
    }

    /// Sends commands to one server; a server that cannot be reached makes the client ask for the map again.
    private func send(_ commands: [RedisCommand], to address: RedisServerAddress) async throws(RedisError) -> [RedisReply] {
        do {
            return try await connection(to: address).sendBatch(commands)
        } catch let error where error.code == .notConnected {
            refreshSlotMapSoon()
            throw error
        }
    }

    /// Asks the cluster which master serves which slot (each known node in
    /// turn, seeds first) and keeps connections only to the masters named.
    public func refreshSlotMap() async throws(RedisError) {
        var candidates = url.clusterSeeds ?? [url.address]
        for master in slots.masters where !candidates.contains(master) { candidates.append(master) }
        var failures: [String] = []
        for address in candidates {
            do {
                let reply = try await ask(address, RedisCommand(["CLUSTER", "SLOTS"]))
                if case .error(let text) = reply {
                    failures.append("\(address): \(text)")
                    continue
                }
                let map = try ClusterSlotMap(slotsReply: reply, askedAt: address)
                guard map.coversEverySlot || !slots.coversEverySlot else {
                    // A node that lost touch with the cluster knows less than we do.
                    failures.append("\(address): its slot map has gaps")
                    continue
                }
                adopt(map)
                return
            } catch {
                failures.append("\(address): \(error.message)")
            }
        }
        throw RedisError(.connectionFailed, "no node of the Redis Cluster answered CLUSTER SLOTS (\(failures.joined(separator: "; ")))")
    }

    private func adopt(_ map: ClusterSlotMap) {
        let changed = map != slots
        if changed { logger.info("the Redis Cluster slot map changed", metadata: ["masters": "\(map.slotCounts.keys.map(\.description).sorted())"]) }
        slots = map
        let serving = Set(map.slotCounts.keys)
        for (address, connection) in connections where !serving.contains(address) {
            connections[address] = nil
            connected.remove(address)
            reconnecting.removeValue(forKey: address)?.cancel()
            // Keyed by address, so a master that leaves again and again holds one task, not a list.
            retiring[address] = Task { [before = retiring[address]] in
                await before?.value
                await connection.shutdown()
            }
        }
        // A master just named is connected now, so the cluster counts as up as soon as it is.
        for master in serving where connections[master] == nil {
            Task {
                guard !self.isShutDown else { return }
                _ = try? await self.connection(to: master)
            }
        }
        publishState()
        if changed { slotMapChanged() }
    }

    /// Asks for the slot map again soon, in the background, once at a time
    /// (a command or a subscriber lost its master, say).
    public func refreshSlotMapSoon() {
        guard refresh == nil, !isShutDown else { return }
        refresh = Task {
            try? await self.refreshSlotMap()
            // Let a failover settle before the next refresh.
            try? await Task.sleep(for: .milliseconds(200))
            self.refresh = nil
        }
    }

    /// Asks one node, over the pooled connection when it is a master, else over a short-lived one.
    private func ask(_ address: RedisServerAddress, _ command: RedisCommand) async throws(RedisError) -> RedisReply {
        if let connection = connections[address], await connection.isConnected {
            return try await connection.sendBatch([command])[0]
        }
        let once = RedisConnection(url: url.node(address), eventLoop: eventLoop, logger: logger)
        // Shut down before returning, not from a task of its own: a node whose start
        // failed stops this event loop next, and a late task would find it gone.
        do {
            try await once.connect()
            let reply = try await once.sendBatch([command])[0]
            await once.shutdown()
            return reply
        } catch {
            await once.shutdown()
            throw error
        }
    }

    /// The pooled connection to `address`, connected on first use and kept
    /// up from then on; a first connection that fails is thrown (and retried
    /// in the background).
    private func connection(to address: RedisServerAddress) async throws(RedisError) -> RedisConnection {
        if let existing = connections[address] {
            // Made by another caller and still making its first attempt: wait for it.
            if let first = firstAttempts[address] { _ = await first.value }
            return existing
        }
        let connection = RedisConnection(url: url.node(address), eventLoop: eventLoop, scripts: scripts, logger: logger)
        connections[address] = connection
        let first = Task { () -> RedisError? in
            do throws(RedisError) {
                try await connection.connect()
                return nil
            } catch {
                return error
            }
        }
        firstAttempts[address] = first
        let failure = await first.value
        firstAttempts[address] = nil
        // `run()` starts only after the first attempt, so the two never connect at once.
        reconnecting[address] = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await connection.run() }
                group.addTask {
                    for await isUp in await connection.connectionStates() {
                        await self.note(address, isUp: isUp, of: connection)
                    }
                }
            }
        }
        if let failure { throw failure }
        if connections[address] === connection { setConnected(address, true) }
        publishState()
        return connection
    }

    private func note(_ address: RedisServerAddress, isUp: Bool, of connection: RedisConnection) {
        guard connections[address] === connection else { return }
        setConnected(address, isUp)
        if !isUp { refreshSlotMapSoon() }
        publishState()
    }

    /// Closes every connection.
    public func shutdown() async {
        isShutDown = true
        observers.finishAll()
        refresh?.cancel()
        for task in reconnecting.values { task.cancel() }
        reconnecting = [:]
        for connection in connections.values { await connection.shutdown() }
        connections = [:]
        // The caller stops the event loop next: nothing of ours may still be scheduled on it.
        for task in retiring.values { await task.value }
        retiring = [:]
    }
}
