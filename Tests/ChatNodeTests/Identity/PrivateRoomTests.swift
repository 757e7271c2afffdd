import ChatProtocol
import Foundation
import TestSupport
import Testing

@testable import ChatNode

@Suite("Private rooms: joinable only with a token naming them, listed only to those who may join (§7)")
struct PrivateRoomTests {
    @Test("without --auth-key nobody can join a private room", arguments: RoomsSetup.allCases)
    func closedWithoutLogin(setup: RoomsSetup) async throws {
        try await setup.run { nodes in
            let (client, _) = try await nodes[0].joinV3("alice")
            try await client.send(#"{"type":"join","room":"private.ops","ref":"j"}"#)
            let error = try #require(await client.next(ofType: "error"))
            #expect(error.string("code") == "room_forbidden")
            #expect(error.string("ref") == "j")
            // The ordinary rooms stay open, and the state machine did not count the refused room.
            _ = try await client.enter("public")
        }
    }

    @Test("with --auth-key, the rooms claim opens exactly the rooms it names; room_list hides the others", arguments: RoomsSetup.allCases)
    func roomsClaim(setup: RoomsSetup) async throws {
        let keys = try await sharedLoginKeys.value
        let member = try await keys.token(sub: "u1", claims: #""rooms":["private.ops"]"#)
        let outsider = try await keys.token(sub: "u2")
        try await setup.run({ $0.authKey = keys.hs256 }) { nodes in
            let insider = try await nodes[0].connect(subprotocols: ["chat.v3.json"])
            _ = try await insider.hello("insider", token: member)
            let room = try await insider.enter("private.ops")
            #expect(room.integer("count") == 1)
            try await insider.send(#"{"type":"join","room":"private.hr"}"#)
            #expect(await insider.nextErrorCode() == "room_forbidden")

            let other = try await nodes[nodes.count - 1].connect(subprotocols: ["chat.v3.json"])
            _ = try await other.hello("outsider", token: outsider)
            try await other.send(#"{"type":"join","room":"private.ops"}"#)
            #expect(await other.nextErrorCode() == "room_forbidden")
            try await other.send(#"{"type":"say","room":"private.ops","text":"let me in"}"#)
            #expect(await other.nextErrorCode() == "not_in_room")

            try await other.send(#"{"type":"rooms","ref":"r"}"#)
            let hidden = try #require(await other.next(ofType: "room_list"))
            #expect(!roomNames(hidden).contains("private.ops"))
            try await insider.send(#"{"type":"rooms","ref":"r"}"#)
            let shown = try #require(await insider.next(ofType: "room_list"))
            #expect(roomNames(shown).contains("private.ops"))
        }
    }

    @Test("a refresh's token decides later joins: the rooms it names open, the rooms it no longer names close", arguments: RoomsSetup.allCases)
    func refreshChangesRights(setup: RoomsSetup) async throws {
        let keys = try await sharedLoginKeys.value
        let first = try await keys.token(sub: "u1", claims: #""rooms":["private.ops"]"#)
        let renewed = try await keys.token(sub: "u1", claims: #""rooms":["private.hr"]"#)
        try await setup.run({ $0.authKey = keys.hs256 }) { nodes in
            let client = try await nodes[0].connect(subprotocols: ["chat.v3.json"])
            _ = try await client.hello("worker", token: first)
            try await client.send(#"{"type":"join","room":"private.hr"}"#)
            #expect(await client.nextErrorCode() == "room_forbidden")

            try await client.send(#"{"type":"refresh","token":"\#(renewed)"}"#)
            _ = try await client.enter("private.hr")
            try await client.send(#"{"type":"join","room":"private.ops"}"#)
            #expect(await client.nextErrorCode() == "room_forbidden")
        }
    }

    private func roomNames(_ list: [String: JSONValue]) -> [String] {
        guard case .array(let rooms) = list["rooms"] else { return [] }
        return rooms.compactMap { if case .object(let room) = $0 { room["room"]?.stringValue } else { nil } }
    }
}
