import ChatProtocol
import Foundation
import TestSupport
import Testing

@testable import ChatNode

@Suite("Logging in with a token, refresh and expiry, the reserved nick (§7)")
struct LoginTests {
    private func withAuthNode<T>(
        _ keys: TestLoginKeys, grace: Duration = .seconds(30), _ body: (TestNode) async throws -> T
    ) async throws -> T {
        try await withNode({
            $0.authKey = keys.hs256
            $0.loginGrace = grace
        }, body)
    }

    @Test("with --auth-key, a hello without a token, or with a bad one, gets unauthorized and close 1008", arguments: ["chat.v1.json", "chat.v2.json", "chat.v3.json"])
    func helloNeedsToken(subprotocol: String) async throws {
        let keys = try await sharedLoginKeys.value
        let expired = try await keys.token(sub: "u", expiresIn: -120)
        try await withAuthNode(keys) { node in
            for hello in [#"{"type":"hello","nick":"alice","ref":"h"}"#, #"{"type":"hello","nick":"alice","token":"\#(expired)","ref":"h"}"#] {
                let client = try await node.connect(subprotocols: [subprotocol])
                try await client.send(hello)
                let error = try #require(await client.nextMessage())
                #expect(error.string("code") == "unauthorized")
                #expect(error.string("ref") == "h")
                #expect(error.string("message")?.isEmpty == false)
                #expect(await client.closeCode() == .some(1008))
            }
        }
    }

    @Test("a valid token joins; its nick claim binds the nick, compared case-insensitively")
    func nickClaim() async throws {
        let keys = try await sharedLoginKeys.value
        let token = try await keys.token(sub: "user-7", claims: #""nick":"Åsa""#, with: .hs256)
        try await withAuthNode(keys) { node in
            let impostor = try await node.connect()
            try await impostor.send(#"{"type":"hello","nick":"bob","token":"\#(token)"}"#)
            #expect(await impostor.nextMessage()?.string("code") == "unauthorized")
            #expect(await impostor.closeCode() == .some(1008))

            let client = try await node.connect()
            try await client.send(#"{"type":"hello","nick":"åSA","token":"\#(token)"}"#)
            let welcome = try #require(await client.nextMessage())
            #expect(welcome.string("type") == "welcome")
            #expect(welcome.string("nick") == "åSA")
        }
    }

    @Test("precedence: nick_invalid before unauthorized, not_joined before a refresh")
    func precedence() async throws {
        let keys = try await sharedLoginKeys.value
        try await withAuthNode(keys) { node in
            let client = try await node.connect()
            try await client.send(#"{"type":"hello","nick":"bad nick"}"#)
            #expect(await client.nextMessage()?.string("code") == "nick_invalid")
            try await client.send(#"{"type":"refresh","token":"x"}"#)
            #expect(await client.nextMessage()?.string("code") == "not_joined")
            try await client.send(#"{"type":"hello","nick":"a","token":5}"#)
            #expect(await client.nextMessage()?.string("code") == "bad_message")
        }
    }

    @Test("server is nobody's nick, with or without --auth-key")
    func serverIsReserved() async throws {
        try await withNode { node in
            let client = try await node.connect()
            try await client.send(#"{"type":"hello","nick":"Server"}"#)
            #expect(await client.nextMessage()?.string("code") == "nick_taken")
        }
        let keys = try await sharedLoginKeys.value
        let token = try await keys.token(sub: "admin")
        try await withAuthNode(keys) { node in
            let client = try await node.connect()
            try await client.send(#"{"type":"hello","nick":"server","token":"\#(token)"}"#)
            #expect(await client.nextMessage()?.string("code") == "nick_taken")
        }
    }

    /// A token made in this process at once: the short-lived ones must not age while `openssl` starts.
    private func quickToken(_ keys: TestLoginKeys, sub: String, lifetime: Double) async throws -> String {
        try await LoginTokenMinter.load(keys.hs256).token(subject: sub, lifetime: lifetime)
    }

    @Test("without a refresh the connection is closed with 1008 once the grace after exp has passed; its user leaves")
    func expiryCloses() async throws {
        let keys = try await sharedLoginKeys.value
        let longLived = try await keys.token(sub: "u2")
        try await withAuthNode(keys, grace: .seconds(1)) { node in
            let watcher = try await node.connect()
            _ = try await watcher.hello("watcher", token: longLived)
            let client = try await node.connect()
            _ = try await client.hello("brief", token: try await quickToken(keys, sub: "u1", lifetime: 2))
            #expect(await watcher.nextMessage()?.string("type") == "joined")
            let error = try #require(await client.nextMessage(timeout: .seconds(10)))
            #expect(error.string("code") == "unauthorized")
            #expect(await client.closeCode() == .some(1008))
            let left = try #require(await watcher.nextMessage())
            #expect(left.string("type") == "left")
            #expect(left.string("nick") == "brief")
        }
    }

    @Test("a refresh with a newer token of the same sub keeps the connection open, before or after exp")
    func refreshKeepsOpen() async throws {
        let keys = try await sharedLoginKeys.value
        let renewed = try await keys.token(sub: "u1", expiresIn: 3600)
        let someoneElse = try await keys.token(sub: "u2", expiresIn: 3600)
        try await withAuthNode(keys, grace: .seconds(3)) { node in
            let client = try await node.connect()
            _ = try await client.hello("keeper", token: try await quickToken(keys, sub: "u1", lifetime: 2))
            try await client.send(#"{"type":"refresh","token":"\#(someoneElse)","ref":"r1"}"#)
            let refused = try #require(await client.nextMessage())
            #expect(refused.string("code") == "unauthorized")
            #expect(refused.string("ref") == "r1")
            try await client.send(#"{"type":"refresh","token":"garbage"}"#)
            #expect(await client.nextMessage()?.string("code") == "unauthorized")
            // After exp, inside the grace: still accepted, with no reply.
            try await Task.sleep(for: .milliseconds(2500))
            try await client.send(#"{"type":"refresh","token":"\#(renewed)"}"#)
            try await client.send(#"{"type":"ping","ref":"p"}"#)
            #expect(await client.nextMessage()?.string("type") == "pong")
            // Past the first token's deadline (exp + 3 s).
            try await Task.sleep(for: .milliseconds(3500))
            try await client.send(#"{"type":"say","text":"still here"}"#)
            #expect(await client.nextMessage()?.string("text") == "still here")
        }
    }
}

extension WebSocketTestClient {
    /// Joins as `nick` with a login token; returns the `welcome`.
    func hello(_ nick: String, token: String) async throws -> [String: JSONValue] {
        try await send(#"{"type":"hello","nick":"\#(nick)","token":"\#(token)"}"#)
        let welcome = try #require(await nextMessage())
        try #require(welcome.string("type") == "welcome", "expected welcome, got \(welcome)")
        return welcome
    }
}
