import NIOCore

/// The one way into a bus from outside its actor: timers, write-backs,
/// sessions that ended, connection changes. The bus's `run()` reads
/// `inputs` and handles each in its own isolation, so nothing re-enters
/// the actor from a detached task and the inputs are handled in the order
/// they were posted.
///
/// Every producer posts at a bounded rate (one presence timer and one
/// batch write-back at a time per room, one departure per connection, a beacon
/// every third of the node TTL, one sweep of idle rooms at a time), so the
/// stream needs no bound of its own.
struct BusInbox<Input: Sendable>: Sendable {
    /// The posted inputs in order; read by the bus's `run()` alone.
    let inputs: AsyncStream<Input>
    private let continuation: AsyncStream<Input>.Continuation
    /// Where delayed inputs wait.
    private let timerLoop: any EventLoop

    /// An open inbox whose delayed inputs wait on `timerLoop`.
    init(timerLoop: any EventLoop) {
        (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
        self.timerLoop = timerLoop
    }

    /// Posts `input`; dropped once the inbox is finished (the bus stopped).
    func post(_ input: Input) {
        continuation.yield(input)
    }

    /// Posts `input` after `delay`, from a timer on the inbox's event loop.
    func post(_ input: Input, after delay: Duration) {
        let continuation = self.continuation
        timerLoop.scheduleTask(in: TimeAmount(delay)) { continuation.yield(input) }
    }

    /// Ends `inputs` once what was posted before has been read.
    func finish() {
        continuation.finish()
    }

    /// Arranges what the core asked for: a timer, or word when a batch is written.
    func arrange(_ followUp: PresenceFollowUp, as wrap: @escaping @Sendable (PresenceInput) -> Input) {
        switch followUp {
        case .none:
            break
        case .startTimer(let room, let token, let interval):
            post(wrap(.timerFired(room: room, token: token)), after: interval)
        case .awaitWritten(let room, let batch, let written):
            let continuation = self.continuation
            written.whenComplete { _ in continuation.yield(wrap(.batchWritten(room: room, batch: batch))) }
        }
    }

    /// Arranges each of `followUps`.
    func arrange(_ followUps: [PresenceFollowUp], as wrap: @escaping @Sendable (PresenceInput) -> Input) {
        for followUp in followUps { arrange(followUp, as: wrap) }
    }
}
