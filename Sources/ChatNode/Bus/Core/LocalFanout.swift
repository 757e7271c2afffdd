import ChatProtocol
import NIOCore

/// One room's members on this node and the delivery of the room's events to them.
///
/// A value owned by a bus actor. The recipients themselves live on their
/// event loops (`LoopDelivery`): a broadcast is one task per loop that has
/// members, never one per recipient, and every recipient of one kind gets
/// the same framed bytes. Joining and leaving cost O(1) here and on the loop.
///
/// Presence reaches v1 clients as one `joined`/`left` event per change, at
/// once, and v2 and v3 clients as `presence` batches (`flushPresence`). A
/// batch member welcomed since the last batch is not a recipient yet: the
/// next flush sends it the net of what happened after its `welcome` (or
/// `room`), then adds it, so it never sees a change its snapshot already showed.
struct LocalFanout {
    private struct LoopShare {
        let delivery: NIOLoopBound<LoopDelivery>
        var members = 0
    }

    /// A batch member welcomed since the last flush, and where in the batch its snapshot stands.
    private struct PendingMember {
        let member: LocalMember
        let batchStart: Int
    }

    let room: RoomName
    private var membersByConnection: [UInt64: LocalMember] = [:]
    private var loops: [ObjectIdentifier: LoopShare] = [:]
    private var membersByKind = Array(repeating: 0, count: RecipientKind.count)
    private var presence = PresenceBatch()
    private var pendingMembers: [UInt64: PendingMember] = [:]
    /// Compresses each broadcast once, for the members that negotiated
    /// compression: the bus's one deflater (its state is a quarter of a
    /// megabyte, too much to keep per room).
    private let deflater: MessageDeflater

    init(room: RoomName, deflater: MessageDeflater) {
        self.room = room
        self.deflater = deflater
    }

    /// How many members are here.
    var count: Int { membersByConnection.count }

    /// Every local member.
    var members: Dictionary<UInt64, LocalMember>.Values { membersByConnection.values }

    /// How many local members speak `version`.
    func count(of version: ProtocolVersion) -> Int {
        let plain = RecipientKind(version: version, isCompressed: false).index
        return membersByKind[plain] + membersByKind[plain + 1]
    }

    /// How many local members get presence in batches (v2 and v3).
    private var batchMembers: Int { count(of: .v2) + count(of: .v3) }

    /// Whether presence changes or new batch members wait for `flushPresence`.
    var hasPendingPresence: Bool { !presence.isEmpty || !pendingMembers.isEmpty }

    /// Starts delivering the room's events to `member`, who has just been
    /// sent its snapshot. Events broadcast after this call reach it after
    /// anything sent to it before; a batch member gets them from the next
    /// presence flush on.
    mutating func add(_ member: LocalMember) {
        membersByConnection[member.connectionID] = member
        membersByKind[member.kind.index] += 1
        let outlet = member.outlet
        loops[ObjectIdentifier(outlet.eventLoop), default: LoopShare(delivery: outlet.delivery)].members += 1
        if member.kind.version == .v1 {
            startDelivering(to: member)
        } else {
            pendingMembers[member.connectionID] = PendingMember(member: member, batchStart: presence.position)
        }
    }

    private func startDelivering(to member: LocalMember) {
        let (outlet, room) = (member.outlet, room)
        outlet.eventLoop.execute { outlet.delivery.value.addRecipient(outlet.buffer.value, room: room) }
    }

    /// Stops delivering to the member of this connection; returns it if it was here.
    mutating func remove(connectionID: UInt64) -> LocalMember? {
        guard let member = membersByConnection.removeValue(forKey: connectionID) else { return nil }
        membersByKind[member.kind.index] -= 1
        pendingMembers[connectionID] = nil
        let (outlet, room) = (member.outlet, room)
        let loopID = ObjectIdentifier(outlet.eventLoop)
        loops[loopID]?.members -= 1
        if loops[loopID]?.members == 0 { loops[loopID] = nil }
        outlet.eventLoop.execute { outlet.delivery.value.removeRecipient(outlet.buffer.value, room: room) }
        return member
    }

    /// Stops delivering to every local member at once; returns them.
    mutating func removeAll() -> [LocalMember] {
        let removed = Array(membersByConnection.values)
        membersByConnection.removeAll()
        membersByKind = Array(repeating: 0, count: RecipientKind.count)
        pendingMembers.removeAll()
        presence.removeAll()
        let room = room
        for share in loops.values {
            let delivery = share.delivery
            delivery.eventLoop.execute { delivery.value.removeAllRecipients(of: room) }
        }
        loops.removeAll()
        return removed
    }

    // MARK: Presence

    /// Tells local members that `nick` joined; returns how many v1 clients got an event now.
    @discardableResult
    mutating func announceJoined(_ nick: Nick, ts: Int64) -> Int {
        if batchMembers > 0 { presence.joined(nick) }
        guard count(of: .v1) > 0 else { return 0 }
        return broadcast(frames(.joined(nick: nick.canonical, ts: ts), for: .only(.v1)), to: .only(.v1))
    }

    /// Tells local members that `nick` left; returns how many v1 clients got an event now.
    @discardableResult
    mutating func announceLeft(_ nick: Nick, ts: Int64, reason: LeaveReason) -> Int {
        if batchMembers > 0 { presence.left(nick, reason: reason) }
        guard count(of: .v1) > 0 else { return 0 }
        return broadcast(frames(.left(nick: nick.canonical, ts: ts, reason: reason), for: .only(.v1)), to: .only(.v1))
    }

    /// Tells local members that all of `nicks` left at once: v1 clients get
    /// every `left` in one shared buffer. Returns the v1 events delivered.
    @discardableResult
    mutating func announceLeft(_ nicks: [Nick], ts: Int64, reason: LeaveReason) -> Int {
        guard !nicks.isEmpty else { return 0 }
        if batchMembers > 0 {
            for nick in nicks { presence.left(nick, reason: reason) }
        }
        guard count(of: .v1) > 0 else { return 0 }
        // Compressed clients get these uncompressed: many small frames gain little.
        var frames = ByteBuffer()
        for nick in nicks {
            ServerFrame.writeText(ChatV1Codec.encode(.left(nick: nick.canonical, ts: ts, reason: reason)), into: &frames)
        }
        return broadcast(OutgoingFrames(plain: frames), to: .only(.v1)) * nicks.count
    }

    /// Sends batch members what presence changes this node holds: v2
    /// members one `presence` event with the net changes, v3 members what
    /// `v3` says (the net changes too, naming the room and its `count`
    /// members, while the room is small), and starts delivering to the batch
    /// members welcomed since the last flush. Returns how many users the
    /// shared event named and how many events went out.
    @discardableResult
    mutating func flushPresence(count roomCount: Int, v3: V3Presence = .names) -> (batchSize: Int, delivered: Int) {
        let ts = Clock.milliseconds()
        var delivered = 0
        let encoder = presence.encoder()
        var sharedSize = 0
        var pendingByVersion: [ProtocolVersion: Int] = [:]
        for pending in pendingMembers.values { pendingByVersion[pending.member.kind.version, default: 0] += 1 }
        // An event that names nobody reaches every v3 member alike, those welcomed since the last flush too.
        let countOnly = countOnlyPayload(v3, count: roomCount, ts: ts)
        let v3GetsNames = if case .names = v3 { true } else { false }
        let size = encoder.count(from: 0)
        for version in [ProtocolVersion.v2, .v3] {
            if version == .v3, !v3GetsNames {
                guard let countOnly, count(of: .v3) > 0 else { continue }
                broadcast(frames(payload: countOnly, version: .v3, for: .only(.v3)), to: .only(.v3))
                delivered += count(of: .v3) - pendingByVersion[.v3, default: 0]
                continue
            }
            let recipients = count(of: version) - pendingByVersion[version, default: 0]
            guard recipients > 0, size > 0, let payload = encoder.payload(from: 0, ts: ts, style: style(for: version, count: roomCount)) else { continue }
            broadcast(frames(payload: payload, version: version, for: .only(version)), to: .only(version))
            sharedSize = size
            delivered += recipients
        }
        for pending in pendingMembers.values {
            let version = pending.member.kind.version
            let payload = version == .v3 && !v3GetsNames
                ? countOnly : encoder.payload(from: pending.batchStart, ts: ts, style: style(for: version, count: roomCount))
            if let payload {
                pending.member.outlet.send(ServerFrame.text(payload))
                delivered += 1
            }
            startDelivering(to: pending.member)
        }
        // Not keeping capacity: after a storm of joins it would stay with the room, idle, for good.
        pendingMembers.removeAll()
        presence.removeAll()
        return (sharedSize, delivered)
    }

    /// The v3 `presence` event that names nobody, when `v3` asks for one.
    private func countOnlyPayload(_ v3: V3Presence, count: Int, ts: Int64) -> [UInt8]? {
        let (large, users): (Bool?, EncodedNickList?)
        switch v3 {
        case .names, .nothing: return nil
        case .count: (large, users) = (nil, nil)
        case .turnedLarge: (large, users) = (true, nil)
        case .turnedSmall(let list): (large, users) = (false, list)
        }
        return ChatV3Codec.encode(.roomPresence(room: room, count: count, changes: PresenceChanges(), large: large, users: users, ts: ts))
    }

    private func style(for version: ProtocolVersion, count: Int) -> PresenceStyle {
        version == .v3 ? .room(room, count: count) : .lobby
    }

    /// A future that completes once every loop with members here has
    /// written what the fan-out queued on it so far.
    func writeQueuedOnEveryLoop() -> EventLoopFuture<Void>? {
        let written = loops.values.map { share in
            let delivery = share.delivery
            return delivery.eventLoop.submit { delivery.value.writeQueuedNow() }
        }
        guard let first = written.first else { return nil }
        return EventLoopFuture.andAllComplete(written, on: first.eventLoop)
    }

    // MARK: Delivery

    /// Writes `frames` to every local member in `audience` but `sender`;
    /// returns how many got them. A chat line passes when it reached the
    /// node, so one recipient per loop and tick can be timed.
    @discardableResult
    func broadcast(_ frames: OutgoingFrames, to audience: Audience = .everyone, excluding sender: LocalMember? = nil, receivedAt: NIODeadline? = nil) -> Int {
        let excluded = sender?.outlet.buffer
        let room = room
        for share in loops.values {
            let delivery = share.delivery
            delivery.eventLoop.execute {
                // The sender's buffer belongs to one loop; elsewhere there is nobody to leave out.
                let sender = excluded.flatMap { $0.eventLoop.inEventLoop ? $0.value : nil }
                delivery.value.broadcast(frames, room: room, to: audience, excluding: sender, receivedAt: receivedAt)
            }
        }
        var reached = 0
        for index in membersByKind.indices where audience.includes(RecipientKind(index: index)) {
            reached += membersByKind[index]
        }
        guard let sender, membersByConnection[sender.connectionID] != nil, audience.includes(sender.kind) else {
            return reached
        }
        return reached - 1
    }

    /// Encodes and frames `event` once per wire form that the local members
    /// in `audience` need, compressed too when some of them negotiated
    /// compression and it makes it smaller.
    func frames(_ event: ServerEvent, for audience: Audience = .everyone) -> OutgoingFrames {
        var forms: [OutgoingFrames.Framing?] = Array(repeating: nil, count: RecipientKind.formCount)
        for form in forms.indices where needs(form: form, audience) {
            let version = RecipientKind.version(ofForm: form)
            forms[form] = framing(payload: version.codec.encode(event), form: form, for: audience)
        }
        return OutgoingFrames(forms: forms)
    }

    private func needs(form: Int, _ audience: Audience) -> Bool {
        membersByKind.indices.contains { index in
            let kind = RecipientKind(index: index)
            return kind.form == form && audience.includes(kind) && membersByKind[index] > 0
        }
    }

    /// Frames a payload encoded for `version` for its members in `audience`.
    private func frames(payload: [UInt8], version: ProtocolVersion, for audience: Audience) -> OutgoingFrames {
        let framing = framing(payload: payload, form: RecipientKind(version: version, isCompressed: false).form, for: audience)
        return OutgoingFrames(plain: framing.plain, compressed: framing.compressed)
    }

    /// Frames an encoded payload of wire form `form`, compressed too when some of its recipients negotiated it.
    private func framing(payload: [UInt8], form: Int, for audience: Audience) -> OutgoingFrames.Framing {
        let plain = ServerFrame.text(payload)
        let compressedMembers = membersByKind.indices.contains { index in
            let kind = RecipientKind(index: index)
            return kind.form == form && kind.isCompressed && audience.includes(kind) && membersByKind[index] > 0
        }
        guard compressedMembers, let deflated = deflater.compress(payload) else { return .init(plain: plain, compressed: nil) }
        return .init(plain: plain, compressed: ServerFrame.compressedText(deflated))
    }

    /// Encodes and frames `event` for one client speaking `version`, uncompressed.
    static func frame(_ event: ServerEvent, for version: ProtocolVersion = .v1) -> ByteBuffer {
        ServerFrame.text(version.codec.encode(event))
    }
}
