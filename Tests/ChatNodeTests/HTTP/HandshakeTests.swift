import ChatNode
import Testing

extension TestNode {
    fileprivate func status(origin: String) async throws -> Int {
        let client = try await connect(origin: origin)
        await client.disconnect()
        return client.handshake.status
    }
}

@Suite("WebSocket handshake at /chat")
struct HandshakeTests {
    @Test("chat.v1.json is selected and echoed, alone or among other offers")
    func selectsSubprotocol() async throws {
        try await withNode { node in
            for offer in [["chat.v1.json"], ["chat.v0.xml", "chat.v1.json"], ["chat.v1.json", "chat.v9.json"]] {
                let client = try await node.connect(subprotocols: offer)
                #expect(client.handshake.status == 101)
                #expect(client.handshake.header("Sec-WebSocket-Protocol") == "chat.v1.json")
                await client.disconnect()
            }
        }
    }

    @Test("no or unsupported subprotocol is refused with 400 listing the supported ones")
    func refusesUnsupported() async throws {
        try await withNode { node in
            for offer in [nil, ["chat.v4.json"], ["json"]] as [[String]?] {
                let client = try await node.connect(subprotocols: offer)
                #expect(client.handshake.status == 400)
                #expect(client.handshake.header("Content-Type")?.hasPrefix("text/plain") == true)
                #expect(client.handshake.body.contains("chat.v3.json, chat.v2.json, chat.v1.json"))
            }
        }
    }

    @Test("a client offering v1 and v2 gets v2, the newest")
    func selectsV2() async throws {
        try await withNode { node in
            let client = try await node.connect(subprotocols: ["chat.v1.json", "chat.v2.json"])
            #expect(client.handshake.status == 101)
            #expect(client.handshake.header("Sec-WebSocket-Protocol") == "chat.v2.json")
            await client.disconnect()
        }
    }

    @Test("no Origin (non-browser) and a same-origin Origin are accepted")
    func acceptsSameOrigin() async throws {
        try await withNode { node in
            let host = "127.0.0.1:\(node.port)"
            for origin in [nil, "http://\(host)", "https://\(host)", "HTTP://127.0.0.1:\(node.port)"] {
                let client = try await node.connect(origin: origin)
                #expect(client.handshake.status == 101, "origin \(origin ?? "none")")
                await client.disconnect()
            }
            let defaultPort = try await node.connect(origin: "https://chat.example", hostHeader: "chat.example:443")
            #expect(defaultPort.handshake.status == 101)
        }
    }

    @Test("a foreign Origin is refused with 403, before subprotocol negotiation")
    func refusesForeignOrigin() async throws {
        try await withNode { node in
            for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
                let client = try await node.connect(origin: origin)
                #expect(client.handshake.status == 403, "origin \(origin)")
            }
            let both = try await node.connect(subprotocols: nil, origin: "http://evil.example")
            #expect(both.handshake.status == 403)
        }
    }

    @Test("--allowed-origin admits listed origins exactly; * admits any, null included")
    func allowedOrigins() async throws {
        let listed = try await withNode({ $0.allowedOrigins = ["https://app.example"] }) { node in
            [
                try await node.status(origin: "https://app.example"),
                try await node.status(origin: "https://app.example:443"),
                try await node.status(origin: "http://app.example"),
                try await node.status(origin: "https://app.example:8443"),
            ]
        }
        #expect(listed == [101, 101, 403, 403])
        let any = try await withNode({ $0.allowedOrigins = ["*"] }) { node in
            [try await node.status(origin: "http://anything.example"), try await node.status(origin: "null")]
        }
        #expect(any == [101, 101])
    }
}
