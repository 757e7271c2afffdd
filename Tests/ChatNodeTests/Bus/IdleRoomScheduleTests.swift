import ChatProtocol
import Testing

@testable import ChatNode

/// PROTOCOL.md §6: a room whose last member left and that received no
/// message for the idle limit may be forgotten, history included.
@Suite("Idle rooms: when a node running alone forgets a room")
struct IdleRoomScheduleTests {
    private let tea = RoomName(trusted: "tea")
    private let rust = RoomName(trusted: "rust")

    @Test("a room that emptied is due once the limit has passed, not before")
    func dueAfterTheLimit() {
        var schedule = IdleRoomSchedule(idleLimit: .seconds(10))
        schedule.emptied(tea, at: 1_000)
        #expect(schedule.nextDue == 11_000)
        #expect(schedule.idleRooms(at: 10_999) { _ in .vacant(lastMessage: 500) } == [])
        #expect(schedule.idleRooms(at: 11_000) { _ in .vacant(lastMessage: 500) } == [tea])
        #expect(schedule.count == 0 && schedule.nextDue == nil)
    }

    @Test("a room with members again when it falls due stops waiting, and waits again when it empties again")
    func occupiedAgain() {
        var schedule = IdleRoomSchedule(idleLimit: .seconds(10))
        schedule.emptied(tea, at: 0)
        #expect(schedule.idleRooms(at: 10_000) { _ in .occupied } == [])
        #expect(schedule.count == 0)
        schedule.emptied(tea, at: 20_000)
        #expect(schedule.idleRooms(at: 30_000) { _ in .vacant(lastMessage: nil) } == [tea])
    }

    @Test("a room that emptied again, or got a message, since it began waiting waits for the limit from then")
    func laterActivityPostpones() {
        var schedule = IdleRoomSchedule(idleLimit: .seconds(10))
        schedule.emptied(tea, at: 0)
        schedule.emptied(rust, at: 1_000)
        // tea emptied again at 4 s; rust got a message (from the server API) at 6 s.
        schedule.emptied(tea, at: 4_000)
        #expect(schedule.count == 2, "each room waits once")
        let lastMessages = [tea: nil, rust: 6_000] as [RoomName: Int64?]
        let vacancy = { (room: RoomName) in IdleRoomSchedule.Vacancy.vacant(lastMessage: lastMessages[room]!) }
        #expect(schedule.idleRooms(at: 11_000, vacancy: vacancy) == [])
        #expect(schedule.nextDue == 14_000)
        #expect(schedule.idleRooms(at: 14_000, vacancy: vacancy) == [tea])
        #expect(schedule.idleRooms(at: 15_999, vacancy: vacancy) == [])
        #expect(schedule.idleRooms(at: 16_000, vacancy: vacancy) == [rust])
    }

    @Test("a sweep looks only at the rooms that fell due")
    func onlyDueRoomsAreLookedAt() {
        var schedule = IdleRoomSchedule(idleLimit: .seconds(1))
        for index in 0..<1_000 {
            schedule.emptied(RoomName(trusted: "r\(index)"), at: Int64(index))
        }
        var looked = 0
        let idle = schedule.idleRooms(at: 1_009) { _ in
            looked += 1
            return .vacant(lastMessage: nil)
        }
        #expect(idle.count == 10 && looked == 10)
        #expect(schedule.count == 990)
    }
}
