import ChatProtocol
import Redis

extension RedisBus {
    /// At start-up: a cluster whose history predates rooms keeps it as
    /// `lobby`'s. (Rooms are loaded when a first local member joins.)
    func loadClusterState() async throws(BusError) {
        // A Redis Cluster never held a cluster from before rooms (and the two keys are in two slots).
        if !isCluster {
            _ = try await run(
                script: ClusterScripts.adoptHistoryBeforeRooms,
                keys: [keys.historyBeforeRooms, keys.history(.lobby)],
                arguments: []
            )
        }
        try await reconcile(atStartUp: true)
        _ = link.resynchronisationFinished(succeeded: true)
    }

    /// Finds instances whose liveness key expired and removes their users
    /// from their rooms (one pass per room) and their nicks: work in
    /// proportion to the dead instance's rooms and users, read from its own sets.
    func reapDeadInstances() async throws(BusError) {
        guard case .array(let members) = try await batch([RedisCommand(["SMEMBERS", keys.instances])]).first else { return }
        let others = members.compactMap(\.string).filter { $0 != instance }
        guard !others.isEmpty else { return }
        let alive = try await batch(others.map { RedisCommand(["EXISTS", keys.alive($0)]) })
        for (other, exists) in zip(others, alive) where exists.integer == 0 {
            let sets = try await batch([RedisCommand(["SMEMBERS", keys.rooms(of: other)]), RedisCommand(["SMEMBERS", keys.nicks(of: other)])])
            let rooms = (sets[0].array ?? []).compactMap(\.string).map(RoomName.init(trusted:))
            let nickKeys = (sets[1].array ?? []).compactMap(\.string)
            let ts = Array(String(Clock.milliseconds()).utf8)
            // Rooms first: a nick released before its rooms could be claimed and listed anew, then unlisted by the reaper.
            let roomCommands = rooms.map { room in
                scriptCommand(
                    ClusterScripts.reapRoom, keys: keys.roomScriptKeys(room),
                    arguments: [Array(other.utf8), ts, Array(room.value.utf8), forgetAfterArgument]
                )
            }
            if !roomCommands.isEmpty { _ = try await batch(roomCommands) }
            let releases = nickKeys.map { scriptCommand(ClusterScripts.releaseOfInstance, keys: [keys.nick($0)], arguments: [Array(other.utf8)]) }
            let released = releases.isEmpty ? [] : try await batch(releases)
            _ = try await batch([
                RedisCommand(["DEL", keys.rooms(of: other)]), RedisCommand(["DEL", keys.nicks(of: other)]),
                RedisCommand(["SREM", keys.instances, other]),
            ])
            let removed = released.filter { $0.integer == 1 }.count
            if removed > 0 {
                logger.info("removed the users of a dead node", metadata: ["instance": "\(other)", "users": "\(removed)"])
            }
        }
    }

    /// One resynchronisation run, after an outage, a reaping or a Redis
    /// Cluster shard's return (started and ordered by `RedisLinkStateMachine`,
    /// one at a time): delivers the lines it missed (unless each cut room
    /// catches up by itself), claims this node's nicks and memberships again
    /// (Redis may have restarted empty), removes records of users who left
    /// meanwhile, then reconciles the views once the other nodes had time
    /// to do the same. Returns whether it succeeded; a failed run is retried on reconnection.
    func resynchronize() async -> Bool {
        metrics.redisResynchronisations.increment()
        do {
            // First, so the live lines held since the run began go out after the missed ones, even if the run fails.
            if link.runCatchesUp { try await catchUp() }
            // The reply says whether another node had reaped this one (it looked dead, say while the shard
            // holding its liveness key failed over). The reaper removed its users from every room, so a run
            // scoped to the shard that came back must claim everything: the beacon never sees this reply.
            let liveness = try await batch(livenessCommands)
            if liveness.last?.integer == 1 {
                logger.warning("another node had reaped this one; claiming every user again")
                _ = link.reaped()
            }
            // Read with `claimsSent`, in one step: from then on a new need starts another run.
            let inScope = keyFilter(for: link.runScope)
            link.claimsSent()
            try await reregisterLocalUsers(inScope)
            try await removeStaleRecords(inScope)
            try? await Task.sleep(for: .milliseconds(1500))
            try await reconcile(inScope)
            logger.info("resynchronised with Redis")
            return true
        } catch {
            logger.warning("resynchronisation with Redis failed; will retry on reconnection", metadata: ["error": "\(error.message)"])
            return false
        }
    }

    /// Whether a key is among what a run claims again and reconciles: on a
    /// Redis Cluster after a shard came back, the keys whose slots that
    /// shard's master serves; otherwise every key.
    private func keyFilter(for scope: RedisLinkStateMachine.Scope) -> @Sendable (String) -> Bool {
        guard case .shards(let masters) = scope, let client = commands as? RedisClusterClient else { return { _ in true } }
        let slots = client.assumeIsolated { $0.slots }
        return { key in slots.master(for: HashSlot(key: key)).map(masters.contains) ?? true }
    }

    /// Claims every local nick in scope again in one pipelined batch (not
    /// one round trip per user), checks in a second batch the nicks that
    /// were not free (ours already, or taken by someone else meanwhile),
    /// then lists every remaining user again in its rooms in scope.
    private func reregisterLocalUsers(_ inScope: (String) -> Bool) async throws(BusError) {
        let users = Array(core.users.values).filter { inScope(keys.nick($0.member.nick.key)) }
        let claims = users.isEmpty ? [] : try await batch(users.map { claimCommand(for: $0.member) } + [noteNicksCommand(users.map(\.member))]).dropLast()
        if let refused = claims.first(where: { $0.integer == nil }) {
            throw failure("claim script failed: \(refused)")
        }
        let contested = zip(users, claims).filter { $0.1.integer != 1 }.map(\.0.member)
        var lost: Set<UInt64> = []
        if !contested.isEmpty {
            let holders = try await batch(contested.map { RedisCommand(["GET", keys.nick($0.nick.key)]) })
            for (member, holder) in zip(contested, holders) {
                if case .bulk(let bytes) = holder, PresenceRecord.decode(bytes)?.isHeld(by: member.connectionID, of: instance) == true { continue }
                // Someone else took the nick while this node could not defend it.
                logger.warning("nick taken during the outage; disconnecting its local holder", metadata: ["nick": "\(member.nick)"])
                member.outlet.close(.goingAway, reason: "nick taken during a cluster outage; reconnect")
                lost.insert(member.connectionID)
            }
        }
        let ts = Clock.milliseconds()
        // A user whose nick lives elsewhere may still be a member of a room here.
        let kept = core.users.values.filter { !lost.contains($0.member.connectionID) }
        let memberships = kept.flatMap { user in
            user.rooms.filter { inScope(keys.members($0)) }.map { joinRoomCommand($0, member: user.member, ts: ts) }
        }
        guard !memberships.isEmpty else { return }
        let rooms = Set(kept.flatMap { $0.rooms.filter { inScope(keys.members($0)) } })
        let replies = try await batch(memberships + [noteRoomsCommand(Array(rooms))])
        if let refused = replies.dropLast().first(where: { RoomChange(reply: $0) == nil }) {
            throw failure("room script failed: \(refused)")
        }
    }

    /// Removes this instance's records of users and memberships that ended
    /// while Redis could not be told: a membership announces its `left`.
    /// Reads this instance's own sets, so it costs this node's users and rooms.
    private func removeStaleRecords(_ inScope: (String) -> Bool) async throws(BusError) {
        let sets = try await batch([RedisCommand(["SMEMBERS", keys.rooms(of: instance)]), RedisCommand(["SMEMBERS", keys.nicks(of: instance)])])
        let rooms = Array(Set((sets[0].array ?? []).compactMap(\.string).map(RoomName.init(trusted:))).union(core.rooms.keys))
            .filter { inScope(keys.members($0)) }
        let nickKeys = (sets[1].array ?? []).compactMap(\.string).filter { inScope(keys.nick($0)) }
        let listings = try await batch(nickKeys.map { RedisCommand(["GET", keys.nick($0)]) } + rooms.map { RedisCommand(["HGETALL", keys.members($0)]) })
        var commands: [RedisCommand] = []
        var forgotten: [String] = []
        for (key, holder) in zip(nickKeys, listings) {
            let localConnections = Set(core.members(NickKey(storedValue: key)).map(\.connectionID))
            guard case .bulk(let bytes) = holder, let record = PresenceRecord.decode(bytes),
                record.holders.contains(where: { $0.instance == instance })
            else {
                if localConnections.isEmpty { forgotten.append(key) }  // released meanwhile, or someone else's now
                continue
            }
            // This instance's holders whose connections ended while Redis could not be told.
            for (_, connection) in record.holders.filter({ $0.instance == instance }) where !localConnections.contains(connection) {
                let stale = PresenceRecord(nick: record.nick, instance: instance, node: nodeID, connection: connection, subject: record.subject)
                let argument = record.others.isEmpty ? bytes : stale.encoded()
                commands.append(scriptCommand(ClusterScripts.release, keys: [keys.nick(key)], arguments: [argument]))
            }
            if localConnections.isEmpty { forgotten.append(key) }
        }
        if !forgotten.isEmpty { commands.append(forgetNicksCommand(forgotten)) }
        for (room, listing) in zip(rooms, listings.dropFirst(nickKeys.count)) {
            for (key, bytes, record) in ownRecords(in: listing) {
                let members = core.members(NickKey(storedValue: key))
                for (_, connection) in record.holders.filter({ $0.instance == instance }) {
                    if let member = members.first(where: { $0.connectionID == connection }), core.isMember(member, of: room) { continue }
                    let announcement = ClusterEnvelope(
                        origin: instance,
                        event: .left(nick: record.nick, owner: record.owner, ts: Clock.milliseconds(), reason: .quit, room: room)
                    )
                    let stale = PresenceRecord(nick: record.nick, instance: instance, node: nodeID, connection: connection, subject: record.subject)
                    let argument = record.others.isEmpty ? bytes : stale.encoded()
                    commands.append(leaveRoomCommand(room, key: key, record: argument, announcing: announcement))
                }
            }
        }
        guard !commands.isEmpty else { return }
        _ = try await batch(commands)
    }

    /// The records of this instance in a hash listing: key, stored bytes, record.
    private func ownRecords(in listing: RedisReply) -> [(String, [UInt8], PresenceRecord)] {
        guard case .array(let flat) = listing else { return [] }
        var records: [(String, [UInt8], PresenceRecord)] = []
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            guard case .bulk(let bytes) = flat[index + 1], let record = PresenceRecord.decode(bytes),
                record.holders.contains(where: { $0.instance == instance }), let key = flat[index].string
            else { continue }
            records.append((key, bytes, record))
        }
        return records
    }

    /// Makes each held room's view equal to its members in Redis (and
    /// loads its history at start-up or when the view has none), telling
    /// local members about every difference. Only the histories it loads
    /// are read: a run after an outage costs the rooms' members, not their lines.
    func reconcile(_ inScope: (String) -> Bool = { _ in true }, atStartUp: Bool = false) async throws(BusError) {
        link.beginReconciliation()
        let rooms = core.rooms.keys.filter { inScope(keys.members($0)) }
        let loadsHistory = rooms.map { atStartUp || core.view(of: $0)?.history.isEmpty == true }
        let replies: [RedisReply]
        do {
            replies = try await batch(
                rooms.map { RedisCommand(["HGETALL", keys.members($0)]) }
                    + zip(rooms, loadsHistory).filter(\.1).map { room, _ in
                        RedisCommand(["LRANGE", keys.history(room), "0", String(core.historyRetention - 1)])
                    }
            )
        } catch {
            _ = link.endReconciliation()
            throw error
        }
        // Who is a member according to Redis, by room and key: nick and holder.
        var targets: [RoomName: [NickKey: (nick: Nick, owner: String)]] = [:]
        for (index, room) in rooms.enumerated() {
            targets[room] = Self.members(in: replies[index])
        }
        // Events that arrived while the snapshot was in flight may be newer than it.
        func remove(_ nick: String, owner: String, from room: RoomName) {
            let key = Nick(trustedCanonical: nick).key
            if targets[room]?[key]?.owner == owner { targets[room]?[key] = nil }
        }
        for event in link.endReconciliation() {
            switch event {
            case .joined(let nick, let owner, _, let room):
                let nick = Nick(trustedCanonical: nick)
                targets[room]?[nick.key] = (nick, owner)
            case .left(let nick, let owner, _, _, let room): remove(nick, owner: owner, from: room)
            case .leftMany(let departures, _, _, let room):
                for departure in departures { remove(departure.nick, owner: departure.owner, from: room) }
            case .message, .direct, .kick, .disconnect: break
            }
        }
        let ts = Clock.milliseconds()
        var histories = replies.dropFirst(rooms.count).makeIterator()
        for (room, loadHistory) in zip(rooms, loadsHistory) {
            let history = loadHistory ? histories.next() : nil
            guard let target = targets[room], core.holds(room) else { continue }
            arrange(core.reconcile(room, with: target, ts: ts))
            // After an outage the catch-up has already delivered what the view lacked.
            if let history { core.loadHistory(Self.lines(in: history), of: room) }
        }
    }
}
