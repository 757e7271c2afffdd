import ChatProtocol

/// What the bus tells a session about itself, owned by the connection's
/// event loop: the server API removed it from a room (§7), so the
/// session's own record of its rooms must follow.
final class SessionNotices {
    /// Told on the event loop after the member's `parted` was queued.
    weak var session: (any SessionListener)?
}
