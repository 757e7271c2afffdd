import ChatProtocol
import NIOCore
import NIOEmbedded
import Testing

@testable import ChatNode

@Suite("Loop delivery: one shared run per tick and kind, joined late means only what came after")
struct LoopDeliveryTests {
    private let loop = EmbeddedEventLoop()
    private let delivery: LoopDelivery
    private let alice: OutboundBufferTests.Connection
    private let bob: OutboundBufferTests.Connection

    init() throws {
        delivery = LoopDelivery(eventLoop: loop, pingInterval: .seconds(30))
        alice = try OutboundBufferTests.Connection(loop: loop, delivery: delivery, id: 1)
        bob = try OutboundBufferTests.Connection(loop: loop, delivery: delivery, id: 2)
    }

    private static func frames(_ text: String) -> OutgoingFrames {
        OutgoingFrames(plain: ByteBuffer(string: text))
    }

    @Test("broadcasts of one tick reach every recipient as one run, in order")
    func oneRunPerTick() throws {
        delivery.addRecipient(alice.buffer, room: .lobby)
        delivery.addRecipient(bob.buffer, room: .lobby)
        delivery.broadcast(Self.frames("1"), room: .lobby, to: .everyone, excluding: nil)
        delivery.broadcast(Self.frames("2"), room: .lobby, to: .everyone, excluding: nil)
        loop.run()
        #expect(try alice.written() == ["12"])
        #expect(try bob.written() == ["12"])
    }

    @Test("a recipient added during a run gets only the part after its addition")
    func addedDuringRun() throws {
        delivery.addRecipient(alice.buffer, room: .lobby)
        delivery.broadcast(Self.frames("1"), room: .lobby, to: .everyone, excluding: nil)
        delivery.addRecipient(bob.buffer, room: .lobby)
        delivery.broadcast(Self.frames("2"), room: .lobby, to: .everyone, excluding: nil)
        loop.run()
        #expect(try alice.written() == ["12"])
        #expect(try bob.written() == ["2"])
    }

    @Test("an event for one recipient alone comes after the broadcasts before it")
    func singleAfterRun() throws {
        delivery.addRecipient(alice.buffer, room: .lobby)
        delivery.broadcast(Self.frames("1"), room: .lobby, to: .everyone, excluding: nil)
        alice.buffer.enqueue(ByteBuffer(string: "whisper"))
        delivery.broadcast(Self.frames("2"), room: .lobby, to: .everyone, excluding: nil)
        loop.run()
        #expect(try alice.written() == ["1whisper2"])
    }

    @Test("a broadcast that excludes its sender reaches everyone else")
    func excludingSender() throws {
        delivery.addRecipient(alice.buffer, room: .lobby)
        delivery.addRecipient(bob.buffer, room: .lobby)
        delivery.broadcast(Self.frames("line"), room: .lobby, to: .everyone, excluding: alice.buffer)
        loop.run()
        #expect(try alice.written().isEmpty)
        #expect(try bob.written() == ["line"])
    }

    @Test("the sender left out of a frame gets what was broadcast before and after it, in order")
    func senderLeftOutOfOneFrame() throws {
        delivery.addRecipient(alice.buffer, room: .lobby)
        delivery.addRecipient(bob.buffer, room: .lobby)
        delivery.broadcast(Self.frames("1"), room: .lobby, to: .everyone)
        alice.buffer.enqueue(ByteBuffer(string: "(own 2)"))
        delivery.broadcast(Self.frames("2"), room: .lobby, to: .everyone, excluding: alice.buffer)
        delivery.broadcast(Self.frames("3"), room: .lobby, to: .everyone)
        loop.run()
        #expect(try alice.written() == ["1(own 2)3"])
        #expect(try bob.written() == ["123"])
    }

    @Test("broadcasts right after a hand-out wait for the coalescing window, then leave together")
    func coalescing() throws {
        delivery.addRecipient(alice.buffer, room: .lobby)
        delivery.broadcast(Self.frames("1"), room: .lobby, to: .everyone)
        loop.run()
        #expect(try alice.written() == ["1"])
        delivery.broadcast(Self.frames("2"), room: .lobby, to: .everyone)
        delivery.broadcast(Self.frames("3"), room: .lobby, to: .everyone)
        loop.run()
        #expect(try alice.written().isEmpty)
        // The window is measured on the real clock; the embedded loop's clock starts at zero.
        loop.advanceTime(by: .hours(24 * 365))
        #expect(try alice.written() == ["23"])
    }

    @Test("an audience of one version skips the other version's recipients")
    func audience() throws {
        delivery.addRecipient(alice.buffer, room: .lobby)
        delivery.broadcast(Self.frames("v1 only"), room: .lobby, to: .only(.v1), excluding: nil)
        loop.run()
        #expect(try alice.written().isEmpty)
    }

    @Test("a removed recipient gets nothing more, the others go on")
    func removal() throws {
        delivery.addRecipient(alice.buffer, room: .lobby)
        delivery.addRecipient(bob.buffer, room: .lobby)
        delivery.removeRecipient(alice.buffer, room: .lobby)
        delivery.broadcast(Self.frames("1"), room: .lobby, to: .everyone, excluding: nil)
        loop.run()
        #expect(try alice.written().isEmpty)
        #expect(try bob.written() == ["1"])
        delivery.removeAllRecipients()
        delivery.broadcast(Self.frames("2"), room: .lobby, to: .everyone, excluding: nil)
        loop.run()
        #expect(try bob.written().isEmpty)
    }

    @Test("a room's broadcasts reach only its members; each room's run is its own")
    func rooms() throws {
        let rust = RoomName(trusted: "rust")
        delivery.addRecipient(alice.buffer, room: .lobby)
        delivery.addRecipient(alice.buffer, room: rust)
        delivery.addRecipient(bob.buffer, room: rust)
        delivery.broadcast(Self.frames("L"), room: .lobby, to: .everyone)
        delivery.broadcast(Self.frames("R"), room: rust, to: .everyone)
        loop.run()
        #expect(try alice.written().joined() == "LR")
        #expect(try bob.written() == ["R"])
        delivery.removeRecipient(alice.buffer, room: rust)
        delivery.broadcast(Self.frames("R2"), room: rust, to: .everyone)
        delivery.broadcast(Self.frames("L2"), room: .lobby, to: .everyone)
        loop.advanceTime(by: .hours(24 * 365))
        #expect(try alice.written() == ["L2"])
        #expect(try bob.written() == ["R2"])
    }

    @Test("an event for one recipient alone comes after what every room of it broadcast before")
    func singleAfterRunsOfSeveralRooms() throws {
        let rust = RoomName(trusted: "rust")
        delivery.addRecipient(alice.buffer, room: .lobby)
        delivery.addRecipient(alice.buffer, room: rust)
        delivery.broadcast(Self.frames("L"), room: .lobby, to: .everyone)
        delivery.broadcast(Self.frames("R"), room: rust, to: .everyone)
        alice.buffer.enqueue(ByteBuffer(string: "(alone)"))
        loop.run()
        let written = try alice.written().joined()
        #expect(written.hasSuffix("(alone)"))
        #expect(written.count == "LR(alone)".count)
    }
}
