import ChatProtocol
import Foundation
import TestSupport
import Testing

@testable import ChatNode

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Calls a node's server API with (or without) the bearer key.
struct APIClient {
    static let key = "test-api-key-0123456789"

    let port: Int
    var key: String? = APIClient.key

    /// The status and the JSON object of the answer.
    func call(_ method: String, _ path: String, body: String? = nil) async throws -> (Int, [String: JSONValue]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        if let body { request.httpBody = Data(body.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as! HTTPURLResponse).statusCode
        guard case .object(let object) = try? JSONParser.parse(Array(data)) else { return (status, [:]) }
        return (status, object)
    }

    func post(_ path: String, _ body: String) async throws -> (Int, [String: JSONValue]) {
        try await call("POST", path, body: body)
    }

    func get(_ path: String) async throws -> (Int, [String: JSONValue]) {
        try await call("GET", path)
    }
}

/// A file holding `APIClient.key`, for `--api-key-file`.
let sharedAPIKeyFile: String = {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("chat-api-key-\(UUID().uuidString)").path
    try! Data((APIClient.key + "\n").utf8).write(to: URL(fileURLWithPath: path))
    return path
}()

extension RoomsSetup {
    /// Runs `body` with the server API on, on every node.
    func runWithAPI(_ body: ([TestNode]) async throws -> Void) async throws {
        try await run({
            $0.apiKeyFile = sharedAPIKeyFile
            $0.presenceInterval = .milliseconds(50)
        }, body)
    }
}

@Suite("The server API (§7)")
struct ServerAPITests {
    @Test("without --api-key-file the API answers 404; with it, a missing or wrong key is 401")
    func access() async throws {
        try await withNode { node in
            let (status, _) = try await APIClient(port: node.port).get("/api/rooms")
            #expect(status == 404)
        }
        try await RoomsSetup.alone.runWithAPI { nodes in
            for key in [nil, "wrong-key-0123456789", APIClient.key + "x", String(APIClient.key.dropLast())] {
                let (status, body) = try await APIClient(port: nodes[0].port, key: key).get("/api/rooms")
                #expect(status == 401, "key \(key ?? "none")")
                #expect(body.string("error") == "unauthorized")
            }
            #expect(try await APIClient(port: nodes[0].port).get("/api/rooms").0 == 200)
        }
    }

    @Test("publish puts a line into the room's total order, as server or as a given sender", arguments: RoomsSetup.allCases)
    func publish(setup: RoomsSetup) async throws {
        try await setup.runWithAPI { nodes in
            let api = APIClient(port: nodes[0].port)
            let (v3, _) = try await nodes[nodes.count - 1].joinV3("reader")
            _ = try await v3.enter("news")
            let (v1, _) = try await nodes[0].join("oldie")
            let (status, answer) = try await api.post("/api/publish", #"{"room":"news","text":"breaking"}"#)
            #expect(status == 200)
            let id = try #require(answer.string("id"))
            let line = try #require(await v3.next(ofType: "message"))
            #expect(line.string("id") == id && line.string("from") == "server" && line.string("text") == "breaking" && line.string("room") == "news")

            #expect(try await api.post("/api/publish", #"{"room":"lobby","text":"to the lobby","from":"Åsa"}"#).0 == 200)
            let lobbyLine = try #require(await v1.next(ofType: "message"))
            #expect(lobbyLine.string("from") == "Åsa" && lobbyLine.string("text") == "to the lobby")

            try await v3.send(#"{"type":"say","room":"news","text":"member line"}"#)
            _ = await v3.next(ofType: "message")
            let (_, history) = try await api.get("/api/rooms/news/history")
            #expect(history.string("room") == "news")
            #expect(texts(history["history"]) == ["breaking", "member line"])
        }
    }

    @Test("publish refuses what a member's say would, with the HTTP status that fits", arguments: RoomsSetup.allCases)
    func publishErrors(setup: RoomsSetup) async throws {
        try await setup.runWithAPI { nodes in
            let api = APIClient(port: nodes[0].port)
            for (body, status, code) in [
                (#"{"room":"ghost-town","text":"anyone?"}"#, 404, "no_such_room"),
                (#"{"room":"Bad Room","text":"x"}"#, 400, "room_invalid"),
                (#"{"room":"lobby","text":"   "}"#, 400, "text_invalid"),
                (#"{"room":"lobby","text":"x","from":"no spaces allowed"}"#, 400, "nick_invalid"),
                (#"{"room":"lobby"}"#, 400, "bad_message"),
                ("not json", 400, "bad_message"),
            ] {
                let (answered, error) = try await api.post("/api/publish", body)
                #expect(answered == status, "\(body)")
                #expect(error.string("error") == code, "\(body)")
                #expect(error.string("message")?.isEmpty == false)
            }
        }
    }

    @Test("rooms lists every room with members, private ones included; users pages as who; history pages by since and limit", arguments: RoomsSetup.allCases)
    func reading(setup: RoomsSetup) async throws {
        let keys = try await sharedLoginKeys.value
        let token = try await keys.token(sub: "ops", claims: #""rooms":["private.ops"]"#)
        try await setup.run({
            $0.apiKeyFile = sharedAPIKeyFile
            $0.authKey = keys.hs256
        }) { nodes in
            let api = APIClient(port: nodes[0].port)
            var clients: [WebSocketTestClient] = []
            for (index, nick) in ["ann", "bea", "bob", "cid"].enumerated() {
                let client = try await nodes[index % nodes.count].connect(subprotocols: ["chat.v3.json"])
                let userToken = try await keys.token(sub: nick, claims: #""rooms":["private.ops"]"#)
                _ = try await client.hello(nick, token: userToken)
                _ = try await client.enter("swift")
                clients.append(client)
            }
            let insider = try await nodes[0].connect(subprotocols: ["chat.v3.json"])
            _ = try await insider.hello("insider", token: token)
            _ = try await insider.enter("private.ops")

            let (_, rooms) = try await api.get("/api/rooms")
            #expect(roomCounts(rooms) == ["swift": 4, "private.ops": 1, "lobby": 0])

            let (_, page) = try await api.get("/api/rooms/swift/users?prefix=b&limit=1")
            #expect(page.integer("count") == 4)
            #expect(page["users"] == .array([.string("bea")]))
            #expect(page.string("next") == "bea")
            let (_, rest) = try await api.get("/api/rooms/swift/users?prefix=b&after=bea")
            #expect(rest["users"] == .array([.string("bob")]))
            #expect(rest["next"] == nil)
            #expect(try await api.get("/api/rooms/nowhere/users").1.string("error") == "no_such_room")
            #expect(try await api.get("/api/rooms/Nope!/users").0 == 400)
            #expect(try await api.get("/api/rooms/swift/users?limit=0").0 == 400)

            for number in 1...5 {
                try await clients[0].send(#"{"type":"say","room":"swift","text":"line \#(number)"}"#)
                _ = await clients[0].next(ofType: "message")
            }
            let (_, all) = try await api.get("/api/rooms/swift/history")
            #expect(texts(all["history"]) == (1...5).map { "line \($0)" })
            let (_, lastTwo) = try await api.get("/api/rooms/swift/history?limit=2")
            #expect(texts(lastTwo["history"]) == ["line 4", "line 5"])
            let secondID = try #require(ids(all["history"])[1])
            let (_, after) = try await api.get("/api/rooms/swift/history?since=\(secondID)&limit=2")
            #expect(texts(after["history"]) == ["line 3", "line 4"])
            #expect(try await api.get("/api/rooms/swift/history?limit=1001").0 == 400)
            #expect(try await api.get("/api/rooms/nowhere/history").0 == 404)
        }
    }

    @Test("kick: a v3 user gets parted with kicked and may join again; the others see it leave with kicked", arguments: RoomsSetup.allCases)
    func kickV3(setup: RoomsSetup) async throws {
        try await setup.runWithAPI { nodes in
            let api = APIClient(port: nodes[0].port)
            let (stays, _) = try await nodes[0].joinV3("stays")
            let (goes, _) = try await nodes[nodes.count - 1].joinV3("goes")
            _ = try await stays.enter("hall")
            _ = try await goes.enter("hall")
            _ = try await goes.enter("other")
            _ = await stays.next(ofType: "presence")

            #expect(try await api.post("/api/kick", #"{"room":"hall","nick":"GOES"}"#).0 == 200)
            let parted = try #require(await goes.next(ofType: "parted"))
            #expect(parted.string("room") == "hall" && parted.string("reason") == "kicked")
            let presence = try #require(await stays.next(ofType: "presence"))
            guard case .array(let left) = presence["left"], case .object(let departure) = left.first else {
                Issue.record("no left entry in \(presence)")
                return
            }
            #expect(departure.string("nick") == "goes" && departure.string("reason") == "kicked")
            try await goes.send(#"{"type":"say","room":"hall","text":"x"}"#)
            #expect(await goes.nextErrorCode() == "not_in_room")
            try await goes.send(#"{"type":"say","room":"other","text":"still in other"}"#)
            #expect(await goes.next(ofType: "message")?.string("text") == "still in other")
            _ = try await goes.enter("hall")

            for (body, code) in [
                (#"{"room":"other","nick":"stays"}"#, "not_in_room"), (#"{"room":"hall","nick":"nobody"}"#, "no_such_user"),
                (#"{"room":"void","nick":"stays"}"#, "no_such_room"),
            ] {
                let (status, error) = try await api.post("/api/kick", body)
                #expect(status == 404, "\(body)")
                #expect(error.string("error") == code, "\(body)")
            }
        }
    }

    @Test("kick from lobby disconnects a v1 user with 1008; disconnect closes any user's connection with 1008; others see quit", arguments: RoomsSetup.allCases)
    func kickV1AndDisconnect(setup: RoomsSetup) async throws {
        try await setup.runWithAPI { nodes in
            let api = APIClient(port: nodes[0].port)
            let (watcher, _) = try await nodes[0].join("watcher")
            let (oldie, _) = try await nodes[nodes.count - 1].join("oldie")
            _ = await watcher.next(ofType: "joined")
            #expect(try await api.post("/api/kick", #"{"room":"lobby","nick":"oldie"}"#).0 == 200)
            #expect(await oldie.closeCode() == .some(1008))
            let left = try #require(await watcher.next(ofType: "left"))
            #expect(left.string("nick") == "oldie" && left.string("reason") == "quit")

            let (v3, _) = try await nodes[nodes.count - 1].joinV3("troll")
            #expect(try await api.post("/api/disconnect", #"{"nick":"troll","reason":"spam"}"#).0 == 200)
            #expect(await v3.closeCode() == .some(1008))
            // Once its departure reached Redis, the user is gone from the cluster.
            var answer = try await api.post("/api/disconnect", #"{"nick":"troll"}"#)
            let deadline = ContinuousClock.now + .seconds(5)
            while answer.0 != 404, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                answer = try await api.post("/api/disconnect", #"{"nick":"troll"}"#)
            }
            #expect(answer.0 == 404 && answer.1.string("error") == "no_such_user")
            // The nick is free again.
            _ = try await nodes[0].joinV3("troll")
        }
    }

    private func texts(_ history: JSONValue?) -> [String] {
        guard case .array(let lines) = history else { return [] }
        return lines.compactMap { if case .object(let line) = $0 { line["text"]?.stringValue } else { nil } }
    }

    private func ids(_ history: JSONValue?) -> [String] {
        guard case .array(let lines) = history else { return [] }
        return lines.compactMap { if case .object(let line) = $0 { line["id"]?.stringValue } else { nil } }
    }

    private func roomCounts(_ answer: [String: JSONValue]) -> [String: Int64] {
        guard case .array(let rooms) = answer["rooms"] else { return [:] }
        var counts: [String: Int64] = [:]
        for case .object(let room) in rooms {
            if let name = room["room"]?.stringValue, let count = room["count"]?.int64Value { counts[name] = count }
        }
        return counts
    }
}
