import Testing

@testable import ChatNode

@Suite("Presence flush schedule: one timer, one batch in flight")
struct PresenceFlushScheduleTests {
    private var schedule = PresenceFlushSchedule(interval: .milliseconds(100))

    @Test("changes start one timer; more changes while it runs start none")
    mutating func oneTimer() {
        let token = schedule.timerNeeded()
        let another = schedule.timerNeeded()
        #expect(token != nil)
        #expect(another == nil)
        #expect(schedule.isCurrent(token!))
    }

    @Test("no new interval starts until the batch sent is written")
    mutating func waitsForTheWrite() {
        let token = schedule.timerNeeded()!
        let batch = schedule.flushed()
        #expect(!schedule.isCurrent(token))
        let whileWriting = schedule.timerNeeded()
        #expect(whileWriting == nil)
        let opened = schedule.written(batch)
        #expect(opened)
        let afterWrite = schedule.timerNeeded()
        #expect(afterWrite != nil)
    }

    @Test("an early flush (before a message) voids the running timer and is waited for like any batch")
    mutating func earlyFlush() {
        let token = schedule.timerNeeded()!
        let early = schedule.flushed()
        #expect(!schedule.isCurrent(token))
        let whileWriting = schedule.timerNeeded()
        #expect(whileWriting == nil)
        _ = schedule.written(early)
        let afterWrite = schedule.timerNeeded()
        #expect(afterWrite != nil)
    }

    @Test("only the last batch's write opens the next interval; an older one's is ignored")
    mutating func olderBatchWritten() {
        let first = schedule.flushed()
        let second = schedule.flushed()
        let olderOpened = schedule.written(first)
        let afterOlder = schedule.timerNeeded()
        #expect(!olderOpened)
        #expect(afterOlder == nil)
        let lastOpened = schedule.written(second)
        let again = schedule.written(second)
        let afterLast = schedule.timerNeeded()
        #expect(lastOpened)
        #expect(!again)
        #expect(afterLast != nil)
    }
}
