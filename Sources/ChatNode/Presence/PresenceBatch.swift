import ChatProtocol

/// The presence changes a node holds for its v2 clients until it sends
/// them as one `presence` event (PROTOCOL.md §5).
///
/// Changes are kept in the order they happened, so the net effect can be
/// computed for any suffix: clients present since the last event get the
/// net of all of it, a client welcomed in between gets the net of what
/// happened after its `welcome` (which already showed the rest).
struct PresenceBatch {
    private enum Change {
        case joined(String)
        case left(String, LeaveReason)
    }

    private var changes: [(key: NickKey, change: Change)] = []

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

    /// Forgets every change: they have been sent.
    mutating func removeAll() {
        changes.removeAll(keepingCapacity: true)
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
}
