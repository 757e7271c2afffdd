import ChatProtocol
import NIOCore
import Redis

extension RedisBus: ServerAPIBus {
    nonisolated func publish(_ line: ChatLine) -> EventLoopFuture<Void> {
        redisLoop.flatSubmit { self.assumeIsolated { $0.publishFromServer(line) } }
    }

    /// One script appends the line to the room's history and publishes it,
    /// as for a member's line; it refuses a room that does not exist.
    private func publishFromServer(_ line: ChatLine) -> EventLoopFuture<Void> {
        guard isAvailable else { return redisLoop.makeFailedFuture(ServerAPIFailure.unavailable("not connected to Redis")) }
        let envelope = ClusterEnvelope(origin: instance, event: .message(line)).encoded()
        let command = scriptCommand(
            ClusterScripts.appendServerMessage,
            keys: keys.roomScriptKeys(line.room),
            arguments: [envelope, Array(String(core.historyRetention).utf8), Array(line.room.value.utf8), forgetAfterArgument]
        )
        return replies(to: [command]).flatMapThrowing { replies in
            guard let receivers = replies.first?.integer else { throw ServerAPIFailure.unavailable("the publish script was refused: \(replies)") }
            guard receivers >= 0 else { throw ServerAPIFailure.noSuchRoom }
            self.metrics.busPublishes.increment()
        }
    }

    nonisolated func allRooms() -> EventLoopFuture<[RoomCount]> {
        redisLoop.flatSubmit {
            self.assumeIsolated { bus in
                bus.replies(to: [RedisCommand(["ZREVRANGE", bus.keys.rooms, "0", "-1", "WITHSCORES"])]).map { replies in
                    RoomCount.ranked(RedisBus.roomCounts(in: replies.first))
                }
            }
        }
    }

    nonisolated func contents(of room: RoomName) -> EventLoopFuture<RoomContents> {
        redisLoop.flatSubmit {
            self.assumeIsolated { bus in
                let snapshot = bus.scriptCommand(
                    ClusterScripts.roomSnapshot,
                    keys: [bus.keys.members(room), bus.keys.history(room), bus.keys.sequence(room)],
                    arguments: [Array(String(bus.core.historyRetention).utf8)]
                )
                return bus.replies(to: [snapshot]).flatMapThrowing { replies in
                    guard case .array(let parts) = replies.first, parts.count == 3 else {
                        throw ServerAPIFailure.unavailable("the room snapshot was refused: \(replies)")
                    }
                    let contents = RoomContents(
                        room: room, members: RedisBus.members(in: parts[1]).values.map(\.nick), history: RedisBus.lines(in: parts[2])
                    )
                    guard contents.exists else { throw ServerAPIFailure.noSuchRoom }
                    return contents
                }
            }
        }
    }

    nonisolated func kick(_ nick: NickKey, from room: RoomName) -> EventLoopFuture<Void> {
        redisLoop.flatSubmit {
            self.assumeIsolated { bus in
                let lookup = [
                    RedisCommand(["GET", bus.keys.nick(nick)]), RedisCommand(["HEXISTS", bus.keys.members(room), nick.value]),
                    RedisCommand(["HLEN", bus.keys.members(room)]), RedisCommand(["EXISTS", bus.keys.history(room)]),
                ]
                return bus.replies(to: lookup).flatMap { replies in
                    self.assumeIsolated { bus in
                        let roomExists = room == .lobby || (replies[2].integer ?? 0) > 0 || (replies[3].integer ?? 0) > 0
                        guard roomExists else { return bus.redisLoop.makeFailedFuture(ServerAPIFailure.noSuchRoom) }
                        guard case .bulk(let bytes) = replies[0], let holder = PresenceRecord.decode(bytes) else {
                            return bus.redisLoop.makeFailedFuture(ServerAPIFailure.noSuchUser)
                        }
                        guard replies[1].integer == 1 else { return bus.redisLoop.makeFailedFuture(ServerAPIFailure.notInRoom) }
                        return bus.send(to: holder) { .kick(nick: holder.nick, connection: $0, room: room) }
                    }
                }
            }
        }
    }

    nonisolated func disconnect(_ nick: NickKey, reason: String) -> EventLoopFuture<Void> {
        redisLoop.flatSubmit {
            self.assumeIsolated { bus in
                bus.replies(to: [RedisCommand(["GET", bus.keys.nick(nick)])]).flatMap { replies in
                    self.assumeIsolated { bus in
                        guard case .bulk(let bytes) = replies.first, let holder = PresenceRecord.decode(bytes) else {
                            return bus.redisLoop.makeFailedFuture(ServerAPIFailure.noSuchUser)
                        }
                        return bus.send(to: holder) { .disconnect(nick: holder.nick, connection: $0, reason: reason) }
                    }
                }
            }
        }
    }

    /// Carries out the event `event(connection)` for every connection
    /// holding the nick: here for this instance's, else through the inbox of
    /// the instance that holds it.
    private func send(to holder: PresenceRecord, _ event: (UInt64) -> ClusterEnvelope.Event) -> EventLoopFuture<Void> {
        var publishes: [RedisCommand] = []
        var appliedHere = false
        for (holderInstance, connection) in holder.holders {
            if holderInstance == instance {
                apply(event(connection))
                appliedHere = true
            } else {
                publishes.append(inboxCommand(event(connection), to: holderInstance))
            }
        }
        guard !publishes.isEmpty else { return redisLoop.makeSucceededVoidFuture() }
        return replies(to: publishes).flatMapThrowing { replies in
            // Nobody listens on a dead instance's inbox: its users are about to be reaped.
            guard appliedHere || replies.contains(where: { $0.integer ?? 0 > 0 }) else { throw ServerAPIFailure.noSuchUser }
        }
    }

    /// Removes a local connection from a room, on the server API's behalf.
    func kickLocal(_ nick: String, connection: UInt64, from room: RoomName) {
        guard let member = core.members(NickKey(lookingUp: nick)).first(where: { $0.connectionID == connection }) else { return }
        guard member.kind.version >= .v3 else {
            // A v1 or v2 connection's only room is `lobby`.
            if room == .lobby { member.removedFromRoom(room) }
            return
        }
        guard core.dismiss(member, from: room) else { return }
        member.removedFromRoom(room)
        let command = leaveRoomCommand(room, member: member, ts: Clock.milliseconds(), reason: .kicked)
        closeIfUnused(room)
        // Should Redis fail now, the record is removed when the node resynchronises.
        batchOnLoop([command]).whenComplete { _ in }
    }

    /// Closes a local connection on the server API's behalf.
    func disconnectLocal(_ nick: String, connection: UInt64, reason: String) {
        guard let member = core.members(NickKey(lookingUp: nick)).first(where: { $0.connectionID == connection }) else { return }
        member.outlet.close(.policyViolation, reason: reason)
    }

    /// The replies to a batch, or the failure a server API request reports.
    private func replies(to commands: [RedisCommand]) -> EventLoopFuture<[RedisReply]> {
        guard isAvailable else { return redisLoop.makeFailedFuture(ServerAPIFailure.unavailable("not connected to Redis")) }
        return batchOnLoop(commands).flatMapThrowing { result in
            switch result {
            case .success(let replies): return replies
            case .failure(let error): throw ServerAPIFailure.unavailable(error.message)
            }
        }
    }
}
