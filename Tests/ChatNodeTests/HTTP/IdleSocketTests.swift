import ChatNode
import TestSupport
import Testing

/// PROTOCOL.md §1, Idle sockets, and §2, Shutdown: sockets that never get
/// to a request cannot pin a node's resources or hold up its shutdown.
@Suite("Idle and half-sent sockets")
struct IdleSocketTests {
    @Test("a socket that sends nothing is closed at the request-head deadline")
    func silentSocket() async throws {
        try await withNode({ $0.requestHeadTimeout = .milliseconds(300) }) { node in
            // Timed from before `connect`: the deadline starts at accept, and on a loaded
            // machine `connect` may return here well after that.
            let started = ContinuousClock.now
            let socket = try await RawTCPClient.connect(port: node.port)
            #expect(await socket.waitForClose(timeout: .seconds(5)) != nil)
            // Not at once.
            #expect(ContinuousClock.now - started >= .milliseconds(150))
        }
    }

    @Test("a request head sent only in part is closed at the same deadline")
    func halfSentHead() async throws {
        // Long enough that the half head is sent before the deadline even on a loaded machine.
        try await withNode({ $0.requestHeadTimeout = .seconds(1) }) { node in
            let socket = try await RawTCPClient.connect(port: node.port)
            try await socket.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            #expect(await socket.waitForClose(timeout: .seconds(5)) != nil)
        }
    }

    @Test("bytes that are not HTTP are answered 400 and the connection is closed (found by chat-chaos: it stayed open for good)")
    func garbageInsteadOfHTTP() async throws {
        try await withNode { node in
            for garbage in ["HELLO WORLD\r\n\r\n", "\u{1}\u{2}GET\r\n\r\n", "GET / HTTP/9.9.9\r\n\r\n"] {
                let socket = try await RawTCPClient.connect(port: node.port)
                try await socket.send(garbage)
                // Generous: the answer comes at once, but a test process starved on 2 cores may not see it for seconds.
                let answer = await socket.waitForClose(timeout: .seconds(10))
                #expect(answer?.hasPrefix("HTTP/1.1 400") == true, "answer to \(garbage.debugDescription): \(answer ?? "none, still open")")
            }
        }
    }

    @Test("a complete request is answered; the connection then lives until the idle timeout, not the head deadline")
    func keepAliveUntilIdle() async throws {
        try await withNode({
            // Margins wide enough for a loaded machine (the whole suite runs in
            // parallel on two cores): the head must arrive within 2 s.
            $0.requestHeadTimeout = .seconds(2)
            $0.httpIdleTimeout = .seconds(4)
        }) { node in
            let socket = try await RawTCPClient.connect(port: node.port)
            try await socket.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let started = ContinuousClock.now
            let answer = await socket.waitForClose(timeout: .seconds(8))
            #expect(answer?.hasPrefix("HTTP/1.1 200") == true)
            #expect(ContinuousClock.now - started >= .seconds(3))
        }
    }

    @Test("shutdown takes under 5 s with a silent socket, a half-sent request and a client that never answers the close frame")
    func shutdownIsNotHeldUp() async throws {
        var sockets: [RawTCPClient] = []
        var shutdownStarted = ContinuousClock.now
        try await withNode { node in
            // Default deadlines: the 10 s request-head deadline must not be what ends these.
            let silent = try await RawTCPClient.connect(port: node.port)
            let halfSent = try await RawTCPClient.connect(port: node.port)
            try await halfSent.send("GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr")
            let (deaf, _) = try await node.join("deaf", autoPong: false)
            _ = deaf
            sockets = [silent, halfSent]
            shutdownStarted = ContinuousClock.now
        }
        #expect(ContinuousClock.now - shutdownStarted < .seconds(5))
        for socket in sockets {
            #expect(await socket.waitForClose(timeout: .seconds(1)) != nil)
        }
    }
}
