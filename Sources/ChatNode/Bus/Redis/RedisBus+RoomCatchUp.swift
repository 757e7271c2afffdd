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
            // The room's lines in flight wait too: their echoes come with the catch-up, in the room's order.
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

    /// Reads what `room` missed (members, event number, the lines newer than
    /// the node's newest); a failure is retried after half a second while the room waits.
    private func readSnapshot(toCatchUp room: RoomName) {
        snapshotAttempts += 1
        let attempt = snapshotAttempts
        roomCatchUps[room]?.phase = .snapshotting(attempt: attempt)
        let newest = core.view(of: room)?.history.all.last?.id ?? ""
        let command = scriptCommand(
            ClusterScripts.roomCatchUp,
            keys: keys.roomSnapshotKeys(room),
            arguments: [Array(String(core.historyRetention).utf8), Array(newest.utf8)]
        )
        batchOnLoop([command]).whenSuccess { result in
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
    /// A line of this node that Redis had stored and the snapshot lacks was
    /// lost with a master that died before its replica had it: its sender
    /// is told, as nobody else gets it. (A line stored after the snapshot
    /// cannot be taken for one: its answer follows the snapshot's on the
    /// same connection.)
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
        let lost = linesInFlight.filter { $0.value.isStored && $0.value.line.room == room }.keys
        for id in lost { refuseLostLine(id) }
        if missed > 0 || !lost.isEmpty {
            logger.info("caught a room up after its channel was cut", metadata: [
                "room": "\(room)", "lines": "\(missed)", "lines_lost_in_failover": "\(lost.count)",
            ])
        }
    }
}
