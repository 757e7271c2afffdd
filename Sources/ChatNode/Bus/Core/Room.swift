import ChatProtocol
import NIOCore

/// One room as a node holds it: what its clients were told (members and
/// history), its members on this node and the delivery to them, and when
/// its held presence changes go out.
struct Room {
    /// Members and history as this node's clients know them.
    var view: RoomView
    /// This node's members of the room.
    var fanout: LocalFanout
    var presenceSchedule: PresenceFlushSchedule
    /// Whether the room counts as large (PROTOCOL.md §6): its v3 members
    /// get counts instead of names and page with `who`.
    private(set) var isLarge = false
    /// Whether the v3 members were last told the room is large; a change
    /// goes out with the next presence flush.
    private var announcedLarge = false
    /// The count the last count-only event carried, and when it went out.
    private var countAnnounced: Int?
    private var countAnnouncedAt = NIODeadline.distantPast

    /// A large room's v3 members get at most one count a second.
    static let countInterval = TimeAmount.seconds(1)

    init(name: RoomName, history: MessageHistory, presenceInterval: Duration, deflater: MessageDeflater) {
        self.view = RoomView(history: history)
        self.fanout = LocalFanout(room: name, deflater: deflater)
        self.presenceSchedule = PresenceFlushSchedule(interval: presenceInterval)
    }

    var name: RoomName { fanout.room }

    /// Turns the room large when its count exceeds `threshold`, and small
    /// again when it falls to nine tenths of it or below.
    mutating func updateSize(threshold: Int) {
        if !isLarge, view.count > threshold {
            isLarge = true
        } else if isLarge, view.count <= threshold * 9 / 10 {
            isLarge = false
        }
    }

    /// Whether v3 members are owed a `presence` event that names nobody: a
    /// turn to large or small, or a large room's new count.
    var owesCount: Bool {
        isLarge != announcedLarge || (isLarge && countAnnounced != view.count)
    }

    /// Notes the room's size as told: a `room` snapshot just told it to the
    /// node's only v3 member, who must not hear it again as a change.
    mutating func sizeTold(now: NIODeadline) {
        announcedLarge = isLarge
        countAnnounced = view.count
        countAnnouncedAt = now
    }

    /// What the v3 members get at a presence flush now, noting it as told.
    mutating func v3Presence(now: NIODeadline) -> V3Presence {
        if isLarge != announcedLarge {
            announcedLarge = isLarge
            countAnnounced = view.count
            countAnnouncedAt = now
            return isLarge ? .turnedLarge : .turnedSmall(view.list.encoded)
        }
        guard isLarge else { return .names }
        guard countAnnounced != view.count, now - countAnnouncedAt >= Self.countInterval else { return .nothing }
        countAnnounced = view.count
        countAnnouncedAt = now
        return .count
    }

    /// The `room` event for a member joining now, resuming after `since`
    /// when the history still holds it; a large room lists its first members only.
    func snapshot(since: String?) -> RoomSnapshot {
        let resumed = since.flatMap { view.history.lines(after: $0) }
        return RoomSnapshot(
            room: name,
            count: view.count,
            users: isLarge ? view.list.first(Room.largeRoomListLength) : view.list.encoded,
            large: isLarge,
            history: resumed ?? view.history.recent,
            resumed: resumed != nil
        )
    }

    /// How many members a large room's `room` event lists.
    static let largeRoomListLength = 100
}

/// What a room's v3 members get at a presence flush (PROTOCOL.md §6).
enum V3Presence {
    /// A small room: the net changes by name, with the count.
    case names
    /// A large room whose count changed: the count alone.
    case count
    /// A large room with nothing to tell yet (the same count, or within a second of the last).
    case nothing
    /// The room turned large: the count and `large: true` (members drop their lists).
    case turnedLarge
    /// The room is small again: the count, `large: false` and every member.
    case turnedSmall(EncodedNickList)
}
