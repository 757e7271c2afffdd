/// A held room whose channel was cut (its shard's master went away, or its
/// slot moved): what was published meanwhile never arrives live. Its events
/// wait here from the cut until a snapshot, read after the channel is
/// confirmed subscribed again, has delivered what the node missed; then the
/// waiting events the snapshot does not show yet follow, in the room's order.
struct RoomCatchUp {
    enum Phase: Equatable {
        /// The channel is not subscribed: nothing to read yet.
        case awaitingSubscription
        /// The snapshot is on its way; `attempt` tells a stale answer from the current one.
        case snapshotting(attempt: Int)
        /// The snapshot failed (the shard is still unavailable); it is read again shortly.
        case awaitingRetry
    }

    var phase = Phase.awaitingSubscription
    /// Events that arrived since the cut, with their numbers in the room's sequence.
    private(set) var held: [(event: ClusterEnvelope.Event, sequence: Int64?)] = []
    /// Events beyond this many are dropped oldest first: a dropped line is
    /// in the history the snapshot reads, and the snapshot's member list
    /// stands in for a dropped join or leave.
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    mutating func hold(_ event: ClusterEnvelope.Event, sequence: Int64?) {
        if held.count >= capacity { held.removeFirst(held.count - capacity + 1) }
        held.append((event, sequence))
    }
}
