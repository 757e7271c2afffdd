import ChatProtocol
import NIOCore

/// The joined users of this node and the delivery of events to them.
///
/// A value owned by a bus actor. Members are grouped by event loop, so a
/// broadcast costs one task per loop, not one per recipient, and every
/// recipient gets the same encoded bytes.
struct LocalFanout {
    private struct LoopGroup {
        let eventLoop: any EventLoop
        var members: [LocalMember] = []
    }

    private var membersByKey: [NickKey: LocalMember] = [:]
    private var groups: [ObjectIdentifier: LoopGroup] = [:]

    /// How many users are joined here.
    var count: Int { membersByKey.count }

    /// Every local member.
    var members: Dictionary<NickKey, LocalMember>.Values { membersByKey.values }

    /// The local member with this key, if any.
    func member(_ key: NickKey) -> LocalMember? {
        membersByKey[key]
    }

    /// Starts delivering events to `member`.
    mutating func add(_ member: LocalMember) {
        membersByKey[member.nick.key] = member
        let loopID = ObjectIdentifier(member.outlet.eventLoop)
        groups[loopID, default: LoopGroup(eventLoop: member.outlet.eventLoop)].members.append(member)
    }

    /// Stops delivering to the member with this key and connection; returns it if it was here.
    mutating func remove(_ key: NickKey, connectionID: UInt64) -> LocalMember? {
        guard let member = membersByKey[key], member.connectionID == connectionID else { return nil }
        membersByKey[key] = nil
        let loopID = ObjectIdentifier(member.outlet.eventLoop)
        groups[loopID]?.members.removeAll { $0.connectionID == connectionID }
        if groups[loopID]?.members.isEmpty == true { groups[loopID] = nil }
        return member
    }

    /// Writes `buffer` to every local member but `excluded` (a member's
    /// connection, typically the sender's); returns how many got it.
    @discardableResult
    func broadcast(_ buffer: ByteBuffer, excluding excluded: UInt64? = nil) -> Int {
        for group in groups.values {
            let members = group.members
            group.eventLoop.execute {
                for member in members where member.connectionID != excluded {
                    member.outlet.send(buffer)
                }
            }
        }
        return excluded == nil ? count : count - 1
    }
}
