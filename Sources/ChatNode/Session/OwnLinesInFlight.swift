import ChatProtocol

/// The chat lines a session has published that have not come back to its
/// own client yet, in the order it sent them, owned by the connection's event loop.
///
/// Lines reach every client in the cluster's order, the sender's own copy
/// included, so a sender's copy arrives some time after its `say` was
/// accepted. A session keeps publishing its next lines meanwhile, up to
/// `limit` of them, and the replies its client's messages cause still reach
/// it in the order it sent them: a refused line's error waits until every
/// line sent before it is back, and any other reply until all of them are.
final class OwnLinesInFlight {
    /// How many lines a session may have in flight before it stops taking
    /// more: a flooding client waits for its lines, the node does not queue them.
    static let limit = 64

    private enum Outcome {
        case inFlight
        case back
        case refused(ServerEvent)
    }

    private struct Line {
        let id: String
        var outcome: Outcome
    }

    /// Oldest first; empty, and holding no storage, while nothing is in flight.
    private var lines: [Line] = []
    /// Told when a refusal is due, in the order the lines were sent, and
    /// when the last line in flight came back or it may publish again after reaching `limit`.
    weak var session: (any SessionListener)?

    /// How many lines are in flight.
    var count: Int { lines.count }

    /// Whether the session must wait for a line to come back before it publishes another.
    var isFull: Bool { lines.count >= Self.limit }

    /// The line `id` was published (or is about to be).
    func published(_ id: String) {
        lines.append(Line(id: id, outcome: .inFlight))
    }

    /// The line `id`'s copy (or what stands for it) was queued to the client.
    func cameBack(_ id: String) {
        settle(id, .back)
    }

    /// The line `id` was not published; `refusal` goes out once the lines sent before it are back.
    func refused(_ id: String, with refusal: ServerEvent) {
        settle(id, .refused(refusal))
    }

    private func settle(_ id: String, _ outcome: Outcome) {
        guard let index = lines.firstIndex(where: { $0.id == id }), case .inFlight = lines[index].outcome else { return }
        lines[index].outcome = outcome
        let wasFull = isFull
        var settled = 0
        for line in lines {
            if case .inFlight = line.outcome { break }
            settled += 1
        }
        guard settled > 0 else { return }
        let refusals = lines[..<settled].compactMap { line -> ServerEvent? in
            if case .refused(let event) = line.outcome { return event }
            return nil
        }
        if settled == lines.count { lines = [] } else { lines.removeFirst(settled) }
        for refusal in refusals { session?.ownLineRefused(refusal) }
        if lines.isEmpty || (wasFull && !isFull) { session?.ownLinesSettled() }
    }
}
