import ChatProtocol
import NIOCore

/// What the server API (PROTOCOL.md §7) asks of the cluster, beside what
/// sessions do: lines from the operator's backend, removing users, and
/// reading any room without being in it.
///
/// Like `ChatBus`, each operation hops to the bus's event loop and
/// returns a future completing there. It fails with `ServerAPIFailure`:
/// the room, the user or the membership the request names is not there,
/// or the bus is unavailable.
protocol ServerAPIBus: Sendable {
    /// Appends `line` to its room's total order and delivers it to every
    /// member, as a member's line would be. Fails `noSuchRoom` when the room does not exist.
    nonisolated func publish(_ line: ChatLine) -> EventLoopFuture<Void>

    /// Every room with at least one member, and `lobby`, most members first, ties by name.
    nonisolated func allRooms() -> EventLoopFuture<[RoomCount]>

    /// The room's members and history as Redis (or this process) holds
    /// them now. Fails `noSuchRoom` when the room does not exist.
    nonisolated func contents(of room: RoomName) -> EventLoopFuture<RoomContents>

    /// Removes the user from the room: they get `parted` with `kicked`,
    /// the room's other members a departure with `kicked`; a v1 or v2 user
    /// (whose only room is `lobby`) is disconnected instead.
    nonisolated func kick(_ nick: NickKey, from room: RoomName) -> EventLoopFuture<Void>

    /// Closes every connection of the user with 1008; they leave with `quit`.
    nonisolated func disconnect(_ nick: NickKey, reason: String) -> EventLoopFuture<Void>
}

/// Why a server API request could not be carried out.
enum ServerAPIFailure: Error, Equatable {
    case noSuchRoom
    case noSuchUser
    case notInRoom
    case unavailable(String)
}

/// A room's members and history, as the server API reads them.
struct RoomContents: Sendable {
    let room: RoomName
    /// Every member, in no particular order.
    let members: [Nick]
    /// The room's kept history, oldest first.
    let history: [ChatLine]

    /// Whether the room exists (§6): it has members or history, or it is `lobby`.
    var exists: Bool { room == .lobby || !members.isEmpty || !history.isEmpty }

    /// One page of the members, as `who` pages them.
    func page(prefix: String?, after: String?, limit: Int) -> MemberPage {
        var list = SortedNickList()
        for nick in members { list.insert(nick) }
        let (nicks, next) = list.page(prefix: prefix.map(NickKey.init(lookingUp:)), after: after.map(NickKey.init(lookingUp:)), limit: limit)
        return MemberPage(room: room, count: members.count, users: nicks, next: next)
    }

    /// The lines after the one with id `since` (the first `limit` of them),
    /// or, without `since` or when the history no longer holds it, the last `limit`.
    func lines(since: String?, limit: Int) -> ArraySlice<ChatLine> {
        if let since, let position = history.firstIndex(where: { $0.id == since }) {
            return history[(position + 1)...].prefix(limit)
        }
        return history.suffix(limit)
    }
}

extension LocalMember {
    /// Carries out a kick on this node: a v3 member is told `parted`
    /// (`kicked`) and its session forgets the room; a v1 or v2 member,
    /// whose only room is `lobby`, is disconnected.
    func removedFromRoom(_ room: RoomName) {
        guard kind.version >= .v3 else {
            outlet.close(.policyViolation, reason: "removed from lobby by the server")
            return
        }
        outlet.send(LocalFanout.frame(.parted(room: room, reason: .kicked, ref: nil), for: kind.version))
        outlet.removedFromRoom(room)
    }
}
