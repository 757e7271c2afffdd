import ChatProtocol

/// The cluster's latest `message` events in the total order, as a node
/// holds them: the last few for `welcome.history`, and enough (at least
/// `retention`) to resume a client after the message it saw last.
///
/// Appending, trimming and finding a message by id cost O(1) (amortised):
/// old lines are dropped in chunks, and each kept line's position is
/// indexed by its id.
struct MessageHistory {
    /// How many lines are kept for resuming.
    let retention: Int
    /// How many lines a `welcome` carries when it does not resume.
    let welcomeLength: Int
    private var lines: [ChatLine] = []
    /// Index in `lines` of the oldest kept line; the ones before wait to be compacted away.
    private var start = 0
    /// Absolute position (counted since this history began) of every kept line.
    private var positions: [String: Int] = [:]
    /// Absolute position of `lines[0]`.
    private var base = 0

    init(retention: Int, welcomeLength: Int) {
        self.retention = max(retention, welcomeLength)
        self.welcomeLength = welcomeLength
    }

    /// Whether no line is kept.
    var isEmpty: Bool { start == lines.count }

    /// Every kept line, oldest first.
    var all: ArraySlice<ChatLine> { lines[start...] }

    /// The lines a `welcome` carries when not resuming: the last `welcomeLength`.
    var recent: ArraySlice<ChatLine> { lines[max(start, lines.count - welcomeLength)...] }

    /// Whether the line with id `id` is kept.
    func contains(_ id: String) -> Bool { positions[id] != nil }

    /// Appends `line`; false (and nothing changes) when it is already kept.
    @discardableResult
    mutating func append(_ line: ChatLine) -> Bool {
        guard positions[line.id] == nil else { return false }
        positions[line.id] = base + lines.count
        lines.append(line)
        if lines.count - start > retention {
            positions[lines[start].id] = nil
            start += 1
            if start >= retention {
                lines.removeFirst(start)
                base += start
                start = 0
            }
        }
        return true
    }

    /// The lines after the one with id `id`, oldest first; nil when that line is not kept.
    func lines(after id: String) -> ArraySlice<ChatLine>? {
        guard let position = positions[id] else { return nil }
        return lines[(position - base + 1)...]
    }

    /// Replaces every line, e.g. with the cluster's stored history.
    mutating func replace(with newLines: some Sequence<ChatLine>) {
        lines = []
        start = 0
        positions = [:]
        base = 0
        for line in newLines { append(line) }
    }
}
