import ChatProtocol
import NIOCore

/// The seam between sessions and the rest of the cluster.
///
/// Sessions talk to other users only through a bus. `InProcessBus` serves a
/// node that runs alone; a Redis bus serves a cluster. A bus also owns the
/// node's local fan-out, so it can admit a member atomically with its
/// `welcome`: no event can fall between the snapshot a client receives and
/// the moment it starts receiving events.
///
/// The operations a session calls are callable from any thread and make
/// no task: each hops to the bus's event loop (every bus runs on one) and
/// returns a future that completes there. Every operation that changes or
/// reads cluster state fails with `BusError.unavailable` while the bus is
/// unreachable.
protocol ChatBus: ServerAPIBus {
    /// Whether the bus can serve chat right now.
    var isAvailable: Bool { get async }

    /// Claims `member`'s nick cluster-wide. On success the bus has written
    /// `welcome` (with `ref`) to the member; a v1 or v2 member is then a
    /// member of `lobby` (its other members are told `joined`, and it gets
    /// the lobby's events), and its `welcome` resumes after the message
    /// `since` (v2) when the history still holds it. A v3 member is in no room.
    nonisolated func join(_ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<JoinOutcome>

    /// Releases the member's nick, and its memberships with the other
    /// members told `left`, soon: the departure goes through the bus's
    /// inbox, so a session that ends needs no task of its own. Does nothing
    /// if the member already left.
    nonisolated func leave(_ member: LocalMember, reason: LeaveReason)

    /// Makes a joined v3 member a member of `room`: on success the bus has
    /// written the `room` event (with `ref`, resuming after `since` when
    /// the room's history still holds it), the room's other members are
    /// told, and the member gets the room's events. The session has already
    /// checked the member's right to a private room against its current token.
    nonisolated func enter(_ room: RoomName, _ member: LocalMember, since: String?, ref: String?) -> EventLoopFuture<RoomOutcome>

    /// Ends `member`'s membership of `room`; the room's other members are
    /// told it left with `part`, and the member gets no more of its events.
    nonisolated func part(_ room: RoomName, _ member: LocalMember) -> EventLoopFuture<RoomOutcome>

    /// Sends `line` to every member of its room; the sender's own copy
    /// carries `ref`. `receivedAt` is when the line reached this node (for
    /// the delivery-latency histogram). The future completes once the line
    /// is published.
    nonisolated func broadcast(_ line: ChatLine, from sender: LocalMember, ref: String?, receivedAt: NIODeadline) -> EventLoopFuture<RoomOutcome>

    /// Sends a private line to the user whose key is `recipient`, and the
    /// sender's copy (with `ref`) to the sender.
    nonisolated func whisper(_ draft: DirectDraft, to recipient: NickKey, from sender: LocalMember, ref: String?) -> EventLoopFuture<WhisperOutcome>

    /// The members of `room` for `member`: every one in list order
    /// (`page` nil: v1 and v2, `lobby`), or one page of them (v3).
    nonisolated func members(of room: RoomName, for member: LocalMember, page: MemberQuery?) -> EventLoopFuture<MembersOutcome>

    /// The (at most 100) rooms with the most members, most first, ties by
    /// name, and always `lobby`.
    nonisolated func roomList() -> EventLoopFuture<[RoomCount]>

    /// The node is shutting down: releases every local user in one step
    /// (the other nodes' clients see them leave with `quit`) and stops
    /// delivering to local clients, which are about to be closed and are
    /// not told about each other's departure.
    func drain() async

    /// Handles the bus's inbox and background work (subscriptions,
    /// liveness) until `stop()`, or until the task is cancelled.
    func run() async

    /// Ends `run()` once the node has left the cluster, which needs the
    /// connections that cancelling `run()` would close first.
    func stop() async
}

extension LocalMember {
    /// Queues the member's `welcome`: the users, and the history after `since`
    /// when it still holds that message (v2; `resumed` says so), else the
    /// recent lines. The event is encoded on the connection's event loop: a
    /// list of thousands of nicks is a large copy, which the bus (one per
    /// node, joins in a row) should not make itself.
    func sendWelcome(node: String, users: EncodedNickList, history: MessageHistory, since: String?, ref: String?) {
        let resumed = since.flatMap { history.lines(after: $0) }
        let event = ServerEvent.welcome(
            nick: nick.canonical, node: node, users: users, history: resumed ?? history.recent, resumed: resumed != nil, ref: ref
        )
        let version = kind.version
        outlet.send { ServerFrame.text(version.codec.encode(event)) }
    }
}

/// The result of a `join`.
enum JoinOutcome: Equatable {
    case joined
    case nickTaken
}

/// The result of an operation on a room the member must be in (`part`, `broadcast`).
enum RoomOutcome: Equatable {
    case done
    case notInRoom
}

/// The result of `members(of:for:page:)`.
enum MembersOutcome: Equatable {
    /// Every member (v1, v2).
    case all(EncodedNickList)
    /// One page (v3).
    case page(MemberPage)
    case notInRoom
}

/// The result of a `whisper`.
enum WhisperOutcome: Equatable {
    case delivered
    case noSuchUser
}

/// A direct message before the bus resolves its recipient's canonical nick.
struct DirectDraft: Sendable {
    var id: String
    var from: String
    var text: String
    var ts: Int64

    func line(to recipient: String) -> DirectLine {
        DirectLine(id: id, from: from, to: recipient, text: text, ts: ts)
    }
}

/// Why a bus operation failed.
struct BusError: Error, Equatable {
    enum Code: Equatable {
        /// The cluster store is unreachable; the client gets `unavailable`.
        case unavailable
    }

    let code: Code
    let message: String

    static func unavailable(_ message: String) -> BusError {
        BusError(code: .unavailable, message: message)
    }
}
