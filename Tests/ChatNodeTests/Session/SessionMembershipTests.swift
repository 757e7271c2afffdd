import ChatProtocol
import NIOCore
import NIOEmbedded
import Testing

@testable import ChatNode

@Suite("Session membership: hello deadline, joining, joined, and a connection that ends meanwhile")
struct SessionMembershipTests {
    private var membership = SessionMembership()
    private let alice: LocalMember

    init() throws {
        alice = try Self.member("alice")
    }

    /// A member on an embedded loop: its outlet is never written to here.
    static func member(_ nick: String, id: UInt64 = 1) throws -> LocalMember {
        let loop = EmbeddedEventLoop()
        let delivery = LoopDelivery(eventLoop: loop, pingInterval: .seconds(30))
        let outlet = EmbeddedConnection(id: id, loop: loop, delivery: delivery).outlet
        return LocalMember(connectionID: id, nick: try #require(Nick(validating: nick)), outlet: outlet)
    }

    @Test("no hello by the deadline closes the connection")
    mutating func noHello() {
        #expect(membership.helloDeadlinePassed() == .closeForLateHello)
    }

    @Test("a hello that arrived in time is not late while the bus claims the nick, and a granted nick makes it joined")
    mutating func joinInTime() {
        membership.joinStarted()
        #expect(membership.helloDeadlinePassed() == .none)
        #expect(membership.joined(alice) == .none)
        #expect(membership.member?.connectionID == 1)
    }

    @Test("a refused claim after the deadline closes the connection; before it, the client may try again")
    mutating func refusedClaim() {
        membership.joinStarted()
        #expect(membership.joinFailed() == .none)
        membership.joinStarted()
        _ = membership.helloDeadlinePassed()
        #expect(membership.joinFailed() == .closeForLateHello)
    }

    @Test("a joined member leaves when the connection ends, once")
    mutating func leavesOnEnd() {
        membership.joinStarted()
        _ = membership.joined(alice)
        #expect(membership.connectionEnded() == .leave(alice))
        #expect(membership.connectionEnded() == nil)
        #expect(membership.hasEnded)
        #expect(membership.member == nil)
    }

    @Test("a connection that ends while the claim is in flight releases the nick as soon as it is granted")
    mutating func endsWhileJoining() {
        membership.joinStarted()
        #expect(membership.connectionEnded() == SessionMembership.Action.none)
        #expect(membership.hasEnded)
        #expect(membership.joined(alice) == .leave(alice))
        #expect(membership.member == nil)
    }

    @Test("a connection that ends while the claim is in flight and is refused has nothing to release")
    mutating func endsWhileJoiningRefused() {
        membership.joinStarted()
        _ = membership.connectionEnded()
        #expect(membership.joinFailed() == .none)
        #expect(membership.helloDeadlinePassed() == .none)
    }
}
