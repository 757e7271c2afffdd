import ChatProtocol
import Testing

@Suite("Rate limiting")
struct RateLimitTests {
    @Test("a burst of 30 passes, the 31st is rate_limited with its ref")
    func burst() async throws {
        try await withNode({ $0.rate = 0.001 }) { node in
            let client = try await node.connect()
            for index in 0..<31 {
                try await client.send(#"{"type":"ping","ref":"\#(index)"}"#)
            }
            for index in 0..<30 {
                let pong = try #require(await client.nextMessage())
                #expect(pong.string("type") == "pong")
                #expect(pong.string("ref") == String(index))
            }
            let limited = try #require(await client.nextMessage())
            #expect(limited.string("code") == "rate_limited")
            #expect(limited.string("ref") == "30")
        }
    }

    @Test("invalid messages take tokens too")
    func invalidTakesTokens() async throws {
        try await withNode({ $0.rate = 0.001; $0.burst = 2 }) { node in
            let client = try await node.connect()
            try await client.send("garbage")
            try await client.send(#"{"type":"nope"}"#)
            try await client.send(#"{"type":"ping"}"#)
            #expect(await client.nextMessage()?.string("code") == "bad_message")
            #expect(await client.nextMessage()?.string("code") == "unknown_type")
            #expect(await client.nextMessage()?.string("code") == "rate_limited")
        }
    }

    @Test("tokens refill at the configured rate")
    func refill() async throws {
        try await withNode({ $0.rate = 1; $0.burst = 1 }) { node in
            let client = try await node.connect()
            try await client.send(#"{"type":"ping"}"#)
            try await client.send(#"{"type":"ping"}"#)
            #expect(await client.nextMessage()?.string("type") == "pong")
            #expect(await client.nextMessage()?.string("code") == "rate_limited")
            try await Task.sleep(for: .milliseconds(1100))
            try await client.send(#"{"type":"ping"}"#)
            #expect(await client.nextMessage()?.string("type") == "pong")
        }
    }

    @Test("100 rate_limited answers in a row close the connection with 1008")
    func floodingCloses() async throws {
        try await withNode({ $0.rate = 0.001; $0.burst = 1 }) { node in
            let client = try await node.connect()
            for _ in 0..<101 {
                try await client.send(#"{"type":"ping"}"#)
            }
            var limited = 0
            var closeCode: UInt16?
            while let event = await client.next() {
                if case .text(let text) = event, text.contains("rate_limited") { limited += 1 }
                if case .close(let code, _) = event { closeCode = code; break }
            }
            #expect(limited == 100)
            #expect(closeCode == 1008)
        }
    }

    @Test("--rate 0 turns the limit off")
    func unlimited() async throws {
        try await withNode({ $0.rate = 0; $0.burst = 1 }) { node in
            let client = try await node.connect()
            for _ in 0..<200 { try await client.send(#"{"type":"ping"}"#) }
            for _ in 0..<200 {
                #expect(await client.nextMessage()?.string("type") == "pong")
            }
        }
    }
}
