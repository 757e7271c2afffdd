import ChatProtocol
import HeapModule

/// Which rooms a node running alone may forget, and when (PROTOCOL.md §6:
/// a room whose last member left and that received no message for a day).
///
/// Only rooms that emptied wait here, each once, ordered by when they fall
/// due, so a sweep looks at the rooms that are due and at nothing else: the
/// number of rooms held costs it nothing. Times are milliseconds since the
/// Unix epoch, as a line's `ts`.
struct IdleRoomSchedule {
    /// How long a room must be empty and without a message, in milliseconds.
    let idleLimit: Int64
    /// The rooms waiting, by when they fall due.
    private var waiting = Heap<Entry>()
    /// When each waiting room last lost its last member.
    private var emptiedAt: [RoomName: Int64] = [:]

    /// A schedule that forgets rooms idle for `idleLimit`.
    init(idleLimit: Duration) {
        let (seconds, attoseconds) = idleLimit.components
        self.idleLimit = max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// How many rooms wait.
    var count: Int { emptiedAt.count }

    /// When the first waiting room falls due; nil when none waits.
    var nextDue: Int64? { waiting.min?.due }

    /// Notes that `room` lost its last member at `now`.
    mutating func emptied(_ room: RoomName, at now: Int64) {
        if emptiedAt.updateValue(now, forKey: room) == nil {
            waiting.insert(Entry(due: now + idleLimit, room: room))
        }
    }

    /// What a room is like when it falls due.
    enum Vacancy {
        /// It has members again, or is no longer held: it stops waiting until it empties again.
        case occupied
        /// Still empty; its newest message has this `ts` (nil: it has none).
        case vacant(lastMessage: Int64?)
    }

    /// The rooms to forget at `now`: each that fell due and is still idle.
    mutating func idleRooms(at now: Int64, vacancy: (RoomName) -> Vacancy) -> [RoomName] {
        var idle: [RoomName] = []
        while let first = waiting.min, first.due <= now {
            waiting.removeMin()
            let room = first.room
            guard let emptied = emptiedAt[room], case .vacant(let lastMessage) = vacancy(room) else {
                emptiedAt[room] = nil
                continue
            }
            let lastActive = max(emptied, lastMessage ?? emptied)
            if lastActive + idleLimit > now {
                // Emptied again, or a message came (the server API may post to an empty room).
                waiting.insert(Entry(due: lastActive + idleLimit, room: room))
            } else {
                emptiedAt[room] = nil
                idle.append(room)
            }
        }
        return idle
    }

    private struct Entry: Comparable {
        let due: Int64
        let room: RoomName

        static func < (lhs: Entry, rhs: Entry) -> Bool { lhs.due < rhs.due }
        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.due == rhs.due && lhs.room == rhs.room }
    }
}
