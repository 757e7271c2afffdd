import ChatProtocol
import TestSupport
import Testing

/// A `hello` that arrives in time is not late because the cluster is slow to
/// answer it (PROTOCOL.md §2: "no successful hello arrives within 10 s").
@Suite("A slow cluster and the hello timeout")
struct SlowClusterTests {
    @Test("a hello sent in time is welcomed even when Redis answers after the hello timeout")
    func helloInTimeIsNotLate() async throws {
        // The timeout leaves the client time to send its hello on a busy machine; the pause
        // outlasts it yet stays under the 3 s after which a silent Redis counts as lost.
        try await withCluster(nodes: 1, { $0.helloTimeout = .seconds(1) }) { cluster in
            let client = try await cluster.nodes[0].connect()
            cluster.redis.pause()
            try await client.send(#"{"type":"hello","nick":"patient"}"#)
            try await Task.sleep(for: .milliseconds(2000))
            cluster.redis.resume()
            let welcome = await client.nextMessage(timeout: .seconds(5))
            #expect(welcome?.string("type") == "welcome")
            try await client.send(#"{"type":"ping","ref":"still-open"}"#)
            #expect(await client.nextMessage()?.string("ref") == "still-open")
        }
    }

    @Test("if that late answer is a refusal, the connection is closed with 1008 after it")
    func lateRefusalCloses() async throws {
        // A timeout long enough for the holder's own hello on a busy machine, yet shorter than the
        // pause, which stays under the 3 s after which a silent Redis counts as lost.
        try await withCluster(nodes: 1, { $0.helloTimeout = .seconds(1) }) { cluster in
            let (holder, _) = try await cluster.nodes[0].join("taken")
            let client = try await cluster.nodes[0].connect()
            cluster.redis.pause()
            try await client.send(#"{"type":"hello","nick":"taken"}"#)
            try await Task.sleep(for: .milliseconds(2000))
            cluster.redis.resume()
            let refusal = await client.nextMessage(timeout: .seconds(5))
            #expect(refusal?.string("code") == "nick_taken")
            #expect(await client.closeCode() == .some(1008))
            _ = holder
        }
    }
}
