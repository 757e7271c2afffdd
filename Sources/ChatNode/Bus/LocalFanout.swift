import ChatProtocol
import NIOCore

/// The joined users of this node and the delivery of events to them.
///
/// A value owned by a bus actor. The recipients themselves live on their
/// event loops (`LoopDelivery`): a broadcast is one task per loop that has
/// members, never one per recipient, and every recipient gets the same
/// framed bytes. Joining and leaving cost O(1) here and on the loop.
struct LocalFanout {
    private struct LoopShare {
        let delivery: NIOLoopBound<LoopDelivery>
        var members = 0
    }

    private var membersByKey: [NickKey: LocalMember] = [:]
    private var loops: [ObjectIdentifier: LoopShare] = [:]

    /// How many users are joined here.
    var count: Int { membersByKey.count }

    /// Every local member.
    var members: Dictionary<NickKey, LocalMember>.Values { membersByKey.values }

    /// The local member with this key, if any.
    func member(_ key: NickKey) -> LocalMember? {
        membersByKey[key]
    }

    /// Starts delivering events to `member`. Events broadcast after this
    /// call reach it after anything sent to it before.
    mutating func add(_ member: LocalMember) {
        membersByKey[member.nick.key] = member
        let outlet = member.outlet
        loops[ObjectIdentifier(outlet.eventLoop), default: LoopShare(delivery: outlet.delivery)].members += 1
        outlet.eventLoop.execute { outlet.delivery.value.addRecipient(outlet.buffer.value) }
    }

    /// Stops delivering to the member with this key and connection; returns it if it was here.
    mutating func remove(_ key: NickKey, connectionID: UInt64) -> LocalMember? {
        guard let member = membersByKey[key], member.connectionID == connectionID else { return nil }
        membersByKey[key] = nil
        let outlet = member.outlet
        let loopID = ObjectIdentifier(outlet.eventLoop)
        loops[loopID]?.members -= 1
        if loops[loopID]?.members == 0 { loops[loopID] = nil }
        outlet.eventLoop.execute { outlet.delivery.value.removeRecipient(outlet.buffer.value) }
        return member
    }

    /// Stops delivering to every local member at once; returns them.
    mutating func removeAll() -> [LocalMember] {
        let removed = Array(membersByKey.values)
        membersByKey.removeAll()
        for share in loops.values {
            let delivery = share.delivery
            delivery.eventLoop.execute { delivery.value.removeAllRecipients() }
        }
        loops.removeAll()
        return removed
    }

    /// Writes `frame` to every local member but `sender` (who gets a copy
    /// of its own); returns how many got it. A chat line passes when it
    /// reached the node, so one recipient per loop and tick can be timed.
    @discardableResult
    func broadcast(_ frame: ByteBuffer, excluding sender: LocalMember? = nil, receivedAt: NIODeadline? = nil) -> Int {
        let excluded = sender?.connectionID
        for share in loops.values {
            let delivery = share.delivery
            delivery.eventLoop.execute { delivery.value.broadcast(frame, excluding: excluded, receivedAt: receivedAt) }
        }
        guard let sender, membersByKey[sender.nick.key]?.connectionID == sender.connectionID else { return count }
        return count - 1
    }
}
