import ChatProtocol
import NIOCore
import Redis

extension RedisBus {
    /// Follows the sharded subscription's channels: a held room whose
    /// channel is cut starts holding its events; once the channel is
    /// confirmed again, the room catches up from a snapshot. Called on the
    /// event loop before any message that follows the change, so no live
    /// event can overtake the lines the node missed.
    func channelsChanged(_ change: ChannelChange) {
        switch change {
        case .cut(let channels):
            for room in channels.compactMap(keys.room(ofChannel:)) where core.holds(room) || roomLoads[room] != nil {
                if roomCatchUps[room] == nil {
                    roomCatchUps[room] = RoomCatchUp(capacity: core.historyRetention)
                } else {
                    // A snapshot on its way may predate what is lost now: the next one covers both.
                    roomCatchUps[room]!.phase = .awaitingSubscription
                }
            }
        case .resumed(let channels):
            for room in channels.compactMap(keys.room(ofChannel:)) where roomCatchUps[room]?.phase == .awaitingSubscription {
                readSnapshot(toCatchUp: room)
            }
        }
    }

    /// Reads `room`'s snapshot; a failure is retried after half a second while the room waits.
    private func readSnapshot(toCatchUp room: RoomName) {
        snapshotAttempts += 1
        let attempt = snapshotAttempts
        roomCatchUps[room]?.phase = .snapshotting(attempt: attempt)
        batchOnLoop([snapshotCommand(room)]).whenSuccess { result in
            self.assumeIsolated { bus in
                guard bus.roomCatchUps[room]?.phase == .snapshotting(attempt: attempt) else { return }
                guard case .success(let replies) = result, let snapshot = StoredRoomSnapshot(replies.first) else {
                    bus.roomCatchUps[room]?.phase = .awaitingRetry
                    bus.redisLoop.scheduleTask(in: .milliseconds(500)) {
                        bus.assumeIsolated { bus in
                            if bus.roomCatchUps[room]?.phase == .awaitingRetry { bus.readSnapshot(toCatchUp: room) }
                        }
                    }
                    return
                }
                bus.finishCatchUp(room, from: snapshot)
            }
        }
    }

    /// Delivers what the snapshot shows and the node missed (members, then
    /// lines oldest first), then the held events that are newer than it.
    private func finishCatchUp(_ room: RoomName, from snapshot: StoredRoomSnapshot) {
        guard let catchUp = roomCatchUps.removeValue(forKey: room) else { return }
        if core.holds(room) {
            arrange(core.reconcile(room, with: Self.members(in: snapshot.members), ts: Clock.milliseconds()))
        }
        var missed = 0
        for line in Self.lines(in: snapshot.history) where line.room == room && core.view(of: room)?.history.contains(line.id) != true {
            apply(.message(line))
            missed += 1
        }
        for (event, sequence) in catchUp.held where sequence.map({ $0 > snapshot.sequence }) ?? true {
            apply(event, sequence: sequence)
        }
        if missed > 0 {
            logger.info("delivered the lines a room's channel missed while it moved", metadata: ["room": "\(room)", "lines": "\(missed)"])
        }
    }

    /// The script call that reads `room`'s members, history and event number at one point of its sequence.
    func snapshotCommand(_ room: RoomName) -> RedisCommand {
        scriptCommand(
            ClusterScripts.roomSnapshot,
            keys: [keys.members(room), keys.history(room), keys.sequence(room)],
            arguments: [Array(String(core.historyRetention).utf8)]
        )
    }
}
