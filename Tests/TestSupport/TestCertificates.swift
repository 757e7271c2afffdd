import Foundation

/// Certificate authorities and server certificates made with `openssl` for
/// one test, in a temporary folder.
public enum TestCertificates {
    /// A server's certificate and key, and the authority that signed it.
    public struct Server: Sendable {
        public let certificate: String
        public let key: String
        public let authority: String
    }

    /// Makes a new authority and a server certificate it signs, valid for
    /// 127.0.0.1 and localhost. Call twice for an authority that trusts nothing of the other.
    public static func make() throws -> Server {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("chat-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        try String("subjectAltName=IP:127.0.0.1,DNS:localhost\n").write(toFile: path("ext.cnf"), atomically: true, encoding: .utf8)
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=chat test CA"])
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost"])
        try openssl([
            "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
            "-out", path("server.pem"), "-days", "2", "-extfile", path("ext.cnf"),
        ])
        return Server(certificate: path("server.pem"), key: path("server.key"), authority: path("ca.pem"))
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestSupportError("openssl \(arguments.first ?? "") failed") }
    }
}
