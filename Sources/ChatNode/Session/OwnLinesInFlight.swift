/// The chat lines a session has published that have not come back to its
/// own client yet, owned by the connection's event loop.
///
/// Lines reach every client in the cluster's order, the sender's own copy
/// included, so a sender's copy arrives some time after its `say` was
/// accepted. A session keeps publishing its next lines meanwhile, but holds
/// any other reply until its own lines are back: the replies a client's
/// messages cause still reach it in the order it sent them.
final class OwnLinesInFlight {
    private(set) var count = 0
    /// Called on the event loop when the last line in flight came back.
    var onSettled: (() -> Void)?

    /// A line was published (or is about to be).
    func published() {
        count += 1
    }

    /// A line's copy was written to the client, or it will never be (its publish failed).
    func settled() {
        guard count > 0 else { return }
        count -= 1
        if count == 0 { onSettled?() }
    }
}
