import TestSupport

/// One plain HTTP/1.1 GET to a node, for health, readiness and metrics.
enum HTTPProbe {
    /// The status and body, or nil when the node does not answer within 5 s.
    static func get(host: String = "127.0.0.1", port: Int, path: String) async -> (status: Int, body: String)? {
        guard let client = try? await RawTCPClient.connect(host: host, port: port) else { return nil }
        try? await client.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        guard let response = await client.waitForClose(timeout: .seconds(5)) else {
            await client.close()
            return nil
        }
        let statusLine = response.prefix { $0 != "\r" }
        guard let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        let body = response.range(of: "\r\n\r\n").map { String(response[$0.upperBound...]) } ?? ""
        return (status, body)
    }
}
