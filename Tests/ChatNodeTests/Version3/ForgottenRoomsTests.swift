import ChatNode
import ChatProtocol
import TestSupport
import Testing

/// PROTOCOL.md §6, Order, history, resume, routing: idle rooms are
/// forgotten, history included; `lobby` never is.
@Suite("chat.v3.json: idle rooms are forgotten")
struct ForgottenRoomsTests {
    @Test("a room left empty with no message for the idle limit is forgotten with its history; a room with a member and lobby keep theirs", arguments: RoomsSetup.allCases)
    func idleRoomsAreForgotten(setup: RoomsSetup) async throws {
        try await setup.run({ $0.forgetIdleRoomsAfter = .seconds(1) }) { nodes in
            let (ann, _) = try await nodes[0].joinV3("ann")
            let (bob, _) = try await nodes[1 % nodes.count].joinV3("bob")
            for (client, room, text) in [(ann, "tea", "brewing"), (bob, "busy", "still here"), (ann, "lobby", "hello lobby")] {
                _ = try await client.enter(room)
                try await client.send(#"{"type":"say","room":"\#(room)","text":"\#(text)"}"#)
                #expect(await client.next(ofType: "message")?.string("text") == text)
            }
            for room in ["tea", "lobby"] {
                try await ann.send(#"{"type":"part","room":"\#(room)","ref":"p-\#(room)"}"#)
                #expect(await ann.next(ofType: "parted")?.string("room") == room)
            }

            // Before the limit the empty room still has its line.
            let (cid, _) = try await nodes[0].joinV3("cid")
            #expect(try await cid.enter("tea").historyTexts == ["brewing"])
            try await cid.send(#"{"type":"part","room":"tea","ref":"p"}"#)
            _ = await cid.next(ofType: "parted")

            // Past it (a sweep on a node alone, EXPIRE in Redis), only the empty room is gone.
            try await Task.sleep(for: .milliseconds(2500))
            let (dan, _) = try await nodes[nodes.count - 1].joinV3("dan")
            let tea = try await dan.enter("tea")
            #expect(tea.historyTexts == [])
            #expect(tea.integer("count") == 1)
            #expect(try await dan.enter("busy").historyTexts == ["still here"])
            #expect(try await dan.enter("lobby").historyTexts.contains("hello lobby"))
            // The room used again is listed with its new count.
            let entries = try await dan.roomList()
            #expect(entries.contains("tea:1"), "\(entries)")
        }
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// The texts of a `room` or `welcome` event's `history`, oldest first.
    var historyTexts: [String] {
        guard case .array(let lines) = self["history"] else { return [] }
        return lines.compactMap { line in
            guard case .object(let fields) = line else { return nil }
            return fields.string("text")
        }
    }
}
