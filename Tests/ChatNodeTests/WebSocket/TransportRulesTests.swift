import ChatProtocol
import TestSupport
import Testing

@Suite("Transport rules of a connection")
struct TransportRulesTests {
    @Test("a binary frame closes with 1003")
    func binary() async throws {
        try await withNode { node in
            let client = try await node.connect()
            try await client.sendFrame(opcode: 0x2, payload: [1, 2, 3])
            #expect(await client.closeCode() == .some(1003))
        }
    }

    @Test("a reserved opcode closes with 1002", arguments: [UInt8(0x3), 0x7, 0xB, 0xF])
    func reservedOpcode(_ opcode: UInt8) async throws {
        try await withNode { node in
            let client = try await node.connect()
            try await client.sendFrame(opcode: opcode, payload: [])
            #expect(await client.closeCode() == .some(1002))
        }
    }

    @Test("an unmasked frame closes with 1002 (found by chat-chaos: it was read as if masked)")
    func unmaskedFrame() async throws {
        try await withNode { node in
            let client = try await node.connect()
            try await client.sendRaw([0x81, 0x02, 0x7B, 0x7D])
            #expect(await client.closeCode() == .some(1002))
        }
    }

    @Test("a client's close frame is answered with its code; a code no endpoint may send gets 1002")
    func closeCodes() async throws {
        try await withNode { node in
            for (sent, expected): (UInt16, UInt16) in [(1000, 1000), (4001, 4001), (1005, 1002), (999, 1002), (45950, 1002), (2999, 1002)] {
                let client = try await node.connect()
                try await client.sendClose(code: sent)
                #expect(await client.closeCode() == .some(expected), "client sent \(sent)")
            }
        }
    }

    @Test("invalid UTF-8 in a text frame closes with 1007")
    func invalidUTF8() async throws {
        try await withNode { node in
            let client = try await node.connect()
            try await client.sendFrame(opcode: 0x1, payload: [0x7B, 0xC3, 0x28, 0x7D])
            #expect(await client.closeCode() == .some(1007))
        }
    }

    @Test("a message of 16384 bytes is accepted; 16385 bytes close with 1009")
    func sizeLimitSingleFrame() async throws {
        try await withNode { node in
            let client = try await node.connect()
            let envelope = #"{"type":"ping","pad":""}"#
            let padding = String(repeating: "x", count: 16_384 - envelope.utf8.count)
            try await client.send(#"{"type":"ping","pad":"\#(padding)"}"#)
            #expect(await client.nextMessage()?.string("type") == "pong")
            try await client.send(#"{"type":"ping","pad":"\#(padding)x"}"#)
            #expect(await client.closeCode() == .some(1009))
        }
    }

    @Test("the size limit applies after defragmentation")
    func sizeLimitFragmented() async throws {
        try await withNode { node in
            let client = try await node.connect()
            let chunk = [UInt8](repeating: 0x20, count: 10_000)
            try await client.sendFrame(opcode: 0x1, payload: chunk, fin: false)
            try await client.sendFrame(opcode: 0x0, payload: chunk, fin: true)
            #expect(await client.closeCode() == .some(1009))
        }
    }

    @Test("a fragmented message is reassembled")
    func fragments() async throws {
        try await withNode { node in
            let client = try await node.connect()
            try await client.sendFrame(opcode: 0x1, payload: Array(#"{"type":"pi"#.utf8), fin: false)
            try await client.sendFrame(opcode: 0x0, payload: Array(#"ng","ref":"#.utf8), fin: false)
            try await client.sendFrame(opcode: 0x0, payload: Array(#""f"}"#.utf8), fin: true)
            let pong = try #require(await client.nextMessage())
            #expect(pong.string("type") == "pong")
            #expect(pong.string("ref") == "f")
        }
    }

    @Test("without a successful hello the connection is closed with 1008 after the hello timeout")
    func helloTimeout() async throws {
        try await withNode({ $0.helloTimeout = .seconds(2) }) { node in
            let client = try await node.connect()
            try await client.send(#"{"type":"hello","nick":"bad nick"}"#)
            #expect(await client.nextMessage()?.string("code") == "nick_invalid")
            #expect(await client.closeCode(timeout: .seconds(5)) == .some(1008))

            let (joined, _) = try await node.join("quick")
            // Past the hello timeout: a joined connection is not closed by it.
            #expect(await joined.next(timeout: .milliseconds(2500)) == nil)
        }
    }

    @Test("the server pings; a client that stops answering is dropped and others see left/timeout")
    func heartbeatTimeout() async throws {
        // Not shorter: the watcher answers pings from a loop it shares with every test in the process,
        // and on a loaded machine a shorter interval drops it too.
        try await withNode({ $0.pingInterval = .milliseconds(1500) }) { node in
            let (watcher, _) = try await node.join("watcher")
            let (silent, _) = try await node.join("silent", autoPong: false)
            _ = await watcher.nextMessage()
            #expect(await silent.next(timeout: .seconds(5)) == .ping)
            // Due after two intervals (3 s); the wait is long only so a test machine busy for seconds still sees it.
            let left = try #require(await watcher.nextMessage(timeout: .seconds(15)))
            #expect(left.string("type") == "left")
            #expect(left.string("nick") == "silent")
            #expect(left.string("reason") == "timeout")
            // The peer is presumed gone: the TCP connection just ends.
            var sawDisconnect = false
            while let event = await silent.next(timeout: .seconds(1)) {
                if event == .disconnected { sawDisconnect = true }
            }
            #expect(sawDisconnect)
            // A client that answers pings stays connected through several intervals.
            try await watcher.send(#"{"type":"ping"}"#)
            #expect(await watcher.nextMessage()?.string("type") == "pong")
        }
    }

    @Test("a client that stops reading is closed; others keep receiving")
    func slowConsumer() async throws {
        try await withNode({
            $0.rate = 0
            // Far below the 3.8 MB sent, yet room enough for a reader that a test process busy
            // on 2 cores (the first seconds of a run) starves for a while.
            $0.maximumQueuedBytes = 1024 * 1024
        }) { node in
            let (sender, _) = try await node.join("sender")
            let (reader, _) = try await node.join("reader")
            let (stuck, _) = try await node.join("stuck")
            try await stuck.pauseReading()
            _ = await sender.nextMessage(); _ = await sender.nextMessage(); _ = await reader.nextMessage()
            let text = String(repeating: "y", count: 1900)
            let count = 2000
            for index in 0..<count {
                try await sender.send(#"{"type":"say","text":"\#(index) \#(text)"}"#)
            }
            var received = 0
            var sawStuckLeave = false
            // A reader in a process busy with other tests may wait seconds for the next line.
            while received < count, let event = await reader.nextMessage(timeout: .seconds(15)) {
                if event.string("type") == "message" { received += 1 }
                if event.string("type") == "left", event.string("nick") == "stuck" {
                    sawStuckLeave = true
                    #expect(event.string("reason") == "quit")
                }
            }
            #expect(received == count)
            if !sawStuckLeave {
                let left = await reader.nextMessage(timeout: .seconds(5))
                #expect(left?.string("nick") == "stuck")
            }
            let metrics = node.server.node.metrics.render()
            #expect(metrics.contains("chat_slow_consumer_disconnects_total 1"), "\(metrics.split(separator: "\n").filter { $0.hasPrefix("chat_slow") })")
            #expect(!metrics.contains("chat_slow_consumer_dropped_events_total 0\n"))
        }
    }

    @Test("a client that keeps reading is never closed, however many small events it gets")
    func readingClientIsNotSlow() async throws {
        try await withNode({
            $0.rate = 0
            $0.maximumQueuedBytes = 16 * 1024
        }) { node in
            let (sender, _) = try await node.join("sender")
            let (reader, _) = try await node.join("reader")
            _ = await sender.nextMessage()
            let count = 3000
            for index in 0..<count {
                try await sender.send(#"{"type":"say","text":"\#(index)"}"#)
            }
            var received = 0
            while received < count, let event = await reader.nextMessage() {
                if event.string("type") == "message" { received += 1 }
            }
            #expect(received == count)
            #expect(node.server.node.metrics.render().contains("chat_slow_consumer_disconnects_total 0"))
        }
    }
}
