import ChatProtocol
import TestSupport

/// Scenario 8: a fixed-seed fuzzer against a live node: malformed and
/// hostile JSON, broken frames, garbage instead of HTTP, half-sent and
/// silent sockets, and 1,000 connections from one client. The node never
/// crashes, answers each case as PROTOCOL.md says, and its memory and file
/// descriptors return to their baseline.
struct HostileBytesScenario {
    var randomCases: Int
    var seed: UInt64 = 20261130

    func run() async throws -> ScenarioReport {
        let cluster = try await ChaosCluster(nodes: 1)
        let port = cluster.ports[0]
        var report = ScenarioReport(
            scenario: "hostile-bytes", load: "1 node, seed \(seed)",
            fault: "\(randomCases) random frames, 9 frame rules, 4 JSON rules, garbage HTTP, 50 half-sent + 50 silent sockets, 1,000 idle connections"
        )
        let pid = try require(cluster.nodePIDs.first)
        let baseline = try require(ProcessFootprint(pid: pid), "the node's footprint")
        var random = SplitMix64(seed: seed)

        // Sockets that never finish (or never start) a request head, opened first: they must be closed after 10 s.
        var idleSockets: [RawTCPClient] = []
        for index in 0..<100 {
            let socket = try await RawTCPClient.connect(port: port)
            if index % 2 == 0 { try await socket.send("GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs") }
            idleSockets.append(socket)
        }
        // 1,000 WebSocket connections from this one client that never say hello: closed with 1008 after 10 s.
        var crowd: [WebSocketTestClient] = []
        for _ in 0..<1_000 { crowd.append(try await WebSocketTestClient.connect(port: port)) }
        let opened = ContinuousClock.now

        // JSON rules: each answered with an error, the connection stays usable.
        let probe = try await joined(port: port, nick: "probe")
        let nested = #"{"type":"say","text":"# + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + "}"
        let jsonCases: [(String, String)] = [
            (#"{"type":"say","text":"#, "bad_message"), (#"{"type":5}"#, "bad_message"), (nested, "bad_message"),
            (#"{"type":"say","text":""# + String(repeating: "x", count: 15_000) + #""}"#, "text_invalid"),
        ]
        var jsonWrong: [String] = []
        for (text, code) in jsonCases {
            try await probe.send(text)
            let answer = await probe.nextMessage(timeout: .seconds(5))
            if answer?["code"]?.stringValue != code { jsonWrong.append("\(text.prefix(20))… → \(answer.map { "\($0)" } ?? "nothing")") }
        }
        try await probe.send(#"{"type":"ping"}"#)
        let stillServed = await probe.nextMessage(timeout: .seconds(5))?["type"]?.stringValue == "pong"
        report.check("JSON rules answered, connection kept", jsonWrong.isEmpty && stillServed, "\(jsonCases.count - jsonWrong.count)/\(jsonCases.count)\(jsonWrong.first.map { " (\($0))" } ?? "")")

        // Frame rules: each closes the connection with its code.
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 16_385)
        let hugeHeader: [UInt8] = [0x81, 0xFF] + withUnsafeBytes(of: UInt64(1 << 62).bigEndian, Array.init) + [1, 2, 3, 4]
        let frameCases: [(name: String, send: @Sendable (WebSocketTestClient) async throws -> Void, code: UInt16)] = [
            ("binary", { try await $0.sendFrame(opcode: 0x2, payload: [1, 2, 3]) }, 1003),
            ("too big", { try await $0.sendFrame(opcode: 0x1, payload: big) }, 1009),
            ("bad UTF-8", { try await $0.sendFrame(opcode: 0x1, payload: [0x7B, 0xC3, 0x28, 0x7D]) }, 1007),
            ("reserved opcode 3", { try await $0.sendFrame(opcode: 0x3, payload: []) }, 1002),
            ("reserved opcode 11", { try await $0.sendFrame(opcode: 0xB, payload: []) }, 1002),
            ("continuation first", { try await $0.sendFrame(opcode: 0x0, payload: Array("x".utf8)) }, 1002),
            ("RSV1 not negotiated", { try await $0.sendFrame(opcode: 0x1, payload: Array("{}".utf8), rsv1: true) }, 1002),
            ("unmasked", { try await $0.sendRaw([0x81, 0x02, 0x7B, 0x7D]) }, 1002),
            ("2^62-byte header", { try await $0.sendRaw(hugeHeader) }, 1009),
        ]
        var frameWrong: [String] = []
        for frameCase in frameCases {
            let client = try await joined(port: port, nick: "frames")
            try await frameCase.send(client)
            let code = await client.closeCode(timeout: .seconds(5))
            if code != .some(frameCase.code) { frameWrong.append("\(frameCase.name) → \(String(describing: code))") }
            await client.disconnect()
        }
        report.check("frame rules closed with their code", frameWrong.isEmpty, "\(frameCases.count - frameWrong.count)/\(frameCases.count)\(frameWrong.first.map { " (\($0))" } ?? "")")

        // Random frames: any answer PROTOCOL.md allows (an error, or a close with a documented code).
        var undocumented: [String] = []
        let documented: Set<UInt16> = [1002, 1003, 1007, 1008, 1009]
        var client = try await joined(port: port, nick: "fuzz")
        for index in 0..<randomCases {
            let opcode = [0x0, 0x1, 0x1, 0x1, 0x2, 0x3, 0x8, 0x9, 0xA, 0xF][Int(random.next() % 10)]
            let length = Int(random.next() % (random.next() % 4 == 0 ? 20_000 : 200))
            let payload = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            try? await client.sendFrame(opcode: UInt8(opcode), payload: payload, fin: random.next() % 5 != 0, rsv1: random.next() % 7 == 0)
            // Whatever it answers, the connection either goes on or ends with a documented code.
            while let event = await client.next(timeout: .milliseconds(150)) {
                if case .close(let code, _) = event {
                    if let code, !documented.contains(code), !(opcode == 0x8 && code == 1000) { undocumented.append("case \(index): \(code)") }
                    await client.disconnect()
                    client = try await joined(port: port, nick: "fuzz\(index)")
                    break
                }
                if case .disconnected = event {
                    client = try await joined(port: port, nick: "fuzz\(index)")
                    break
                }
            }
        }
        report.check("random frames answered as documented", undocumented.isEmpty, "\(randomCases - undocumented.count)/\(randomCases)\(undocumented.first.map { " (\($0))" } ?? "")")

        // Garbage instead of HTTP: 400, then closed.
        var garbageWrong = 0
        for index in 0..<20 {
            let socket = try await RawTCPClient.connect(port: port)
            let garbage = (0..<(50 + index * 10)).map { _ in UInt8(truncatingIfNeeded: random.next() % 94 + 33) }
            try await socket.send(bytes: garbage + Array("\r\n\r\n".utf8))
            let answer = await socket.waitForClose(timeout: .seconds(5))
            if answer.map({ $0.hasPrefix("HTTP/1.1 400") || $0.isEmpty }) != true { garbageWrong += 1 }
        }
        report.check("garbage instead of HTTP refused", garbageWrong == 0, "\(20 - garbageWrong)/20 answered 400 or closed")

        // Meanwhile a normal user is served at once.
        let served = try await joined(port: port, nick: "bystander")
        try await served.send(#"{"type":"ping"}"#)
        report.check("others served meanwhile", await served.nextMessage(timeout: .seconds(2))?["type"]?.stringValue == "pong", "ping answered")

        // The idle sockets and the silent crowd are closed on time.
        let deadline = opened + .seconds(14)
        var socketsClosed = 0
        for socket in idleSockets where await socket.waitForClose(timeout: max(deadline - .now, .milliseconds(10))) != nil { socketsClosed += 1 }
        var crowdClosed = 0
        for member in crowd where await member.closeCode(timeout: max(deadline - .now, .milliseconds(10))) == .some(1008) { crowdClosed += 1 }
        report.check("half-sent and silent sockets closed", socketsClosed == idleSockets.count, "\(socketsClosed)/\(idleSockets.count) within 14 s")
        report.check("1,000 silent WebSockets closed with 1008", crowdClosed == crowd.count, "\(crowdClosed)/\(crowd.count)")
        for member in crowd { await member.disconnect() }
        await probe.disconnect()
        await client.disconnect()
        await served.disconnect()

        try await Task.sleep(for: .seconds(2))
        let health = await HTTPProbe.get(port: port, path: "/healthz")?.status
        report.check("node alive", cluster.nodePIDs.count == 1 && health == 200, "healthz \(health.map(String.init) ?? "no answer")")
        let after = try require(ProcessFootprint(pid: pid), "the node's footprint")
        report.check("file descriptors back to baseline", after.openFiles <= baseline.openFiles + 2, "\(baseline.openFiles) → \(after.openFiles)")
        let growth = after.residentBytes - baseline.residentBytes
        report.check("memory back near baseline", growth < 32 << 20, "RSS \(baseline.residentBytes >> 20) MB → \(after.residentBytes >> 20) MB")
        return report
    }

    private func joined(port: Int, nick: String) async throws -> WebSocketTestClient {
        let client = try await WebSocketTestClient.connect(port: port)
        try await client.send(#"{"type":"hello","nick":"\#(nick)"}"#)
        guard await client.nextMessage(timeout: .seconds(5))?["type"]?.stringValue == "welcome" else {
            throw ChaosFailure("\(nick) could not join")
        }
        return client
    }
}
