import ChatProtocol

/// The presence changes a node holds for its v2 clients until it sends
/// them as `presence` events (PROTOCOL.md §5).
///
/// Changes are kept in the order they happened, so the net effect can be
/// computed for any suffix: clients present since the last event get the
/// net of all of it, a client welcomed in between gets the net of what
/// happened after its `welcome` (which already showed the rest).
struct PresenceBatch {
    fileprivate enum Change {
        case joined(String)
        case left(String, LeaveReason)
    }

    fileprivate private(set) var changes: [(key: NickKey, change: Change)] = []

    /// Whether nothing happened since the last event.
    var isEmpty: Bool { changes.isEmpty }

    /// The position after the last change: where a client welcomed now starts.
    var position: Int { changes.count }

    /// Records that `nick` joined.
    mutating func joined(_ nick: Nick) {
        changes.append((nick.key, .joined(nick.canonical)))
    }

    /// Records that `nick` left for `reason`.
    mutating func left(_ nick: Nick, reason: LeaveReason) {
        changes.append((nick.key, .left(nick.canonical, reason)))
    }

    /// Forgets every change: they have been sent. The storage goes too: most
    /// rooms are small and quiet, and each keeping its busiest batch's
    /// capacity would cost every node that holds it about a kilobyte.
    mutating func removeAll() {
        changes.removeAll()
    }

    /// The net changes from `start` on, as one event carries them: a user
    /// who joined and left again in between appears in neither list; a
    /// user who left and came back with the same nick neither.
    func netChanges(from start: Int = 0) -> PresenceChanges {
        guard start < changes.count else { return PresenceChanges() }
        // Per key: the nick listed before the first change (if the first
        // change was a leave), why it left, and the nick listed after the last.
        var states: [NickKey: (before: String?, reason: LeaveReason, after: String?)] = [:]
        var order: [NickKey] = []
        for (key, change) in changes[start...] {
            switch (change, states[key] != nil) {
            case (.joined(let nick), false):
                states[key] = (nil, .quit, nick)
                order.append(key)
            case (.left(let nick, let reason), false):
                states[key] = (nick, reason, nil)
                order.append(key)
            case (.joined(let nick), true):
                states[key]!.after = nick
            case (.left, true):
                states[key]!.after = nil
            }
        }
        var result = PresenceChanges()
        for key in order {
            let state = states[key]!
            if let before = state.before, before != state.after {
                result.left.append(.init(nick: before, reason: state.reason))
            }
            if let after = state.after, after != state.before {
                result.joined.append(after)
            }
        }
        return result
    }

    /// Encodes the `presence` events of this batch for clients starting at
    /// any position, each change's JSON written once (see `PresenceEncoder`).
    func encoder() -> PresenceEncoder {
        PresenceEncoder(self)
    }
}

/// Writes the `presence` event for any suffix of a batch at the cost of
/// copying its bytes.
///
/// In a join storm every client welcomed since the last event needs its
/// own event: the changes after its `welcome`. Each change is encoded once
/// into a shared run of `joined` and one of `left` elements; a suffix in
/// which no user changes twice is its own net, so its event is a slice of
/// each run. Only a suffix where someone changed twice is netted the slow way.
struct PresenceEncoder {
    private let batch: PresenceBatch
    /// `,"nick"` for every joined change, in order.
    private var joinedRun: [UInt8] = []
    /// `,{"nick":"…","reason":"…"}` for every left change, in order.
    private var leftRun: [UInt8] = []
    /// The same as v1 and v2 clients see it (`part` and `kicked` as `quit`),
    /// when it differs from `leftRun`, and where each position starts in it.
    private var leftRunBeforeRooms: (run: [UInt8], starts: [Int])?
    /// For each position, where its suffix starts in each run.
    private var runStarts: [(joined: Int, left: Int)] = []
    /// The first position from which no user changes twice.
    private var distinctFrom = 0

    fileprivate init(_ batch: PresenceBatch) {
        self.batch = batch
        let changes = batch.changes
        runStarts.reserveCapacity(changes.count + 1)
        for (_, change) in changes {
            runStarts.append((joinedRun.count, leftRun.count))
            switch change {
            case .joined(let nick):
                joinedRun.append(UInt8(ascii: ","))
                JSONWriter.appendEncodedString(nick, to: &joinedRun)
            case .left(let nick, let reason):
                leftRun.append(contentsOf: Self.leftElement(nick, reason))
            }
        }
        if changes.contains(where: { if case .left(_, let reason) = $0.change { reason != reason.beforeRooms } else { false } }) {
            var run: [UInt8] = []
            var starts: [Int] = []
            starts.reserveCapacity(changes.count + 1)
            for (_, change) in changes {
                starts.append(run.count)
                if case .left(let nick, let reason) = change { run.append(contentsOf: Self.leftElement(nick, reason.beforeRooms)) }
            }
            starts.append(run.count)
            leftRunBeforeRooms = (run, starts)
        }
        runStarts.append((joinedRun.count, leftRun.count))
        var seen: Set<NickKey> = []
        seen.reserveCapacity(changes.count)
        distinctFrom = 0
        for index in changes.indices.reversed() where !seen.insert(changes[index].key).inserted {
            distinctFrom = index + 1
            break
        }
    }

    /// How many users the event from `start` names, without encoding it.
    func count(from start: Int) -> Int {
        guard start >= distinctFrom else { return batch.netChanges(from: start).count }
        return batch.changes.count - start
    }

    private static func leftElement(_ nick: String, _ reason: LeaveReason) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.member("nick", nick)
        writer.member("reason", reason.rawValue)
        writer.endObject()
        return [UInt8(ascii: ",")] + writer.bytes
    }

    /// The payload of the `presence` event for a client that starts at
    /// `start`, written as `style` says, or nil when nothing changed for it.
    func payload(from start: Int, ts: Int64, style: PresenceStyle = .lobby) -> [UInt8]? {
        guard start < batch.changes.count else { return nil }
        guard start >= distinctFrom else {
            let changes = batch.netChanges(from: start)
            guard !changes.isEmpty else { return nil }
            switch style {
            case .lobby:
                return ChatV2Codec.encode(.presence(changes, ts: ts))
            case .room(let room, let count):
                return ChatV3Codec.encode(.roomPresence(room: room, count: count, changes: changes, large: nil, users: nil, ts: ts))
            }
        }
        var from = runStarts[start]
        let left: [UInt8]
        var bytes: [UInt8] = []
        switch style {
        case .lobby:
            left = leftRunBeforeRooms?.run ?? leftRun
            if let beforeRooms = leftRunBeforeRooms { from.left = beforeRooms.starts[start] }
            bytes.reserveCapacity(joinedRun.count - from.joined + left.count - from.left + 64)
            bytes.append(contentsOf: #"{"type":"presence","joined":["#.utf8)
        case .room(let room, let count):
            left = leftRun
            bytes.reserveCapacity(joinedRun.count - from.joined + left.count - from.left + 100)
            bytes.append(contentsOf: #"{"type":"presence","room":""#.utf8)
            bytes.append(contentsOf: room.value.utf8)
            bytes.append(contentsOf: #"","count":"#.utf8)
            bytes.append(contentsOf: String(count).utf8)
            bytes.append(contentsOf: #","joined":["#.utf8)
        }
        if from.joined < joinedRun.count { bytes.append(contentsOf: joinedRun[(from.joined + 1)...]) }
        bytes.append(contentsOf: #"],"left":["#.utf8)
        if from.left < left.count { bytes.append(contentsOf: left[(from.left + 1)...]) }
        bytes.append(contentsOf: #"],"ts":"#.utf8)
        bytes.append(contentsOf: String(ts).utf8)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

/// How a `presence` event is written: as v2 has it (no room), or as v3 has
/// it, naming the room and its member count.
enum PresenceStyle {
    case lobby
    case room(RoomName, count: Int)
}
