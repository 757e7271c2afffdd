import ChatProtocol
import Logging
import NIOCore
import NIOPosix
import Redis

/// The bus of a cluster node: presence, history and events in Redis.
///
/// - Nicks are claimed atomically in one hash (`ClusterScripts.claim`), so
///   exactly one node wins a race.
/// - Each chat line is appended to the history and published in one script
///   (`ClusterScripts.appendMessage`), so the history and the event stream
///   share one order: the cluster's total order. Every node delivers lines
///   as the stream brings them, the sender's node included (the sender's
///   copy, with its `ref`, goes out when the line comes back).
/// - A direct line is published only to the inbox of the instance that
///   holds the recipient.
/// - Departures are applied when they come back through the stream too, so
///   a user's `left` follows their last message everywhere.
/// - The node's `ClusterView` is what its clients were told; it is
///   reconciled with Redis after every outage.
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
        case resynchronisationFinished(succeeded: Bool)
        case stop
    }

    let keys: ClusterKeys
    /// Random per process, so a restarted node never mistakes old records for its own.
    let instance: String
    let nodeID: String
    let nodeTTL: Duration
    let commands: RedisConnection
    let subscriber: RedisSubscriber
    /// The one-thread group of `redisLoop`.
    let redisLoops: MultiThreadedEventLoopGroup
    /// The event loop this actor, both Redis connections and the liveness
    /// beacon run on, apart from the loops that serve clients: a reply or a
    /// subscription message reaches the bus with no thread hop, and the
    /// clients' loops never wait behind Redis.
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
    /// This node's chat lines published but not yet back from the stream, by id.
    var linesInFlight: [String: LineInFlight] = [:]

    init(
        configuration: NodeConfiguration,
        commands: RedisConnection,
        subscriber: RedisSubscriber,
        redisLoops: MultiThreadedEventLoopGroup,
        metrics: ChatMetrics,
        logger: Logger
    ) {
        self.redisLoops = redisLoops
        self.redisLoop = commands.eventLoop
        self.keys = ClusterKeys(prefix: configuration.cluster)
        self.instance = String(UInt64.random(in: .min ... .max), radix: 36)
        self.nodeID = configuration.nodeID
        self.nodeTTL = configuration.nodeTTL
        self.commands = commands
        self.subscriber = subscriber
        self.metrics = metrics
        self.logger = logger
        self.inbox = BusInbox(timerLoop: commands.eventLoop)
        self.core = BusCore(
            nodeID: configuration.nodeID,
            history: MessageHistory(retention: configuration.historyRetention, welcomeLength: configuration.historyLength),
            presenceInterval: configuration.presenceInterval,
            metrics: metrics
        )
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        redisLoop.executor.asUnownedSerialExecutor()
    }

    /// Connects to Redis, subscribes, and loads the cluster's users and history.
    /// Fails with one operator-readable sentence when Redis is unreachable.
    static func start(configuration: NodeConfiguration, url: RedisURL, metrics: ChatMetrics, logger: Logger) async throws(NodeStartupError) -> RedisBus {
        let redisLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let redisLoop = redisLoops.next()
        let commands = RedisConnection(url: url, eventLoop: redisLoop, logger: logger)
        let subscriber = RedisSubscriber(url: url, eventLoop: redisLoop, logger: logger)
        do {
            try await commands.connect()
            try await subscriber.connect()
            _ = try await commands.send("PING")
        } catch {
            await shutDown(commands, subscriber, redisLoops)
            throw NodeStartupError(message: "cannot use Redis at \(url): \(error.message)")
        }
        let bus = RedisBus(
            configuration: configuration, commands: commands, subscriber: subscriber, redisLoops: redisLoops, metrics: metrics, logger: logger
        )
        await subscriber.deliverMessages { message in
            bus.assumeIsolated { $0.receive(message) }
        }
        do {
            try await subscriber.subscribe([bus.keys.events, bus.keys.inbox(bus.instance)])
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
        let probe = RedisCommand([
            "EVAL", "return redis.call('HLEN', KEYS[1]) + redis.call('LLEN', KEYS[2])", "2", keys.users, keys.history,
        ])
        // Straight to the connection: these refusals are reported as the start-up error, not logged.
        let replies = try await commands.sendBatch(livenessCommands + [probe])
        for reply in replies {
            if case .error(let text) = reply { throw RedisError(.errorReply, "Redis refused a command the node needs: \(text)") }
        }
    }

    /// Closes the connections of a bus whose start failed.
    private static func shutDown(_ commands: RedisConnection, _ subscriber: RedisSubscriber, _ loops: MultiThreadedEventLoopGroup) async {
        await commands.shutdown()
        await subscriber.shutdown()
        try? await loops.shutdownGracefully()
    }

    var isAvailable: Bool { link.isAvailable }

    func owner(of connectionID: UInt64) -> String { "\(instance)/\(connectionID)" }

    func record(for member: LocalMember) -> PresenceRecord {
        PresenceRecord(nick: member.nick.canonical, instance: instance, node: nodeID, connection: member.connectionID)
    }

    // MARK: ChatBus

    nonisolated func join(_ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<JoinOutcome> {
        redisLoop.flatSubmit { self.assumeIsolated { $0.claim(member, since: since, ref: ref) } }
    }

    /// Claims the nick and announces `joined` in one script, then admits the member.
    private func claim(_ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<JoinOutcome> {
        guard isAvailable else { return redisLoop.makeFailedFuture(failure("not connected to Redis")) }
        let ts = Clock.milliseconds()
        return batchOnLoop([claimCommand(for: member, ts: ts)]).flatMapThrowing { result in
            try self.assumeIsolated { try $0.admitIfClaimed(member, result, ts: ts, since: since, ref: ref) }
        }
    }

    private func admitIfClaimed(
        _ member: LocalMember, _ result: Result<[RedisReply], BusError>, ts: Int64, since: String?, ref: String?
    ) throws(BusError) -> JoinOutcome {
        let replies = try result.get()
        guard let claimed = replies.first?.integer else {
            throw failure("script failed: \(replies.first.map { "\($0)" } ?? "no reply")")
        }
        guard claimed == 1 else { return .nickTaken }
        metrics.busPublishes.increment()
        // The welcome and the start of event delivery happen in this one step
        // on the reply, so no event falls in between. (The `joined` coming back
        // from Redis finds the nick listed already.)
        arrange(core.admit(member, owner: owner(of: member.connectionID), ts: ts, since: since, ref: ref))
        return .joined
    }

    nonisolated func leave(_ member: LocalMember, reason: LeaveReason) {
        inbox.post(.leave(member, reason))
    }

    /// Stops delivering to `member` and releases its nick. Clients are told
    /// when the `left` comes back from Redis, after any line the member sent before leaving.
    func depart(_ member: LocalMember, reason: LeaveReason) async {
        guard core.dismiss(member) else { return }
        let owner = owner(of: member.connectionID)
        let announcement = ClusterEnvelope(
            origin: instance, event: .left(nick: member.nick.canonical, owner: owner, ts: Clock.milliseconds(), reason: reason)
        )
        do {
            try await release(key: member.nick.key.value, record: record(for: member).encoded(), announcing: announcement)
        } catch {
            // Redis is down: the record is removed when the node resynchronises.
            logger.debug("could not release nick; will clean up after reconnecting", metadata: ["nick": "\(member.nick)"])
        }
    }

    nonisolated func broadcast(_ line: ChatLine, from sender: LocalMember, ref: String?, receivedAt: NIODeadline) -> EventLoopFuture<Void> {
        redisLoop.flatSubmit {
            self.assumeIsolated { $0.publish(line, from: sender, ref: ref, receivedAt: receivedAt) }
        }
    }

    /// Appends the line to the history and publishes it in one script. The
    /// line reaches this node's clients, its sender included, when it comes
    /// back through the event stream.
    private func publish(_ line: ChatLine, from sender: LocalMember, ref: String?, receivedAt: NIODeadline) -> EventLoopFuture<Void> {
        guard isAvailable else { return redisLoop.makeFailedFuture(failure("not connected to Redis")) }
        linesInFlight[line.id] = LineInFlight(line: line, sender: sender, ref: ref, receivedAt: receivedAt)
        let envelope = ClusterEnvelope(origin: instance, event: .message(line)).encoded()
        let command = scriptCommand(
            ClusterScripts.appendMessage,
            keys: [keys.history, keys.events],
            arguments: [envelope, Array(String(core.view.history.retention).utf8)]
        )
        let published = redisLoop.makePromise(of: Void.self)
        let id = line.id
        batchOnLoop([command]).whenSuccess { result in
            self.assumeIsolated { bus in published.completeWith(bus.settlePublication(of: id, result)) }
        }
        return published.futureResult
    }

    /// Whether the line with `id` was published; a failure for a line already
    /// given back to its sender (the subscriber dropped meanwhile) is no failure.
    private func settlePublication(of id: String, _ result: Result<[RedisReply], BusError>) -> Result<Void, any Error> {
        let failure: BusError
        switch result {
        case .success(let replies):
            guard case .integer = replies.first else {
                failure = self.failure("the history script was refused: \(replies.first.map { "\($0)" } ?? "no reply")")
                break
            }
            metrics.busPublishes.increment()
            return .success(())
        case .failure(let error):
            failure = error
        }
        guard linesInFlight.removeValue(forKey: id) != nil else { return .success(()) }
        return .failure(failure)
    }

    nonisolated func whisper(_ draft: DirectDraft, to recipientKey: NickKey, from sender: LocalMember, ref: String?) -> EventLoopFuture<WhisperOutcome> {
        redisLoop.flatSubmit { self.assumeIsolated { $0.findRecipient(of: draft, key: recipientKey, from: sender, ref: ref) } }
    }

    /// Looks up who holds the recipient's nick, then routes the line to that holder's instance.
    private func findRecipient(of draft: DirectDraft, key: NickKey, from sender: LocalMember, ref: String?) -> EventLoopFuture<WhisperOutcome> {
        guard isAvailable else { return redisLoop.makeFailedFuture(failure("not connected to Redis")) }
        return batchOnLoop([RedisCommand(["HGET", keys.users, key.value])]).flatMap { result in
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
        guard holder.instance != instance else {
            guard let recipient = core.member(key) else { return redisLoop.makeSucceededFuture(.noSuchUser) }
            if recipient.connectionID == holder.connection, recipient.connectionID != sender.connectionID {
                arrange(core.deliverDirect(line, to: recipient, ref: nil))
            }
            arrange(core.deliverDirect(line, to: sender, ref: ref))
            return redisLoop.makeSucceededFuture(.delivered)
        }
        let envelope = ClusterEnvelope(origin: instance, event: .direct(line, connection: holder.connection))
        let publish = RedisCommand([Array("PUBLISH".utf8), Array(keys.inbox(holder.instance).utf8), envelope.encoded()])
        return batchOnLoop([publish]).flatMapThrowing { result in
            try self.assumeIsolated { bus throws(BusError) in
                let receivers = try result.get()
                bus.metrics.busPublishes.increment()
                // Nobody listens on a dead instance's inbox: its users are about to be reaped.
                guard receivers.first?.integer ?? 0 > 0 else { return .noSuchUser }
                bus.arrange(bus.core.deliverDirect(line, to: sender, ref: ref))
                return .delivered
            }
        }
    }

    nonisolated func users() -> EventLoopFuture<EncodedNickList> {
        redisLoop.submit {
            try self.assumeIsolated { bus throws(BusError) in
                try bus.requireAvailable()
                return bus.core.view.list.encoded
            }
        }
    }

    func drain() async {
        let members = core.dismissAll()
        guard !members.isEmpty else { return }
        var departures: [ClusterEnvelope.Departure] = []
        var arguments: [[UInt8]] = [[]]
        departures.reserveCapacity(members.count)
        arguments.reserveCapacity(1 + 2 * members.count)
        for member in members {
            let owner = owner(of: member.connectionID)
            departures.append(.init(nick: member.nick.canonical, owner: owner))
            arguments.append(Array(member.nick.key.value.utf8))
            arguments.append(record(for: member).encoded())
        }
        let announcement = ClusterEnvelope(origin: instance, event: .leftMany(departures, ts: Clock.milliseconds(), reason: .quit))
        arguments[0] = announcement.encoded()
        do {
            let released = try await run(script: ClusterScripts.releaseMany, keys: [keys.users, keys.events], arguments: arguments)
            logger.info("released this node's users", metadata: ["users": "\(released)"])
        } catch {
            // The other nodes reap them once this instance's liveness key expires.
            logger.warning("could not release this node's users; they will be reaped", metadata: ["error": "\(error.message)"])
        }
    }

    // MARK: Helpers

    /// The script call that claims `member`'s nick and announces its `joined`.
    func claimCommand(for member: LocalMember, ts: Int64) -> RedisCommand {
        let announcement = ClusterEnvelope(
            origin: instance, event: .joined(nick: member.nick.canonical, owner: owner(of: member.connectionID), ts: ts)
        )
        return scriptCommand(
            ClusterScripts.claim,
            keys: [keys.users, keys.events],
            arguments: [Array(member.nick.key.value.utf8), record(for: member).encoded(), announcement.encoded()]
        )
    }

    /// Removes the record under `key` if it is still `record`, announcing `announcement` if so.
    func release(key: String, record: [UInt8], announcing announcement: ClusterEnvelope) async throws(BusError) {
        _ = try await run(
            script: ClusterScripts.release,
            keys: [keys.users, keys.events],
            arguments: [Array(key.utf8), record, announcement.encoded()]
        )
    }

    /// `EVAL` of `script` with `keys` and `arguments`.
    func scriptCommand(_ script: String, keys: [String], arguments: [[UInt8]]) -> RedisCommand {
        RedisCommand([Array("EVAL".utf8), Array(script.utf8), Array(String(keys.count).utf8)] + keys.map { Array($0.utf8) } + arguments)
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
        guard !link.isStopped else { return redisLoop.makeSucceededFuture(.failure(.unavailable("the node is shutting down"))) }
        batchesSent &+= 1
        let started: ContinuousClock.Instant? = batchesSent % 8 == 0 ? .now : nil
        return self.commands.sendBatchFromEventLoop(commands).map { replies in
            .success(self.assumeIsolated { $0.noteReplies(replies, started: started) })
        }.recover { error in
            .failure(self.failure((error as? RedisError)?.message ?? "\(error)"))
        }
    }

    /// Times every eighth batch and reports the commands Redis refused.
    private func noteReplies(_ replies: [RedisReply], started: ContinuousClock.Instant?) -> [RedisReply] {
        if let started { metrics.redisRoundTrip.record(ContinuousClock.now - started) }
        for case .error(let text) in replies {
            metrics.redisRefusedCommands.increment()
            refusals.note(text, logger: logger)
        }
        return replies
    }

    func run(script: String, keys: [String], arguments: [[UInt8]]) async throws(BusError) -> Int64 {
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
