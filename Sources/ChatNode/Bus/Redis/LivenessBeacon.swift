import Logging
import NIOCore
import Redis

/// Refreshes this instance's liveness key every third of `--node-ttl`.
///
/// A node that is alive must never be presumed dead because it is busy, so
/// the refresh does not wait behind anything the node does for its
/// clients: a timer on the Redis event loop (its own thread, shared only
/// with the bus, whose steps are short: the fan-out itself runs on the
/// clients' loops) writes the commands straight to the command connection,
/// with no task in between. The largest gap between two
/// successful refreshes while Redis is reachable is exported, to be
/// compared with `--node-ttl`.
final class LivenessBeacon: Sendable {
    private let connection: any RedisCommandTransport
    private let commands: [RedisCommand]
    private let interval: TimeAmount
    private let eventLoop: any EventLoop
    private let state: NIOLoopBoundBox<State>
    private let metrics: ChatMetrics
    private let logger: Logger
    private let onReaped: @Sendable () -> Void

    private struct State {
        var task: RepeatedTask?
        var lastSuccess: NIODeadline?
        var largestGap = TimeAmount.zero
    }

    init(
        connection: any RedisCommandTransport,
        commands: [RedisCommand],
        nodeTTL: Duration,
        eventLoop: any EventLoop,
        metrics: ChatMetrics,
        logger: Logger,
        onReaped: @escaping @Sendable () -> Void
    ) {
        self.connection = connection
        self.commands = commands
        self.interval = TimeAmount(nodeTTL / 3)
        self.eventLoop = eventLoop
        self.state = NIOLoopBoundBox.makeBoxSendingValue(State(), as: State.self, eventLoop: eventLoop)
        self.metrics = metrics
        self.logger = logger
        self.onReaped = onReaped
    }

    /// Refreshes now, then every interval until `stop()`.
    func start() {
        eventLoop.execute { [self] in
            state.value.task = eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { [self] _ in
                refresh()
            }
        }
    }

    /// Stops refreshing.
    func stop() {
        eventLoop.execute { [self] in
            state.value.task?.cancel()
            state.value.task = nil
        }
    }

    private func refresh() {
        connection.sendBatchFromEventLoop(commands).whenComplete { [self] result in
            guard case .success(let replies) = result else {
                // Redis is unreachable: that outage is reported as such, not as a late refresh.
                state.value.lastSuccess = nil
                return
            }
            let now = NIODeadline.now()
            if let last = state.value.lastSuccess {
                let gap = now - last
                if gap > state.value.largestGap {
                    state.value.largestGap = gap
                    metrics.livenessRefreshGapMax.record(Double(gap.nanoseconds) / 1e9)
                }
                if gap > interval * 2 {
                    logger.warning("liveness refresh was late", metadata: ["gap_ms": "\(gap.nanoseconds / 1_000_000)"])
                }
            }
            state.value.lastSuccess = now
            if replies.last?.integer == 1 { onReaped() }
        }
    }
}
