import ChatProtocol

/// What a connection's loop-owned parts (`OwnLinesInFlight`,
/// `SessionNotices`) tell its session, on the connection's event loop.
///
/// They hold the session weakly: the bus may keep them after the
/// connection ended, and one reference costs a connection less than a
/// closure per callback.
protocol SessionListener: AnyObject {
    /// A refused line's error is due: every line sent before it is back.
    func ownLineRefused(_ refusal: ServerEvent)
    /// The last line in flight came back, or the session may publish again after reaching the limit.
    func ownLinesSettled()
    /// The server API removed the member from `room`, after queueing its `parted`.
    func removedFromRoom(_ room: RoomName)
}
