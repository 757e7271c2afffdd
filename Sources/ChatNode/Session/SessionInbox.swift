/// A session's messages waiting while a bus operation is in flight, and
/// whether the socket is read meanwhile: an inbox over its high watermark
/// stops reading until it has drained to half of it, so a client that
/// floods cannot grow the node's memory. Empty, it holds no storage.
struct SessionInbox {
    /// Reading pauses while this many bytes of messages wait.
    let highWatermark: Int
    private var messages: [[UInt8]] = []
    private var start = 0
    /// Bytes of the messages waiting.
    private(set) var bytes = 0
    private var isReadPaused = false
    /// A read NIO asked for while paused, to pass on when reading resumes.
    private var isReadPending = false

    init(highWatermark: Int) {
        self.highWatermark = highWatermark
    }

    /// Whether no message waits.
    var isEmpty: Bool { start == messages.count }

    /// Queues a message that arrived.
    mutating func append(_ message: [UInt8]) {
        messages.append(message)
        bytes += message.count
        if bytes > highWatermark { isReadPaused = true }
    }

    /// The oldest waiting message, taken out of the inbox.
    mutating func next() -> [UInt8]? {
        guard start < messages.count else { return nil }
        let message = messages[start]
        start += 1
        bytes -= message.count
        if start == messages.count {
            messages = []
            start = 0
        }
        return message
    }

    /// NIO asks to read more: whether to read now (false: the read waits until `resumeReading`).
    mutating func readRequested() -> Bool {
        guard isReadPaused else { return true }
        isReadPending = true
        return false
    }

    /// After messages were taken: whether a read that waited must be passed on now.
    mutating func resumeReading() -> Bool {
        guard isReadPaused, bytes <= highWatermark / 2 else { return false }
        isReadPaused = false
        defer { isReadPending = false }
        return isReadPending
    }

    /// Forgets every waiting message (the connection ended).
    mutating func removeAll() {
        messages = []
        start = 0
        bytes = 0
    }
}
