import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("The load balancer in front of the nodes")
struct LoadBalancerTests {
    /// The repository's root, found from this file's path.
    private static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The status of `url`, asked again (for up to 5 s) while it is not `expected`:
    /// HAProxy's health checks on a loaded machine may hold a node back for a moment.
    private func status(_ url: String, expecting expected: Int) async throws -> Int {
        var last = -1
        for _ in 0..<25 {
            last = (try? await status(url)) ?? -1
            if last == expected { return last }
            try await Task.sleep(for: .milliseconds(200))
        }
        return last
    }

    private func status(_ url: String) async throws -> Int {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.timeoutInterval = 5
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? -1
    }

    /// Runs `body` with HAProxy (the local cluster's configuration, rendered
    /// with `environment`) on a free port in front of `nodePort`.
    private func withBalancer(in nodePort: Int, environment: [String: String] = [:], _ body: (Int) async throws -> Void) async throws {
        let lbPort = try FreePort.find()
        let prefix = environment.map { "\($0.key)=\($0.value)" }
        let rendered = try await ExternalCommand.run(
            ["env"] + prefix + ["bash", "scripts/local-haproxy-config.sh", String(lbPort), String(nodePort)], in: Self.repositoryRoot
        )
        try #require(rendered.status == 0, "\(rendered.output)")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chat-lb-\(UUID().uuidString).cfg")
        try rendered.output.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let haproxy = Process()
        haproxy.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        haproxy.arguments = ["haproxy", "-f", file.path, "-db"]
        haproxy.standardOutput = FileHandle.nullDevice
        haproxy.standardError = FileHandle.nullDevice
        try haproxy.run()
        defer {
            haproxy.terminate()
            haproxy.waitUntilExit()
        }
        for _ in 0..<100 where !FreePort.isListening(lbPort) { try await Task.sleep(for: .milliseconds(50)) }
        try await body(lbPort)
    }

    @Test("HAProxy (the local cluster's configuration) answers 404 for /metrics and /api/ from outside and passes the rest")
    func privateSurfaces() async throws {
        try await withNode({ $0.apiKeyFile = sharedAPIKeyFile }) { node in
            try await withBalancer(in: node.port) { (lbPort: Int) async throws in
                let lb = "http://127.0.0.1:\(lbPort)"
                #expect(try await status("\(lb)/metrics") == 404)
                #expect(try await status("\(lb)/metrics/") == 404)
                #expect(try await status("\(lb)/api/rooms") == 404)
                #expect(try await status("\(lb)/api") == 404)
                #expect(try await status("\(lb)/healthz", expecting: 200) == 200)
                #expect(try await status("\(lb)/", expecting: 200) == 200)
                // The node itself still serves its metrics to whoever reaches it directly (Prometheus), and its API (401 without the key).
                #expect(try await status("http://127.0.0.1:\(node.port)/metrics") == 200)
                #expect(try await status("http://127.0.0.1:\(node.port)/api/rooms") == 401)
            }
        }
    }

    @Test("with a certificate, HAProxy speaks TLS: https and a wss upgrade through it, checked against its authority, with HSTS; another authority is refused")
    func tlsAtTheEdge() async throws {
        let certificates = try await TestCertificates.make()
        let combined = FileManager.default.temporaryDirectory.appendingPathComponent("chat-lb-\(UUID().uuidString).pem")
        let pem = try String(contentsOfFile: certificates.certificate, encoding: .utf8) + String(contentsOfFile: certificates.key, encoding: .utf8)
        try pem.write(to: combined, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: combined) }
        let stranger = try await TestCertificates.make()
        try await withNode { node in
            try await withBalancer(in: node.port, environment: ["CHAT_LB_CERT": combined.path]) { (lbPort: Int) async throws in
                let base = "https://127.0.0.1:\(lbPort)"
                // Health checks may hold the node back for a moment on a loaded machine.
                var health = (status: Int32(-1), output: "")
                for _ in 0..<25 {
                    health = try await ExternalCommand.run(["curl", "-s", "-i", "--cacert", certificates.authority, "--max-time", "5", base + "/healthz"])
                    if health.output.contains(" 200") { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(health.status == 0 && health.output.contains("HTTP/1.1 200"), "\(health.output)")
                #expect(health.output.lowercased().contains("strict-transport-security: max-age="), "\(health.output)")
                // A health check that timed out meanwhile (1 s on a loaded machine) takes the node out for a moment: 503 until it is back.
                var upgrade = (status: Int32(-1), output: "")
                for _ in 0..<25 {
                    upgrade = try await ExternalCommand.run([
                        "curl", "-s", "-i", "--http1.1", "--cacert", certificates.authority, "--max-time", "2",
                        "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
                        "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "-H", "Sec-WebSocket-Protocol: chat.v3.json",
                        base + "/chat",
                    ])
                    if !upgrade.output.contains("HTTP/1.1 503") { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(upgrade.output.contains("HTTP/1.1 101"), "\(upgrade.output)")
                #expect(upgrade.output.contains("chat.v3.json"), "\(upgrade.output)")
                let untrusted = try await ExternalCommand.run(["curl", "-s", "--cacert", stranger.authority, "--max-time", "5", base + "/healthz"])
                #expect(untrusted.status == 60, "curl's certificate-verification failure: \(untrusted.status)")
                let plain = try await ExternalCommand.run(["curl", "-s", "--max-time", "5", "http://127.0.0.1:\(lbPort)/healthz"])
                #expect(!plain.output.contains("ok"), "no plain HTTP on the TLS port")
            }
        }
    }
}
