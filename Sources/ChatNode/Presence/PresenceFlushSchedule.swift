/// When a bus sends its held presence changes: at most one timer runs at a
/// time, and a flush that happened early (before a message) voids the
/// pending timer, so a client never gets two batches in one interval
/// except before a message or direct event.
struct PresenceFlushSchedule {
    /// `--presence-interval`.
    let interval: Duration
    private var generation = 0
    private var isTimerRunning = false

    init(interval: Duration) {
        self.interval = interval
    }

    /// Called when changes are held: the token for a new timer, or nil when one already runs.
    mutating func timerNeeded() -> Int? {
        guard !isTimerRunning else { return nil }
        isTimerRunning = true
        return generation
    }

    /// Whether the timer that got `token` is still the one to flush.
    func isCurrent(_ token: Int) -> Bool {
        isTimerRunning && token == generation
    }

    /// Records a flush; a running timer no longer counts.
    mutating func flushed() {
        generation &+= 1
        isTimerRunning = false
    }
}
