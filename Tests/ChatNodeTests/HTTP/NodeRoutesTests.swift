import ChatNode
import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("HTTP surface")
struct NodeRoutesTests {
    private func get(_ port: Int, _ path: String) async throws -> (Int, String, [AnyHashable: Any]) {
        let url = URL(string: "http://127.0.0.1:\(port)\(path)")!
        let (data, response) = try await URLSession.shared.data(from: url)
        let http = response as! HTTPURLResponse
        return (http.statusCode, String(decoding: data, as: UTF8.self), http.allHeaderFields)
    }

    @Test("healthz and readyz answer 200 on a running standalone node")
    func health() async throws {
        try await withNode { node in
            let health = try await get(node.port, "/healthz")
            let ready = try await get(node.port, "/readyz")
            #expect(health.0 == 200)
            #expect(ready.0 == 200)
        }
    }

    @Test("metrics are Prometheus text with the documented names")
    func metrics() async throws {
        try await withNode { node in
            let (joined, _) = try await node.join("metered")
            try await joined.send(#"{"type":"say","text":"count me"}"#)
            _ = await joined.nextMessage()
            let (status, body, _) = try await get(node.port, "/metrics")
            #expect(status == 200)
            for name in [
                "chat_connections", "chat_joined_users", "chat_messages_received_total", "chat_events_delivered_total",
                "chat_bus_publishes_total", "chat_bus_failures_total", "chat_slow_consumer_dropped_events_total",
                "chat_outbound_queued_bytes", "chat_outbound_queued_events",
            ] {
                #expect(body.contains("\n\(name) ") || body.hasPrefix("\(name) ") || body.contains("# TYPE \(name) "), "missing \(name)")
            }
            #expect(body.contains("chat_joined_users 1"))
            #expect(body.contains("chat_messages_received_total 2"))
        }
    }

    @Test("metrics include the process's figures by Prometheus's names, with plausible values, and chat_build_info")
    func processMetrics() async throws {
        try await withNode { node in
            let (_, body, _) = try await get(node.port, "/metrics")
            func value(_ name: String) -> Double? {
                body.split(separator: "\n").first { $0.hasPrefix("\(name) ") }.flatMap { Double($0.split(separator: " ")[1]) }
            }
            let resident = try #require(value("process_resident_memory_bytes"))
            let open = try #require(value("process_open_fds"))
            let maximum = try #require(value("process_max_fds"))
            let started = try #require(value("process_start_time_seconds"))
            let cpu = try #require(value("process_cpu_seconds_total"))
            #expect(resident > 1_000_000)
            #expect(open >= 3 && open <= maximum)
            #expect(started > Date().timeIntervalSince1970 - 86_400 && started <= Date().timeIntervalSince1970 + 1)
            #expect(cpu > 0)
            #expect(body.contains("# TYPE process_cpu_seconds_total counter"))
            #expect(body.contains("chat_build_info{version=\"\(ChatNodeVersion.current)\",commit=\"\(ChatNodeVersion.commit ?? "unknown")\"} 1"))
        }
    }

    @Test("users are counted by protocol version, and each v2 presence batch's size is recorded")
    func versionAndPresenceMetrics() async throws {
        try await withNode({ $0.presenceInterval = .milliseconds(50) }) { node in
            var clients: [WebSocketTestClient] = []
            for index in 0..<2 { clients.append(try await node.join("old\(index)").0) }
            for index in 0..<3 {
                clients.append(try await node.join("new\(index)", subprotocol: "chat.v2.json").0)
                // Joins inside one interval all go to newcomers; spaced out, each is a shared batch for those before.
                try await Task.sleep(for: .milliseconds(150))
            }
            try await Task.sleep(for: .milliseconds(300))
            let (_, body, _) = try await get(node.port, "/metrics")
            #expect(body.contains(#"chat_joined_users_by_version{version="chat.v1.json"} 2"#))
            #expect(body.contains(#"chat_joined_users_by_version{version="chat.v2.json"} 3"#))
            let batches = body.split(separator: "\n").first { $0.hasPrefix("chat_presence_batch_size_count") }
            let count = batches.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
            #expect(count >= 1, "new0 saw new1 and new2 join in batches")
        }
    }

    @Test("chat lines are timed from their arrival to a recipient's socket, into a histogram")
    func deliveryLatencyHistogram() async throws {
        try await withNode({ $0.rate = 0 }) { node in
            let (alice, _) = try await node.join("alice")
            let (bob, _) = try await node.join("bob")
            let (carol, _) = try await node.join("carol")
            for index in 0..<10 {
                try await alice.send(#"{"type":"say","text":"\#(index)"}"#)
                _ = await bob.next(ofType: "message")
                _ = await carol.next(ofType: "message")
            }
            let body = node.server.node.metrics.render()
            #expect(body.contains("# TYPE chat_delivery_latency_seconds histogram"))
            let count = body.split(separator: "\n").first { $0.hasPrefix("chat_delivery_latency_seconds_count") }
                .flatMap { Int($0.split(separator: " ")[1]) }
            #expect((count ?? 0) > 0, "no delivery was timed")
        }
    }

    @Test("/ serves a page with a strict Content-Security-Policy")
    func page() async throws {
        try await withNode { node in
            let (status, body, headers) = try await get(node.port, "/")
            #expect(status == 200)
            #expect(body.contains("<html"))
            let csp = headers["Content-Security-Policy"] as? String
            #expect(csp?.contains("script-src 'self'") == true)
            #expect(headers["X-Content-Type-Options"] as? String == "nosniff")
        }
    }

    @Test("a plain GET of /chat says it is a WebSocket endpoint")
    func plainChat() async throws {
        try await withNode { node in
            let url = URL(string: "http://127.0.0.1:\(node.port)/chat")!
            var request = URLRequest(url: url)
            request.setValue("chat.v1.json", forHTTPHeaderField: "Sec-WebSocket-Protocol")
            let (_, response) = try await URLSession.shared.data(for: request)
            #expect((response as! HTTPURLResponse).statusCode == 426)
        }
    }

    @Test("HEAD on every path is answered like GET, without a body", arguments: ["/", "/healthz", "/readyz", "/metrics", "/chat", "/app/js/main.js"])
    func head(_ path: String) async throws {
        try await withNode { node in
            // Raw bytes, so nothing between the test and the node hides a body.
            let get = try await RawTCPClient.connect(port: node.port)
            try await get.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            let getAnswer = try #require(await get.waitForClose(timeout: .seconds(5)))
            let head = try await RawTCPClient.connect(port: node.port)
            try await head.send("HEAD \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            let headAnswer = try #require(await head.waitForClose(timeout: .seconds(5)))
            let getStatus = getAnswer.split(separator: "\r\n").first
            #expect(headAnswer.split(separator: "\r\n").first == getStatus)
            #expect(headAnswer.hasSuffix("\r\n\r\n"), "HEAD answered with a body: \(headAnswer)")
        }
    }
}
