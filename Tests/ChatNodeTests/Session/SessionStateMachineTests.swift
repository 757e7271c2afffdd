import ChatProtocol
import Testing

@testable import ChatNode

@Suite("Session state machine")
struct SessionStateMachineTests {
    private let start = ContinuousClock.now

    private func machine(rate: Double = 10, burst: Int = 30) -> SessionStateMachine {
        SessionStateMachine(version: .v1, rate: rate, burst: burst, now: start)
    }

    private func receive(_ machine: inout SessionStateMachine, _ text: String, after seconds: Double = 0) -> SessionStateMachine.Action {
        machine.receive(Array(text.utf8), now: start.advanced(by: .milliseconds(Int(seconds * 1000))))
    }

    @Test("hello with a valid nick asks to join; the canonical nick is NFC")
    func hello() {
        var session = machine()
        let action = receive(&session, #"{"type":"hello","nick":"A\u030asa","ref":"1"}"#)
        #expect(action == .join(Nick(validating: "Åsa")!, since: nil, identity: nil, ref: "1"))
    }

    @Test("before joining only hello and ping are allowed")
    func notJoined() {
        var session = machine()
        #expect(receive(&session, #"{"type":"who"}"#) == .reply(.error(.notJoined, ref: nil)))
        #expect(receive(&session, #"{"type":"ping"}"#) == .reply(.pong(ref: nil)))
    }

    @Test("after joining, hello is already_joined and say/whisper/who act")
    func joined() {
        var session = machine()
        session.joined(as: Nick(validating: "alice")!, identity: nil)
        #expect(receive(&session, #"{"type":"hello","nick":"x"}"#) == .reply(.error(.alreadyJoined, ref: nil)))
        #expect(receive(&session, #"{"type":"say","text":"hi"}"#) == .say(text: "hi", room: .lobby, ref: nil))
        #expect(receive(&session, #"{"type":"whisper","to":"BOB","text":"yo"}"#) == .whisper(to: NickKey(lookingUp: "bob"), text: "yo", ref: nil))
        #expect(receive(&session, #"{"type":"who","ref":"w"}"#) == .who(room: .lobby, page: nil, ref: "w"))
    }

    @Test("the 100th rate_limited in a row closes; any accepted message resets the count")
    func flooding() {
        var session = machine(rate: 1, burst: 1)
        #expect(receive(&session, #"{"type":"ping"}"#) == .reply(.pong(ref: nil)))
        for _ in 0..<98 {
            #expect(receive(&session, #"{"type":"ping"}"#) == .reply(.error(.rateLimited, ref: nil)))
        }
        // A token refills after a second; it resets the run of drops.
        #expect(receive(&session, #"{"type":"ping"}"#, after: 1.0) == .reply(.pong(ref: nil)))
        for _ in 0..<99 {
            #expect(receive(&session, #"{"type":"ping"}"#, after: 1.0) == .reply(.error(.rateLimited, ref: nil)))
        }
        #expect(receive(&session, #"{"type":"ping","ref":"last"}"#, after: 1.0) == .replyAndCloseForFlooding(.error(.rateLimited, ref: "last")))
    }
}
