import ChatProtocol
import Redis

extension RedisBus {
    /// Runs the connections, the event stream, liveness and reaping until
    /// `stop()` (then leaves the cluster first) or cancellation.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.commands.run() }
            group.addTask { await self.subscriber.run() }
            group.addTask {
                for await message in self.subscriber.messages {
                    await self.receive(message)
                }
            }
            if let watcher = RedisSentinelWatcher(url: commands.url, eventLoop: redisLoops.next(), logger: logger, onFailover: { master in
                Task { await self.followFailover(to: master) }
            }) {
                group.addTask { await watcher.run() }
            }
            group.addTask {
                for await isUp in await self.commands.connectionStates() {
                    await self.connectionChanged(commands: isUp)
                }
            }
            group.addTask {
                for await isUp in await self.subscriber.connectionStates() {
                    await self.connectionChanged(subscriber: isUp)
                }
            }
            let beacon = LivenessBeacon(
                connection: commands,
                commands: livenessCommands,
                nodeTTL: nodeTTL,
                eventLoop: redisLoops.next(),
                metrics: metrics,
                logger: logger
            ) { [weak self] in
                Task { await self?.registerAgainAfterBeingReaped() }
            }
            beacon.start()
            group.addTask { await self.every(min(self.nodeTTL / 4, .milliseconds(500))) { try await $0.reapDeadInstances() } }
            // Wait here until the node shuts down, then leave the cluster while
            // the connections are still up, and stop everything. (Cancellation
            // ends the wait too, but has already closed the connections.)
            for await _ in stopRequest.stream {}
            beacon.stop()
            await withdraw()
            isStopped = true
            group.cancelAll()
        }
        // Only now that nothing runs on it any more can the Redis event loop stop.
        try? await redisLoops.shutdownGracefully()
    }

    private func every(_ interval: Duration, _ body: @Sendable (isolated RedisBus) async throws -> Void) async {
        while !Task.isCancelled {
            if isAvailable {
                do {
                    try await body(self)
                } catch {
                    logger.debug("cluster maintenance failed", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    private func connectionChanged(commands: Bool? = nil, subscriber: Bool? = nil) {
        let wasAvailable = isAvailable
        if let commands { isCommandConnectionUp = commands }
        if let subscriber {
            isSubscriberUp = subscriber
            if !subscriber { releaseLinesInFlight() }
        }
        metrics.redisCommandsUp.record(isCommandConnectionUp ? 1 : 0)
        metrics.redisSubscriberUp.record(isSubscriberUp ? 1 : 0)
        if wasAvailable && !isAvailable {
            logger.warning("Redis unreachable: refusing chat until it is back")
            isResyncNeeded = true
        }
        if !wasAvailable && isAvailable && isResyncNeeded {
            isResyncNeeded = false
            Task { await self.resynchronize() }
        }
    }

    /// Sentinel moved the master: both connections go to the new one, and
    /// the node resynchronises as after any outage.
    private func followFailover(to master: RedisServerAddress) async {
        guard !isStopped else { return }
        metrics.redisFailovers.increment()
        // A connection that found the new master by itself (the old one died) stays.
        await commands.reconnect(unlessConnectedTo: master)
        await subscriber.reconnect(unlessConnectedTo: master)
    }

    /// The commands that refresh this instance's liveness key; `SADD`
    /// answers 1 when the instance had been reaped as dead.
    var livenessCommands: [RedisCommand] {
        let ttl = max(Int64(nodeTTL.components.seconds * 1000 + nodeTTL.components.attoseconds / 1_000_000_000_000_000), 100)
        return [
            RedisCommand(["SET", keys.alive(instance), nodeID, "PX", String(ttl)]),
            RedisCommand(["SADD", keys.instances, instance]),
        ]
    }

    /// Another node reaped this instance (it looked dead): register its users again.
    func registerAgainAfterBeingReaped() async {
        guard fanout.count > 0 else { return }
        // Right after an outage this is expected (Redis may have restarted empty), not news.
        if !isResyncNeeded && !resynchronization.isRunning {
            logger.warning("this node was presumed dead by the cluster; registering its users again")
        }
        await resynchronize()
    }

    /// Finds instances whose liveness key expired and removes their users.
    func reapDeadInstances() async throws(BusError) {
        guard case .array(let members) = try await batch([RedisCommand(["SMEMBERS", keys.instances])]).first else { return }
        let others = members.compactMap(\.string).filter { $0 != instance }
        guard !others.isEmpty else { return }
        let alive = try await batch(others.map { RedisCommand(["EXISTS", keys.alive($0)]) })
        for (other, exists) in zip(others, alive) where exists.integer == 0 {
            let removed = try await run(
                script: ClusterScripts.reap,
                keys: [keys.users, keys.events, keys.instances],
                arguments: [Array(other.utf8), Array(String(Clock.milliseconds()).utf8)]
            )
            if removed > 0 {
                logger.info("removed the users of a dead node", metadata: ["instance": "\(other)", "users": "\(removed)"])
            }
        }
    }

    /// After an outage: claims this node's users again (Redis may have
    /// restarted empty), removes records of users who left meanwhile, then
    /// reconciles the view once the other nodes had time to do the same.
    ///
    /// One runs at a time. Two at once would share the reconciliation's
    /// buffer of events, and one would lose what arrived during its snapshot.
    /// A request while one runs (the beacon finding this node reaped) makes
    /// it run once more only if its claims had already gone out.
    func resynchronize() async {
        guard !resynchronization.isRunning else {
            if resynchronization.haveClaimsGoneOut { resynchronization.isNeededAgain = true }
            return
        }
        repeat {
            resynchronization = Resynchronization(isRunning: true)
            await resynchronizeOnce()
        } while resynchronization.isNeededAgain && !isStopped
        resynchronization = Resynchronization()
    }

    private func resynchronizeOnce() async {
        metrics.redisResynchronisations.increment()
        do {
            // The reply says whether another node had reaped this one; the claims below cover that either way.
            _ = try await batch(livenessCommands)
            try await catchUp()
            resynchronization.haveClaimsGoneOut = true
            try await reregisterLocalUsers()
            try await removeStaleRecords()
            try? await Task.sleep(for: .milliseconds(1500))
            try await reconcile()
            logger.info("resynchronised with Redis")
        } catch {
            isResyncNeeded = true
            logger.warning("resynchronisation with Redis failed; will retry on reconnection", metadata: ["error": "\(error.message)"])
        }
    }

    /// Claims every local user again in one pipelined batch (not one round
    /// trip per user), then checks in a second batch the nicks that were not
    /// free: ours already, or taken by someone else meanwhile.
    private func reregisterLocalUsers() async throws(BusError) {
        let members = Array(fanout.members)
        guard !members.isEmpty else { return }
        let ts = Clock.milliseconds()
        let claims = try await batch(members.map { claimCommand(for: $0, ts: ts) })
        if let refused = claims.first(where: { $0.integer == nil }) {
            throw failure("claim script failed: \(refused)")
        }
        let contested = zip(members, claims).filter { $0.1.integer != 1 }.map(\.0)
        guard !contested.isEmpty else { return }
        let holders = try await batch(contested.map { RedisCommand(["HGET", keys.users, $0.nick.key.value]) })
        for (member, holder) in zip(contested, holders) {
            if case .bulk(let bytes) = holder, PresenceRecord.decode(bytes) == record(for: member) { continue }
            // Someone else took the nick while this node could not defend it.
            logger.warning("nick taken during the outage; disconnecting its local holder", metadata: ["nick": "\(member.nick)"])
            member.outlet.close(.goingAway, reason: "nick taken during a cluster outage; reconnect")
        }
    }

    private func removeStaleRecords() async throws(BusError) {
        guard case .array(let flat) = try await batch([RedisCommand(["HGETALL", keys.users])]).first else { return }
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            guard case .bulk(let bytes) = flat[index + 1], let record = PresenceRecord.decode(bytes),
                record.instance == instance, let key = flat[index].string
            else { continue }
            if let member = fanout.member(NickKey(storedValue: key)), member.connectionID == record.connection { continue }
            let announcement = ClusterEnvelope(
                origin: instance, event: .left(nick: record.nick, owner: record.owner, ts: Clock.milliseconds(), reason: .quit)
            )
            try await release(key: key, record: bytes, announcing: announcement)
        }
    }

    /// Makes the view equal to Redis's users (and loads the history when the
    /// view has none), telling local clients about every difference.
    func reconcile() async throws(BusError) {
        reconciliationBuffer = []
        defer { reconciliationBuffer = nil }
        let replies = try await batch([
            RedisCommand(["HGETALL", keys.users]),
            RedisCommand(["LRANGE", keys.history, "0", String(view.history.retention - 1)]),
        ])
        // Who is joined according to Redis, by key: nick and holder.
        var target: [NickKey: (nick: Nick, owner: String)] = [:]
        if case .array(let flat) = replies[0] {
            for index in stride(from: 1, to: flat.count, by: 2) {
                if case .bulk(let bytes) = flat[index], let record = PresenceRecord.decode(bytes) {
                    let nick = Nick(trustedCanonical: record.nick)
                    target[nick.key] = (nick, record.owner)
                }
            }
        }
        // Events that arrived while the snapshot was in flight may be newer than it.
        func remove(_ nick: String, owner: String) {
            let key = Nick(trustedCanonical: nick).key
            if target[key]?.owner == owner { target[key] = nil }
        }
        for event in reconciliationBuffer ?? [] {
            switch event {
            case .joined(let nick, let owner, _):
                let nick = Nick(trustedCanonical: nick)
                target[nick.key] = (nick, owner)
            case .left(let nick, let owner, _, _): remove(nick, owner: owner)
            case .leftMany(let departures, _, _):
                for departure in departures { remove(departure.nick, owner: departure.owner) }
            case .message, .direct: break
            }
        }
        let ts = Clock.milliseconds()
        var departed: [Nick] = []
        for (key, entry) in view.users where target[key]?.owner != entry.owner && target[key] == nil {
            if view.remove(key, owner: entry.owner) { departed.append(Nick(trustedCanonical: entry.nick)) }
        }
        var delivered = fanout.announceLeft(departed, ts: ts, reason: .quit)
        for entry in target.values where view.insert(entry.nick, owner: entry.owner) {
            delivered += fanout.announceJoined(entry.nick, ts: ts)
        }
        metrics.eventsDelivered.increment(by: Int64(delivered))
        presenceChanged()
        if view.history.isEmpty, case .array(let stored) = replies[1] {
            view.history.replace(with: stored.reversed().compactMap { reply in
                guard case .bulk(let bytes) = reply else { return nil }
                return ChatLine(storedForm: bytes)
            })
        }
    }

    nonisolated func stop() async {
        stopRequest.continuation.finish()
    }

    /// On shutdown: tells the cluster this instance is gone and closes Redis.
    private func withdraw() async {
        let goodbye = [
            RedisCommand(["DEL", keys.alive(instance)]),
            RedisCommand(["SREM", keys.instances, instance]),
        ]
        let outcome = await awaitShutdownStep(within: .seconds(1)) { () async -> Result<Void, BusError> in
            do throws(BusError) {
                _ = try await self.batch(goodbye)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        // Harmless either way, but worth knowing: the others reap this node once its key expires.
        let reason: String? = switch outcome {
        case .success: nil
        case .failure(let error): error.message
        case nil: "Redis did not answer within 1 s"
        }
        if let reason {
            logger.notice("could not withdraw from Redis; other nodes forget this node after --node-ttl", metadata: ["error": "\(reason)"])
        }
        await commands.shutdown()
        await subscriber.shutdown()
    }
}
