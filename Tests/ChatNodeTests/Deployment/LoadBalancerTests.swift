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

    @Test("HAProxy (the local cluster's configuration) answers 404 for /metrics and /api/ from outside and passes the rest")
    func privateSurfaces() async throws {
        try await withNode({ $0.apiKeyFile = sharedAPIKeyFile }) { node in
            let lbPort = try FreePort.find()
            let rendered = try ExternalCommand.run(
                ["bash", "scripts/local-haproxy-config.sh", String(lbPort), String(node.port)], in: Self.repositoryRoot
            )
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
