import Testing

@testable import ChatNode

@Suite("Session inbox: messages wait in order, and a full inbox stops reading until half drained")
struct SessionInboxTests {
    private var inbox = SessionInbox(highWatermark: 10)

    @Test("messages come out in the order they arrived, and an emptied inbox is empty")
    mutating func order() {
        inbox.append([1])
        inbox.append([2, 2])
        let first = inbox.next(), second = inbox.next(), third = inbox.next()
        #expect(first == [1])
        #expect(second == [2, 2])
        #expect(third == nil)
        #expect(inbox.isEmpty)
        #expect(inbox.bytes == 0)
    }

    @Test("below the high watermark reads pass at once")
    mutating func readsPass() {
        inbox.append(Array(repeating: 0, count: 10))
        let r1 = inbox.readRequested()
        #expect(r1)
    }

    @Test("over the high watermark a read waits, and is passed on once the inbox drained to half")
    mutating func backPressure() {
        for _ in 0..<3 { inbox.append(Array(repeating: 0, count: 4)) }
        let r2 = inbox.readRequested()
        #expect(!r2)
        _ = inbox.next()
        // 8 bytes left: over half of 10, still paused.
        let r3 = inbox.resumeReading()
        #expect(!r3)
        let r4 = inbox.readRequested()
        #expect(!r4)
        _ = inbox.next()
        let r5 = inbox.resumeReading()
        #expect(r5)
        let r6 = inbox.readRequested()
        #expect(r6)
        // Resumed once: nothing more to pass on.
        let r7 = inbox.resumeReading()
        #expect(!r7)
    }

    @Test("resuming without a read that waited passes nothing on")
    mutating func resumeWithoutPendingRead() {
        for _ in 0..<3 { inbox.append(Array(repeating: 0, count: 4)) }
        while inbox.next() != nil {}
        let r8 = inbox.resumeReading()
        #expect(!r8)
        let r9 = inbox.readRequested()
        #expect(r9)
    }
}
