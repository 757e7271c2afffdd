import ChatProtocol
import Logging
import NIOCore
import NIOPosix
import Redis

/// The bus of a cluster node: presence, history and events in Redis.
///
/// - Nicks are claimed atomically in one hash (`ClusterScripts.claim`), so
///   exactly one node wins a race; each room lists its members in a hash
///   of its own (`ClusterScripts.joinRoom`).
/// - Each chat line is appended to its room's history and published in one
///   script (`ClusterScripts.appendMessage`), so the history and the event
///   stream share one order: the room's total order. Every node delivers lines
///   as the stream brings them, the sender's node included (the sender's
///   copy, with its `ref`, goes out when the line comes back).
/// - A direct line is published only to the inbox of the instance that
///   holds the recipient.
/// - Departures are applied when they come back through the stream too, so
///   a user's `left` follows their last message everywhere.
/// - A node holds the rooms its clients are in (and `lobby`): each room's
///   `RoomView` is what its clients were told. It is loaded when the first
///   local member joins and reconciled with Redis after every outage.
actor RedisBus: ChatBus {
    /// What reaches the bus through its inbox.
    enum Input: Sendable {
        case presence(PresenceInput)
        case leave(LocalMember, LeaveReason)
        case connection(RedisLinkStateMachine.Link, isUp: Bool)
        /// The liveness beacon found this instance reaped by another node.
        case reaped
        /// Sentinel named a new master.
        case failover(RedisServerAddress)
        /// On a Redis Cluster: one shard was lost or came back while others served.
        case shard(ShardChange)
        case resynchronisationFinished(succeeded: Bool)
        case stop
    }

    let keys: ClusterKeys
    /// Random per process, so a restarted node never mistakes old records for its own.
    let instance: String
    let nodeID: String
    let nodeTTL: Duration
    /// How long an empty room's keys outlive it, as the room scripts take it:
    /// whole seconds for Redis's `EXPIRE` (PROTOCOL.md §6: a day).
    nonisolated let forgetAfterArgument: [UInt8]
    /// One Redis server's command connection, or a Redis Cluster's (one per master).
    let commands: any RedisCommandTransport
    /// Whether Redis is a Redis Cluster, whose keys live in many hash slots.
    let isCluster: Bool
    /// One subscriber connection, or a Redis Cluster's sharded subscribers (one per master).
    let subscriber: any RedisSubscription
    /// The one-thread group of `redisLoop`, when the bus has a thread of its own.
    let redisLoops: MultiThreadedEventLoopGroup?
    /// The event loop this actor, both Redis connections and the liveness
    /// beacon run on: a reply or a subscription message reaches the bus with
    /// no thread hop. It is a thread of its own, so that the clients' loops
    /// never wait behind Redis, unless the node has a single loop for
    /// everything (`NodeEventLoops.sharedBusLoop`).
    nonisolated let redisLoop: any EventLoop
    let metrics: ChatMetrics
    let logger: Logger
    nonisolated let inbox: BusInbox<Input>
    var core: BusCore
    var link = RedisLinkStateMachine()
    var refusals = RefusalLog()
    /// Senders of lines given back when the subscription was lost, by line id,
    /// until the next catch-up: such a line may still come back.
    var linesReleased: [String: LocalMember] = [:]
    /// Command batches sent so far; every eighth one is timed.
    var batchesSent = 0
    /// Whether a `SCRIPT LOAD` of every script is on its way after a `NOSCRIPT`.
    var isReloadingScripts = false
    /// This node's chat lines published but not yet back from the stream, by id.
    var linesInFlight: [String: LineInFlight] = [:]
    /// Rooms being loaded, with their events that arrived meanwhile.
    var roomLoads: [RoomName: RoomLoad] = [:]
    /// Held rooms whose channel was cut, with their events that arrived since.
    var roomCatchUps: [RoomName: RoomCatchUp] = [:]
    /// Snapshots read to catch rooms up so far (numbers each attempt).
    var snapshotAttempts = 0
    /// How many joins of each room wait for Redis: the room stays held meanwhile.
    var entering: [RoomName: Int] = [:]
    /// The newest change of each room not yet written to the room directory;
    /// written once per tick of the Redis loop (`writeRoomDirectory`).
    var roomDirectoryChanges: [String: RoomChange] = [:]

    init(
        configuration: NodeConfiguration,
        commands: any RedisCommandTransport,
        subscriber: any RedisSubscription,
        redisLoops: MultiThreadedEventLoopGroup?,
        metrics: ChatMetrics,
        logger: Logger
    ) {
        self.redisLoops = redisLoops
        self.redisLoop = commands.eventLoop
        self.keys = ClusterKeys(prefix: configuration.cluster)
        self.instance = String(UInt64.random(in: .min ... .max), radix: 36)
        self.nodeID = configuration.nodeID
        self.nodeTTL = configuration.nodeTTL
        self.forgetAfterArgument = Array(String(max(1, configuration.forgetIdleRoomsAfter.components.seconds)).utf8)
        self.commands = commands
        self.isCluster = commands.url.clusterSeeds != nil
        self.subscriber = subscriber
        self.metrics = metrics
        self.logger = logger
        self.inbox = BusInbox(timerLoop: commands.eventLoop)
        self.core = BusCore(
            nodeID: configuration.nodeID,
            historyRetention: configuration.historyRetention,
            historyLength: configuration.historyLength,
            presenceInterval: configuration.presenceInterval,
            largeRoom: configuration.largeRoom,
            metrics: metrics
        )
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        redisLoop.executor.asUnownedSerialExecutor()
    }

    /// Connects to Redis, subscribes, and loads the cluster's users and history.
    /// Fails with one operator-readable sentence when Redis is unreachable.
    /// The bus runs on `sharedLoop` when given, else on a thread of its own.
    static func start(
        configuration: NodeConfiguration, url: RedisURL, metrics: ChatMetrics, logger: Logger, sharedLoop: (any EventLoop)? = nil
    ) async throws(NodeStartupError) -> RedisBus {
        let redisLoops: MultiThreadedEventLoopGroup?
        let redisLoop: any EventLoop
        if let sharedLoop {
            redisLoops = nil
            redisLoop = sharedLoop
        } else {
            let ownLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            redisLoops = ownLoops
            redisLoop = ownLoops.next()
        }
        let commands: any RedisCommandTransport
        let subscriber: any RedisSubscription
        if url.clusterSeeds == nil {
            commands = RedisConnection(url: url, eventLoop: redisLoop, scripts: ClusterScripts.all, logger: logger)
            subscriber = RedisSubscriber(url: url, eventLoop: redisLoop, logger: logger)
        } else {
            // Room events travel by sharded pub/sub, within the shard of the room's slot.
            let client = RedisClusterClient(url: url, eventLoop: redisLoop, scripts: ClusterScripts.allSharded, logger: logger)
            commands = client
            subscriber = RedisClusterSubscriber(client: client, logger: logger)
        }
        do {
            try await commands.connect()
            try await subscriber.connect()
            _ = try await commands.sendBatch([RedisCommand(["PING"])])
        } catch {
            await shutDown(commands, subscriber, redisLoops)
            let access = error.message.contains("NOPERM") ? "; " + ClusterKeys.accessNeeded(prefix: configuration.cluster) : ""
            throw NodeStartupError(message: "cannot use Redis at \(url): \(error.message)\(access)")
        }
        let bus = RedisBus(
            configuration: configuration, commands: commands, subscriber: subscriber, redisLoops: redisLoops, metrics: metrics, logger: logger
        )
        await subscriber.deliverMessages { message in
            bus.assumeIsolated { $0.receive(message) }
        }
        await subscriber.onChannelChange { change in
            bus.assumeIsolated { $0.channelsChanged(change) }
        }
        do {
            try await subscriber.subscribe([bus.keys.inbox(bus.instance)])
            try await bus.announceAliveCheckingAccess()
        } catch {
            await shutDown(commands, subscriber, redisLoops)
            throw NodeStartupError(message: "cannot use Redis at \(url): \(error.message); \(ClusterKeys.accessNeeded(prefix: bus.keys.prefix))")
        }
        do {
            try await bus.loadClusterState()
        } catch {
            await shutDown(commands, subscriber, redisLoops)
            throw NodeStartupError(message: "cannot load cluster state from Redis at \(url): \(error.message)")
        }
        return bus
    }

    /// Announces this new instance alive and checks, before the node takes
    /// any user, that Redis lets it use the cluster's keys and run its
    /// scripts: an ACL user without them would otherwise see every `hello`
    /// answered `unavailable`.
    func announceAliveCheckingAccess() async throws(RedisError) {
        let probe = RedisCommand(["EVAL", "return redis.call('LLEN', KEYS[1])", "1", keys.history(.lobby)])
        // Straight to the connection: these refusals are reported as the start-up error, not logged.
        let replies = try await commands.sendBatch(livenessCommands + [probe])
        for reply in replies {
            if case .error(let text) = reply { throw RedisError(.errorReply, "Redis refused a command the node needs: \(text)") }
        }
    }

    /// Closes the connections of a bus whose start failed.
    private static func shutDown(_ commands: any RedisCommandTransport, _ subscriber: any RedisSubscription, _ loops: MultiThreadedEventLoopGroup?) async {
        await commands.shutdown()
        await subscriber.shutdown()
        try? await loops?.shutdownGracefully()
    }

    var isAvailable: Bool { link.isAvailable }

    /// The owner events and views name for `member`: its connection, or
    /// for a logged-in user (§7) the user, whichever connection comes and goes.
    func owner(of member: LocalMember) -> String { record(for: member).owner }

    func record(for member: LocalMember) -> PresenceRecord {
        PresenceRecord(
            nick: member.nick.canonical, instance: instance, node: nodeID, connection: member.connectionID, subject: member.identity?.subject
        )
    }

    // MARK: ChatBus

    nonisolated func join(_ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<JoinOutcome> {
        redisLoop.flatSubmit { self.assumeIsolated { $0.claim(member, since: since, ref: ref) } }
    }

    /// Claims the nick (v1, v2: and lists it in `lobby`, announcing
    /// `joined`, in one script), then admits the member.
    private func claim(_ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<JoinOutcome> {
        guard isAvailable else { return redisLoop.makeFailedFuture(failure("not connected to Redis")) }
        guard member.nick.key != .server else { return redisLoop.makeSucceededFuture(.nickTaken) }
        guard member.kind.version < .v3 else {
            return batchOnLoop([claimCommand(for: member), noteNicksCommand([member])]).flatMapThrowing { result in
                try self.assumeIsolated { try $0.admitIfClaimed(member, result, ts: 0, since: since, ref: ref) }
            }
        }
        return holding(.lobby) { bus in
            let ts = Clock.milliseconds()
            guard bus.isCluster else {
                let commands = [bus.claimIntoLobbyCommand(for: member, ts: ts), bus.noteNicksCommand([member]), bus.noteRoomsCommand([.lobby])]
                return bus.batchOnLoop(commands).flatMapThrowing { result in
                    try self.assumeIsolated { try $0.admitIfClaimed(member, result, ts: ts, since: since, ref: ref) }
                }
            }
            // The nick and `lobby` live in two slots of a cluster: claim, then list.
            return bus.batchOnLoop([bus.claimCommand(for: member), bus.noteNicksCommand([member])]).flatMap { claimed in
                self.assumeIsolated { bus in bus.listInLobby(member, ifClaimed: claimed, ts: ts, since: since, ref: ref) }
            }
        }
    }

    /// The second step of a v1/v2 `hello` on a Redis Cluster: lists a member
    /// whose nick was claimed in `lobby`, releasing the nick if that fails.
    private func listInLobby(
        _ member: LocalMember, ifClaimed claimed: Result<[RedisReply], BusError>, ts: Int64, since: String?, ref: String?
    ) -> EventLoopFuture<JoinOutcome> {
        guard case .success(let replies) = claimed, replies.first?.integer == 1 else {
            return redisLoop.submit { try self.assumeIsolated { try $0.admitIfClaimed(member, claimed, ts: ts, since: since, ref: ref) } }
        }
        let listing = [joinRoomCommand(.lobby, member: member, ts: ts), noteRoomsCommand([.lobby])]
        return batchOnLoop(listing).flatMapThrowing { listed in
            try self.assumeIsolated { bus throws(BusError) in
                guard case .success(let replies) = listed, RoomChange(reply: replies.first) != nil else {
                    bus.batchOnLoop([bus.releaseCommand(for: member), bus.forgetNicksCommand([member.nick.key.value])]).whenComplete { _ in }
                    throw bus.failure("could not list \(member.nick) in lobby: \(listed)")
                }
                return try bus.admitIfClaimed(member, listed, ts: ts, since: since, ref: ref)
            }
        }
    }

    private func admitIfClaimed(
        _ member: LocalMember, _ result: Result<[RedisReply], BusError>, ts: Int64, since: String?, ref: String?
    ) throws(BusError) -> JoinOutcome {
        let replies = try result.get()
        // `claim` answers 1 or 0; `claimIntoLobby` 0 or lobby's room change.
        guard replies.first?.integer != nil || RoomChange(reply: replies.first) != nil else {
            throw failure("script failed: \(replies.first.map { "\($0)" } ?? "no reply")")
        }
        guard replies.first?.integer != 0 else {
            // The claim noted the nick as this instance's; it is not, unless another local connection holds it.
            if core.member(member.nick.key) == nil {
                batchOnLoop([forgetNicksCommand([member.nick.key.value])]).whenComplete { _ in }
            }
            return .nickTaken
        }
        metrics.busPublishes.increment()
        if member.kind.version == .v3 {
            core.admit(member, ref: ref)
        } else {
            // The welcome and the start of event delivery happen in this one step
            // on the reply, so no event falls in between. (The `joined` coming back
            // from Redis finds the nick listed already.)
            arrange(core.admitToLobby(member, owner: owner(of: member), ts: ts, since: since, ref: ref))
        }
        return .joined
    }

    nonisolated func leave(_ member: LocalMember, reason: LeaveReason) {
        inbox.post(.leave(member, reason))
    }

    /// Stops delivering to `member`, then unlists it from its rooms and
    /// releases its nick. The rooms' members are told when each `left`
    /// comes back from Redis, after any line the member sent before leaving.
    func depart(_ member: LocalMember, reason: LeaveReason) async {
        guard let rooms = core.dismiss(member) else { return }
        let ts = Clock.milliseconds()
        var commands = rooms.map { leaveRoomCommand($0, member: member, ts: ts, reason: reason) }
        commands.append(releaseCommand(for: member))
        // Another connection of a logged-in user here still holds the nick.
        if core.member(member.nick.key) == nil { commands.append(forgetNicksCommand([member.nick.key.value])) }
        for room in rooms { closeIfUnused(room) }
        do {
            _ = try await batch(commands)
        } catch {
            // Redis is down: the records are removed when the node resynchronises.
            logger.debug("could not release nick; will clean up after reconnecting", metadata: ["nick": "\(member.nick)"])
        }
    }

    nonisolated func enter(_ room: RoomName, _ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<RoomOutcome> {
        redisLoop.flatSubmit { self.assumeIsolated { $0.enterRoom(room, member, since: since, ref: ref) } }
    }

    /// Holds the room (loading it first if this node did not), lists the
    /// member in it, then admits it with its `room` event.
    private func enterRoom(_ room: RoomName, _ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<RoomOutcome> {
        guard isAvailable else { return redisLoop.makeFailedFuture(failure("not connected to Redis")) }
        return holding(room) { bus in
            let ts = Clock.milliseconds()
            return bus.batchOnLoop([bus.joinRoomCommand(room, member: member, ts: ts), bus.noteRoomsCommand([room])]).flatMapThrowing { result in
                try self.assumeIsolated { try $0.admitIfListed(member, in: room, result, ts: ts, since: since, ref: ref) }
            }
        }
    }

    /// Runs `body` once this node holds `room` (loading it first if need
    /// be), and keeps holding it until `body`'s future completes: a member
    /// being admitted keeps the room from being dropped meanwhile.
    private func holding<Value: Sendable>(
        _ room: RoomName, _ body: @escaping @Sendable (isolated RedisBus) -> EventLoopFuture<Value>
    ) -> EventLoopFuture<Value> {
        entering[room, default: 0] += 1
        let done = load(room).flatMap { self.assumeIsolated { body($0) } }
        done.whenComplete { _ in
            self.assumeIsolated { bus in
                bus.entering[room]! -= 1
                if bus.entering[room] == 0 { bus.entering[room] = nil }
                bus.closeIfUnused(room)
            }
        }
        return done
    }

    private func admitIfListed(
        _ member: LocalMember, in room: RoomName, _ result: Result<[RedisReply], BusError>, ts: Int64, since: String?, ref: String?
    ) throws(BusError) -> RoomOutcome {
        let replies = try result.get()
        guard RoomChange(reply: replies.first) != nil else {
            throw failure("script failed: \(replies.first.map { "\($0)" } ?? "no reply")")
        }
        metrics.busPublishes.increment()
        guard core.isConnected(member) else {
            // The connection ended while the room was being joined: its departure did not know this room.
            let command = leaveRoomCommand(room, member: member, ts: ts, reason: .quit)
            batchOnLoop([command]).whenComplete { _ in }
            return .done
        }
        arrange(core.admit(member, to: room, owner: owner(of: member), ts: ts, since: since, ref: ref))
        return .done
    }

    nonisolated func part(_ room: RoomName, _ member: LocalMember) -> EventLoopFuture<RoomOutcome> {
        redisLoop.flatSubmit {
            self.assumeIsolated { bus in
                guard bus.isAvailable else { return bus.redisLoop.makeFailedFuture(bus.failure("not connected to Redis")) }
                guard bus.core.dismiss(member, from: room) else { return bus.redisLoop.makeSucceededFuture(.notInRoom) }
                let command = bus.leaveRoomCommand(room, member: member, ts: Clock.milliseconds(), reason: .part)
                bus.closeIfUnused(room)
                // Should Redis fail now, the record is removed when the node resynchronises.
                return bus.batchOnLoop([command]).map { _ in .done }
            }
        }
    }

    nonisolated func broadcast(_ line: ChatLine, from sender: LocalMember, ref: String?, receivedAt: NIODeadline) -> EventLoopFuture<RoomOutcome> {
        // One promise per line, completed where the outcome is known: a line is the hottest path there is.
        let outcome = redisLoop.makePromise(of: RoomOutcome.self)
        redisLoop.execute {
            self.assumeIsolated { $0.publish(line, from: sender, ref: ref, receivedAt: receivedAt, outcome: outcome) }
        }
        return outcome.futureResult
    }

    /// Appends the line to its room's history and publishes it in one
    /// script. The line reaches this node's clients, its sender included,
    /// when it comes back through the event stream.
    private func publish(
        _ line: ChatLine, from sender: LocalMember, ref: String?, receivedAt: NIODeadline, outcome: EventLoopPromise<RoomOutcome>
    ) {
        guard isAvailable else { return outcome.fail(failure("not connected to Redis")) }
        guard core.isMember(sender, of: line.room) else { return outcome.succeed(.notInRoom) }
        linesInFlight[line.id] = LineInFlight(line: line, sender: sender, ref: ref, receivedAt: receivedAt)
        let envelope = ClusterEnvelope(origin: instance, event: .message(line)).encoded()
        let command = scriptCommand(
            ClusterScripts.appendMessage,
            keys: [keys.history(line.room), keys.channel(line.room), keys.sequence(line.room)],
            arguments: [envelope, Array(String(core.historyRetention).utf8)]
        )
        let id = line.id
        batchOnLoop([command]) { bus, result in
            outcome.completeWith(bus.settlePublication(of: id, result).map { .done })
        }
    }

    /// Whether the line with `id` was published. A stored line waits for its
    /// echo (after a cut channel, from its room's catch-up), unless the link
    /// is down (the echo may never come): then its sender gets its copy now.
    /// A refused or lost line is the sender's `unavailable`.
    private func settlePublication(of id: String, _ result: Result<[RedisReply], BusError>) -> Result<Void, any Error> {
        let failure: BusError
        switch result {
        case .success(let replies):
            guard case .integer = replies.first else {
                failure = self.failure("the history script was refused: \(replies.first.map { "\($0)" } ?? "no reply")")
                break
            }
            metrics.busPublishes.increment()
            if isAvailable {
                linesInFlight[id]?.isStored = true
            } else {
                releaseLine(id)
            }
            return .success(())
        case .failure(let error):
            failure = error
        }
        // The echo of a line whose script was lost with the connection may still come (Redis ran it): then
        // it reaches everyone, its sender included, and the sender was told `unavailable` besides.
        linesInFlight[id] = nil
        return .failure(failure)
    }

    nonisolated func whisper(_ draft: DirectDraft, to recipientKey: NickKey, from sender: LocalMember, ref: String?) -> EventLoopFuture<WhisperOutcome> {
        redisLoop.flatSubmit { self.assumeIsolated { $0.findRecipient(of: draft, key: recipientKey, from: sender, ref: ref) } }
    }

    /// Looks up who holds the recipient's nick, then routes the line to that holder's instance.
    private func findRecipient(of draft: DirectDraft, key: NickKey, from sender: LocalMember, ref: String?) -> EventLoopFuture<WhisperOutcome> {
        guard isAvailable else { return redisLoop.makeFailedFuture(failure("not connected to Redis")) }
        return batchOnLoop([RedisCommand(["GET", keys.nick(key)])]).flatMap { result in
            self.assumeIsolated { $0.route(draft, key: key, holder: result, from: sender, ref: ref) }
        }
    }

    /// Delivers a direct line here when this instance holds the recipient,
    /// else publishes it to the inbox of the instance that does (never to every node).
    private func route(
        _ draft: DirectDraft, key: NickKey, holder result: Result<[RedisReply], BusError>, from sender: LocalMember, ref: String?
    ) -> EventLoopFuture<WhisperOutcome> {
        let replies: [RedisReply]
        switch result {
        case .success(let value): replies = value
        case .failure(let error): return redisLoop.makeFailedFuture(error)
        }
        guard case .bulk(let bytes) = replies.first, let holder = PresenceRecord.decode(bytes) else {
            return redisLoop.makeSucceededFuture(.noSuchUser)
        }
        let line = draft.line(to: holder.nick)
        // Every connection holding the nick (§7: a logged-in user may have several, on several nodes).
        var localRecipients: [LocalMember] = []
        var publishes: [RedisCommand] = []
        for (holderInstance, connection) in holder.holders {
            if holderInstance == instance {
                localRecipients += core.members(key).filter { $0.connectionID == connection }
            } else {
                publishes.append(inboxCommand(.direct(line, connection: connection), to: holderInstance))
            }
        }
        for recipient in localRecipients where recipient.connectionID != sender.connectionID {
            arrange(core.deliverDirect(line, to: recipient, ref: nil))
        }
        guard !publishes.isEmpty else {
            guard !localRecipients.isEmpty else { return redisLoop.makeSucceededFuture(.noSuchUser) }
            arrange(core.deliverDirect(line, to: sender, ref: ref))
            return redisLoop.makeSucceededFuture(.delivered)
        }
        let (publishCount, localCount) = (publishes.count, localRecipients.count)
        return batchOnLoop(publishes).flatMapThrowing { result in
            try self.assumeIsolated { bus throws(BusError) in
                let receivers = try result.get()
                bus.metrics.busPublishes.increment(by: Int64(publishCount))
                // Nobody listens on a dead instance's inbox: its users are about to be reaped.
                guard localCount + receivers.filter({ $0.integer ?? 0 > 0 }).count > 0 else { return .noSuchUser }
                bus.arrange(bus.core.deliverDirect(line, to: sender, ref: ref))
                return .delivered
            }
        }
    }

    nonisolated func members(of room: RoomName, for member: LocalMember, page: MemberQuery?) -> EventLoopFuture<MembersOutcome> {
        redisLoop.submit {
            try self.assumeIsolated { bus throws(BusError) in
                try bus.requireAvailable()
                return bus.core.members(of: room, for: member, page: page)
            }
        }
    }

    nonisolated func roomList() -> EventLoopFuture<[RoomCount]> {
        redisLoop.flatSubmit {
            self.assumeIsolated { bus in
                guard bus.isAvailable else { return bus.redisLoop.makeFailedFuture(bus.failure("not connected to Redis")) }
                // Twice the list, so that ties at its end are still ordered by name;
                // and lobby's count, which the list always shows.
                let commands = [
                    RedisCommand(["ZREVRANGE", bus.keys.rooms, "0", String(2 * RoomCount.listLength - 1), "WITHSCORES"]),
                    RedisCommand(["ZSCORE", bus.keys.rooms, RoomName.lobby.value]),
                ]
                return bus.batchOnLoop(commands).flatMapThrowing { result in
                    let replies = try result.get()
                    var counts = RedisBus.roomCounts(in: replies.first)
                    if replies.count > 1, let lobby = replies[1].string.flatMap(Double.init) {
                        counts.append(RoomCount(room: .lobby, count: Int(lobby)))
                    }
                    return RoomCount.busiest(counts)
                }
            }
        }
    }

    func drain() async {
        let users = core.dismissAll()
        guard !users.isEmpty else { return }
        let ts = Clock.milliseconds()
        var byRoom: [RoomName: [LocalMember]] = [:]
        for user in users {
            for room in user.rooms { byRoom[room, default: []].append(user.member) }
        }
        var commands: [RedisCommand] = byRoom.map { room, members in
            // The script announces, in one `left_many`, the users with no connection left in the room.
            var arguments = [
                Array(instance.utf8), Array(room.value.utf8), forgetAfterArgument, Array(String(ts).utf8),
                Array(LeaveReason.quit.rawValue.utf8),
            ]
            for member in members { arguments.append(contentsOf: memberArguments(for: member)) }
            return scriptCommand(ClusterScripts.leaveRoomMany, keys: keys.roomScriptKeys(room), arguments: arguments)
        }
        commands += users.map { releaseCommand(for: $0.member) }
        commands.append(RedisCommand(["DEL", keys.nicks(of: instance)]))
        do {
            let replies = try await batch(commands)
            let released = replies.dropLast().suffix(users.count).filter { $0.integer == 1 }.count
            logger.info("released this node's users", metadata: ["users": "\(released)"])
        } catch {
            // The other nodes reap them once this instance's liveness key expires.
            logger.warning("could not release this node's users; they will be reaped", metadata: ["error": "\(error.message)"])
        }
    }

    // MARK: Rooms held

    /// Starts holding `room` unless this node does: subscribes to its
    /// channel, then loads its members and history at one point of its
    /// sequence. The room's events that arrive meanwhile wait; those the
    /// snapshot does not show yet (numbered after it) are applied on top.
    func load(_ room: RoomName) -> EventLoopFuture<Void> {
        if core.holds(room) { return redisLoop.makeSucceededVoidFuture() }
        if let loading = roomLoads[room] { return loading.loaded.futureResult }
        let loaded = redisLoop.makePromise(of: Void.self)
        roomLoads[room] = RoomLoad(loaded: loaded)
        let snapshot = scriptCommand(
            ClusterScripts.roomSnapshot,
            keys: keys.roomSnapshotKeys(room),
            arguments: [Array(String(core.historyRetention).utf8)]
        )
        subscriber.subscribeFromEventLoop([keys.channel(room)]).flatMap {
            self.assumeIsolated { $0.batchOnLoop([snapshot]) }
        }.whenComplete { result in
            self.assumeIsolated { bus in
                switch result {
                case .success(let replies): bus.finishLoading(room, replies)
                case .failure(let error): bus.finishLoading(room, .failure(bus.failure("\(error)")))
                }
            }
        }
        return loaded.futureResult
    }

    private func finishLoading(_ room: RoomName, _ result: Result<[RedisReply], BusError>) {
        guard let loading = roomLoads.removeValue(forKey: room) else { return }
        guard case .success(let replies) = result, let snapshot = StoredRoomSnapshot(replies.first) else {
            let error: BusError
            if case .failure(let failure) = result { error = failure } else { error = failure("the room snapshot was refused: \(result)") }
            // No resumption will be reported for a channel given up: its events must not wait for one.
            roomCatchUps[room] = nil
            subscriber.unsubscribeFromEventLoop([keys.channel(room)])
            loading.loaded.fail(error)
            return
        }
        arrange(core.reconcile(room, with: Self.members(in: snapshot.members), ts: Clock.milliseconds()))
        core.loadHistory(Self.lines(in: snapshot.history), of: room)
        for (event, sequence) in loading.held where sequence.map({ $0 > snapshot.sequence }) ?? true {
            apply(event)
        }
        loading.loaded.succeed(())
    }

    /// Stops holding `room`, and receiving its events, once no local member, join or load needs it.
    func closeIfUnused(_ room: RoomName) {
        guard core.holds(room), core.localMemberCount(of: room) == 0, entering[room] == nil, roomLoads[room] == nil else { return }
        core.close(room)
        roomCatchUps[room] = nil
        subscriber.unsubscribeFromEventLoop([keys.channel(room)])
    }

    /// Members as a room's members hash lists them: key → nick and holder.
    static func members(in reply: RedisReply) -> [NickKey: (nick: Nick, owner: String)] {
        var members: [NickKey: (nick: Nick, owner: String)] = [:]
        guard case .array(let flat) = reply else { return members }
        for index in stride(from: 1, to: flat.count, by: 2) {
            if case .bulk(let bytes) = flat[index], let record = PresenceRecord.decode(bytes) {
                let nick = Nick(trustedCanonical: record.nick)
                members[nick.key] = (nick, record.owner)
            }
        }
        return members
    }

    /// Rooms and counts as the room directory lists them (`ZREVRANGE … WITHSCORES`).
    static func roomCounts(in reply: RedisReply?) -> [RoomCount] {
        guard case .array(let flat) = reply else { return [] }
        var counts: [RoomCount] = []
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            guard let name = flat[index].string, let count = flat[index + 1].string.flatMap({ Double($0) }) else { continue }
            counts.append(RoomCount(room: RoomName(trusted: name), count: Int(count)))
        }
        return counts
    }

    /// The command that hands `event` to the inbox of `instance` (one node, never every node).
    func inboxCommand(_ event: ClusterEnvelope.Event, to instance: String) -> RedisCommand {
        let envelope = ClusterEnvelope(origin: self.instance, event: event)
        return RedisCommand([Array((isCluster ? "SPUBLISH" : "PUBLISH").utf8), Array(keys.inbox(instance).utf8), envelope.encoded()])
    }

    /// Lines as a history list holds them, oldest first.
    static func lines(in reply: RedisReply) -> [ChatLine] {
        guard case .array(let stored) = reply else { return [] }
        return stored.reversed().compactMap { reply in
            guard case .bulk(let bytes) = reply else { return nil }
            return ChatLine(storedForm: bytes)
        }
    }

    // MARK: Helpers

    /// The script call that claims `member`'s nick, into no room (v3).
    func claimCommand(for member: LocalMember) -> RedisCommand {
        scriptCommand(ClusterScripts.claim, keys: [keys.nick(member.nick.key)], arguments: [record(for: member).encoded()])
    }

    /// The script call that releases `member`'s nick if `member` still holds it.
    func releaseCommand(for member: LocalMember) -> RedisCommand {
        scriptCommand(ClusterScripts.release, keys: [keys.nick(member.nick.key)], arguments: [record(for: member).encoded()])
    }

    /// Adds nicks to this instance's set of claimed nicks, which the reaper
    /// and this node's own clean-up read (sent with each claim: a claim
    /// that fails takes its nick out again).
    func noteNicksCommand(_ members: [LocalMember]) -> RedisCommand {
        RedisCommand(["SADD", keys.nicks(of: instance)] + members.map(\.nick.key.value))
    }

    /// Adds rooms to this instance's set of rooms its users joined, which the reaper reads.
    func noteRoomsCommand(_ rooms: [RoomName]) -> RedisCommand {
        RedisCommand(["SADD", keys.rooms(of: instance)] + rooms.map(\.value))
    }

    /// Takes nick keys out of this instance's set of claimed nicks.
    func forgetNicksCommand(_ nickKeys: [String]) -> RedisCommand {
        RedisCommand(["SREM", keys.nicks(of: instance)] + nickKeys)
    }

    /// The script call that claims `member`'s nick and lists it in `lobby` (v1, v2).
    func claimIntoLobbyCommand(for member: LocalMember, ts: Int64) -> RedisCommand {
        scriptCommand(
            ClusterScripts.claimIntoLobby,
            keys: [keys.nick(member.nick.key)] + keys.roomScriptKeys(.lobby),
            arguments: joinRoomArguments(.lobby, member: member, ts: ts)
        )
    }

    /// The script call that lists `member` in `room` and announces its `joined`.
    func joinRoomCommand(_ room: RoomName, member: LocalMember, ts: Int64) -> RedisCommand {
        scriptCommand(ClusterScripts.joinRoom, keys: keys.roomScriptKeys(room), arguments: joinRoomArguments(room, member: member, ts: ts))
    }

    private func joinRoomArguments(_ room: RoomName, member: LocalMember, ts: Int64) -> [[UInt8]] {
        let announcement = ClusterEnvelope(
            origin: instance, event: .joined(nick: member.nick.canonical, owner: owner(of: member), ts: ts, room: room)
        )
        return [Array(member.nick.key.value.utf8), record(for: member).encoded(), announcement.encoded(), Array(room.value.utf8)]
    }

    /// The script call that unlists `member` from `room` if it is still listed, announcing its `left`.
    func leaveRoomCommand(_ room: RoomName, member: LocalMember, ts: Int64, reason: LeaveReason) -> RedisCommand {
        let record = record(for: member)
        let announcement = ClusterEnvelope(
            origin: instance, event: .left(nick: record.nick, owner: record.owner, ts: ts, reason: reason, room: room)
        )
        return leaveRoomCommand(room, key: member.nick.key.value, record: record.encoded(), announcing: announcement)
    }

    /// The script call that unlists the holder `record` of `key` from `room`, announcing `announcement`.
    func leaveRoomCommand(_ room: RoomName, key: String, record: [UInt8], announcing announcement: ClusterEnvelope) -> RedisCommand {
        scriptCommand(
            ClusterScripts.leaveRoom,
            keys: keys.roomScriptKeys(room),
            arguments: [Array(key.utf8), record, announcement.encoded(), Array(room.value.utf8), forgetAfterArgument]
        )
    }

    /// The nick key and record that `ClusterScripts.leaveRoomMany` takes for `member`.
    func memberArguments(for member: LocalMember) -> [[UInt8]] {
        [Array(member.nick.key.value.utf8), record(for: member).encoded()]
    }

    /// `EVALSHA` of one of `ClusterScripts`, which the command connection loads whenever it connects.
    func scriptCommand(_ script: RedisScript, keys: [String], arguments: [[UInt8]]) -> RedisCommand {
        let script = isCluster ? ClusterScripts.sharded(script) : script
        return script.command(keys: keys.map { Array($0.utf8) }, arguments: arguments)
    }

    func requireAvailable() throws(BusError) {
        guard isAvailable else { throw failure("not connected to Redis") }
    }

    nonisolated func failure(_ message: String) -> BusError {
        metrics.busFailures.increment()
        return .unavailable(message)
    }

    /// Sends `commands` in one flush and returns their replies; error replies
    /// are counted and logged (`RefusalLog`), a lost connection is thrown.
    func batch(_ commands: [RedisCommand]) async throws(BusError) -> [RedisReply] {
        let result: Result<[RedisReply], BusError>
        do {
            result = try await batchOnLoop(commands).get()
        } catch {
            throw failure("\(error)")
        }
        return try result.get()
    }

    /// `batch` for a caller on the bus's loop that must not await: the
    /// commands are written at once and the future, which never fails,
    /// completes on this loop.
    func batchOnLoop(_ commands: [RedisCommand]) -> EventLoopFuture<Result<[RedisReply], BusError>> {
        let answered = redisLoop.makePromise(of: Result<[RedisReply], BusError>.self)
        batchOnLoop(commands) { _, result in answered.succeed(result) }
        return answered.futureResult
    }

    /// `batchOnLoop` for the hottest callers: `body` runs on this loop with
    /// the bus and the outcome, with no future in between.
    func batchOnLoop(_ commands: [RedisCommand], then body: @escaping @Sendable (isolated RedisBus, Result<[RedisReply], BusError>) -> Void) {
        guard !link.isStopped else { return body(self, .failure(.unavailable("the node is shutting down"))) }
        batchesSent &+= 1
        let started: ContinuousClock.Instant? = batchesSent % 8 == 0 ? .now : nil
        self.commands.sendBatchFromEventLoop(commands).whenComplete { result in
            self.assumeIsolated { bus in
                switch result {
                case .success(let replies): body(bus, .success(bus.noteReplies(replies, started: started)))
                case .failure(let error): body(bus, .failure(bus.failure((error as? RedisError)?.message ?? "\(error)")))
                }
            }
        }
    }

    /// Times every eighth batch, reports the commands Redis refused, and
    /// writes each room change the replies report to the room directory.
    private func noteReplies(_ replies: [RedisReply], started: ContinuousClock.Instant?) -> [RedisReply] {
        if let started { metrics.redisRoundTrip.record(ContinuousClock.now - started) }
        for reply in replies {
            if case .error(let text) = reply {
                metrics.redisRefusedCommands.increment()
                refusals.note(text, logger: logger)
                if text.hasPrefix("NOSCRIPT") { reloadScripts() }
            } else if let change = RoomChange(reply: reply), change.changed > 0 {
                noteRoomDirectoryChange(change)
            }
        }
        return replies
    }

    /// Keeps `change` for the room directory unless a newer one of its room
    /// waits already: the directory keeps only a room's latest count, so a
    /// storm of joins into one room costs one write per tick, not one per join.
    private func noteRoomDirectoryChange(_ change: RoomChange) {
        if let waiting = roomDirectoryChanges[change.room], waiting.sequence >= change.sequence { return }
        if roomDirectoryChanges.isEmpty {
            redisLoop.execute { self.assumeIsolated { $0.writeRoomDirectory() } }
        }
        roomDirectoryChanges[change.room] = change
    }

    /// Writes the waiting room directory changes in one batch.
    private func writeRoomDirectory() {
        let directory = roomDirectoryChanges.values.map { change in
            scriptCommand(
                ClusterScripts.roomCount, keys: [keys.rooms, keys.directorySequence(RoomName(trusted: change.room))],
                arguments: [
                    Array(change.room.utf8), Array(String(change.count).utf8), Array(String(change.sequence).utf8),
                    forgetAfterArgument,
                ]
            )
        }
        roomDirectoryChanges.removeAll()
        // Not awaited: a lost write is corrected by the room's next change.
        if !directory.isEmpty { commands.sendBatchFromEventLoop(directory).whenComplete { _ in } }
    }

    /// Loads the scripts again after Redis answered `NOSCRIPT` (someone ran
    /// `SCRIPT FLUSH`): the commands refused meanwhile failed with an error
    /// their clients see; the next ones find their scripts.
    private func reloadScripts() {
        guard !isReloadingScripts else { return }
        isReloadingScripts = true
        logger.warning("Redis lost the node's scripts (SCRIPT FLUSH?); loading them again")
        commands.sendBatchFromEventLoop((isCluster ? ClusterScripts.allSharded : ClusterScripts.all).map(\.loadCommand)).whenComplete { _ in
            self.assumeIsolated { $0.isReloadingScripts = false }
        }
    }

    func run(script: RedisScript, keys: [String], arguments: [[UInt8]]) async throws(BusError) -> Int64 {
        let replies = try await batch([scriptCommand(script, keys: keys, arguments: arguments)])
        guard let value = replies.first?.integer else {
            throw failure("script failed: \(replies.first.map { "\($0)" } ?? "no reply")")
        }
        return value
    }
}

/// Commands Redis refused (out of memory, an ACL changed under the node…):
/// each surfaces to users as `unavailable`, so the operator must see them,
/// but a refusing Redis must not flood the log. Logs the first at once,
/// then at most one line every 10 s with the count since.
struct RefusalLog {
    private var lastLogged: ContinuousClock.Instant?
    private var unlogged = 0

    mutating func note(_ text: String, logger: Logger) {
        let now = ContinuousClock.now
        if let lastLogged, now - lastLogged < .seconds(10) {
            unlogged += 1
            return
        }
        logger.error("Redis refused a command", metadata: ["reply": "\(text)", "refused_since_last_line": "\(unlogged)"])
        lastLogged = now
        unlogged = 0
    }
}
