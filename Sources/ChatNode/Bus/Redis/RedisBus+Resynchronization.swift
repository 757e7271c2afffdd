import ChatProtocol
import Redis

extension RedisBus {
    /// At start-up: loads the cluster's users and history into the view.
    func loadClusterState() async throws(BusError) {
        try await reconcile(atStartUp: true)
        _ = link.resynchronisationFinished(succeeded: true)
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

    /// One resynchronisation run, after an outage or a reaping (started and
    /// ordered by `RedisLinkStateMachine`, one at a time): claims this node's
    /// users again (Redis may have restarted empty), delivers the lines it
    /// missed, removes records of users who left meanwhile, then reconciles
    /// the view once the other nodes had time to do the same. Returns
    /// whether it succeeded; a failed run is retried on reconnection.
    func resynchronize() async -> Bool {
        metrics.redisResynchronisations.increment()
        do {
            // The reply says whether another node had reaped this one; the claims below cover that either way.
            _ = try await batch(livenessCommands)
            try await catchUp()
            link.claimsSent()
            try await reregisterLocalUsers()
            try await removeStaleRecords()
            try? await Task.sleep(for: .milliseconds(1500))
            try await reconcile()
            logger.info("resynchronised with Redis")
            return true
        } catch {
            logger.warning("resynchronisation with Redis failed; will retry on reconnection", metadata: ["error": "\(error.message)"])
            return false
        }
    }

    /// Claims every local user again in one pipelined batch (not one round
    /// trip per user), then checks in a second batch the nicks that were not
    /// free: ours already, or taken by someone else meanwhile.
    private func reregisterLocalUsers() async throws(BusError) {
        let members = Array(core.fanout.members)
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
            if let member = core.member(NickKey(storedValue: key)), member.connectionID == record.connection { continue }
            let announcement = ClusterEnvelope(
                origin: instance, event: .left(nick: record.nick, owner: record.owner, ts: Clock.milliseconds(), reason: .quit)
            )
            try await release(key: key, record: bytes, announcing: announcement)
        }
    }

    /// Makes the view equal to Redis's users (and loads the history at
    /// start-up or when the view has none), telling local clients about every difference.
    func reconcile(atStartUp: Bool = false) async throws(BusError) {
        link.beginReconciliation()
        let replies: [RedisReply]
        do {
            replies = try await batch([
                RedisCommand(["HGETALL", keys.users]),
                RedisCommand(["LRANGE", keys.history, "0", String(core.view.history.retention - 1)]),
            ])
        } catch {
            _ = link.endReconciliation()
            throw error
        }
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
        for event in link.endReconciliation() {
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
        arrange(core.reconcile(with: target, ts: Clock.milliseconds()))
        // After an outage the catch-up has already delivered what the view lacked.
        if core.view.history.isEmpty || atStartUp, case .array(let stored) = replies[1] {
            core.loadHistory(stored.reversed().compactMap { reply in
                guard case .bulk(let bytes) = reply else { return nil }
                return ChatLine(storedForm: bytes)
            })
        }
    }
}
