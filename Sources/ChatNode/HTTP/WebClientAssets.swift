import Foundation
import HTTPTypes
import Hummingbird

/// The web client's static files, loaded into memory once at start-up and
/// served with headers that keep user data from ever running as code.
struct WebClientAssets: Sendable {
    struct Asset: Sendable {
        let body: ByteBuffer
        let contentType: String
    }

    private let assets: [String: Asset]

    /// Loads every file under the target's `Public` resource folder.
    init() {
        var assets: [String: Asset] = [:]
        if let root = Bundle.module.url(forResource: "Public", withExtension: nil),
            let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        {
            for case let file as URL in files {
                guard let data = try? Data(contentsOf: file), !file.hasDirectoryPath else { continue }
                let relative = String(file.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count))
                assets[relative] = Asset(body: ByteBuffer(bytes: data), contentType: Self.contentType(of: file.pathExtension))
            }
        }
        self.assets = assets
    }

    /// The response for a path below `/app` (or `/index.html` for `/`), or nil when there is no such file.
    func response(for path: String, host: String?) -> Response? {
        guard let asset = assets[path] else { return nil }
        var headers = Self.securityHeaders(host: host)
        headers[.contentType] = asset.contentType
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
    }

    /// A strict policy: scripts and styles only from this origin, no inline
    /// code, and WebSockets only to this node's own origin.
    static func securityHeaders(host: String?) -> HTTPFields {
        var connect = "'self'"
        if let host, !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:[]".contains($0) }) {
            connect += " ws://\(host) wss://\(host)"
        }
        return [
            .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                + "connect-src \(connect); base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            .xContentTypeOptions: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
            HTTPField.Name("X-Frame-Options")!: "DENY",
        ]
    }

    private static func contentType(of pathExtension: String) -> String {
        switch pathExtension {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }
}
