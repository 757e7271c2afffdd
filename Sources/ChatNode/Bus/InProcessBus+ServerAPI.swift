import ChatProtocol
import NIOCore

extension InProcessBus: ServerAPIBus {
    nonisolated func publish(_ line: ChatLine) -> EventLoopFuture<Void> {
        loop.submit { try self.assumeIsolated { bus in try bus.publishFromServer(line) } }
    }

    private func publishFromServer(_ line: ChatLine) throws(ServerAPIFailure) {
        guard roomExists(line.room) else { throw ServerAPIFailure.noSuchRoom }
        core.open(line.room)
        core.metrics.busPublishes.increment()
        if let followUp = core.deliver(line, origin: { _ in .elsewhere }) {
            arrange(followUp)
        }
    }

    nonisolated func allRooms() -> EventLoopFuture<[RoomCount]> {
        loop.submit {
            self.assumeIsolated { $0.ranking.all }
        }
    }

    nonisolated func contents(of room: RoomName) -> EventLoopFuture<RoomContents> {
        loop.submit {
            try self.assumeIsolated { bus in
                let view = bus.core.view(of: room)
                let contents = RoomContents(
                    room: room,
                    members: view?.sortedUsers.map(Nick.init(trustedCanonical:)) ?? [],
                    history: view.map { Array($0.history.all) } ?? []
                )
                guard contents.exists else { throw ServerAPIFailure.noSuchRoom }
                return contents
            }
        }
    }

    nonisolated func kick(_ nick: NickKey, from room: RoomName) -> EventLoopFuture<Void> {
        loop.submit { try self.assumeIsolated { bus in try bus.removeFromRoom(nick, room) } }
    }

    private func removeFromRoom(_ key: NickKey, _ room: RoomName) throws(ServerAPIFailure) {
        guard roomExists(room) else { throw ServerAPIFailure.noSuchRoom }
        let connections = core.members(key)
        guard let first = connections.first else { throw ServerAPIFailure.noSuchUser }
        // Every connection of the user in the room: a v1 or v2 one (its only room is `lobby`) is disconnected.
        let inRoom = connections.filter { $0.kind.version >= .v3 ? core.isMember($0, of: room) : room == .lobby }
        guard !inRoom.isEmpty else { throw ServerAPIFailure.notInRoom }
        for member in inRoom {
            if member.kind.version >= .v3 { _ = core.dismiss(member, from: room) }
            member.removedFromRoom(room)
        }
        guard inRoom.contains(where: { $0.kind.version >= .v3 }) else { return }
        listLeft(first, in: room, ts: Clock.milliseconds(), reason: .kicked)
    }

    nonisolated func disconnect(_ nick: NickKey, reason: String) -> EventLoopFuture<Void> {
        loop.submit {
            try self.assumeIsolated { bus in
                let connections = bus.core.members(nick)
                guard !connections.isEmpty else { throw ServerAPIFailure.noSuchUser }
                for member in connections { member.outlet.close(.policyViolation, reason: reason) }
            }
        }
    }

    /// Whether `room` exists (§6): `lobby` always, any other while it has members or history.
    private func roomExists(_ room: RoomName) -> Bool {
        guard room != .lobby else { return true }
        guard let view = core.view(of: room) else { return false }
        return view.count > 0 || !view.history.isEmpty
    }
}
