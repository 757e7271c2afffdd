/// When a bus sends its held presence changes: at most one timer runs at a
/// time, and a flush that happened early (before a message) voids the
/// pending timer, so a client never gets two batches in one interval
/// except before a message or direct event.
///
/// A batch's interval starts once the previous batch has been written to
/// the sockets, never while one is still on its way. An idle node sends
/// every interval; a node whose event loops are busy sends fewer, larger
/// batches instead of queueing more of them behind the work it has.
struct PresenceFlushSchedule {
    /// `--presence-interval`.
    let interval: Duration
    private var generation = 0
    private var isTimerRunning = false
    /// The last batch sent has not been written everywhere yet.
    private var isBatchInFlight = false

    init(interval: Duration) {
        self.interval = interval
    }

    /// Called when changes are held: the token for a new timer, or nil when
    /// one already runs or a batch is still being written.
    mutating func timerNeeded() -> Int? {
        guard !isTimerRunning, !isBatchInFlight else { return nil }
        isTimerRunning = true
        return generation
    }

    /// Whether the timer that got `token` is still the one to flush.
    func isCurrent(_ token: Int) -> Bool {
        isTimerRunning && token == generation
    }

    /// Records a flush; a running timer no longer counts. Returns the
    /// batch's number, to hand back to `written` once it is out.
    mutating func flushed() -> Int {
        generation &+= 1
        isTimerRunning = false
        isBatchInFlight = true
        return generation
    }

    /// Records that batch `batch` has been written; returns whether it was
    /// the last one sent, so the next interval may start.
    mutating func written(_ batch: Int) -> Bool {
        guard batch == generation, isBatchInFlight else { return false }
        isBatchInFlight = false
        return true
    }
}
