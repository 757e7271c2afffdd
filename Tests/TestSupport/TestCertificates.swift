import Foundation

#if canImport(Glibc)
import Glibc
#endif

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
    public static func make() async throws -> Server {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("chat-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        try String("subjectAltName=IP:127.0.0.1,DNS:localhost\n").write(toFile: path("ext.cnf"), atomically: true, encoding: .utf8)
        try await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=chat test CA"])
        try await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost"])
        try await openssl([
            "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
            "-out", path("server.pem"), "-days", "2", "-extfile", path("ext.cnf"),
        ])
        return Server(certificate: path("server.pem"), key: path("server.key"), authority: path("ca.pem"))
    }

    /// Runs openssl and waits for it without blocking a thread: spawned
    /// directly and polled, so neither Foundation's process monitor nor a
    /// blocking wait holds one of the few threads the tests' tasks share.
    static func openssl(_ arguments: [String]) async throws {
        var pid: pid_t = 0
        let argv = (["openssl"] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        guard posix_spawn(&pid, "/usr/bin/openssl", &actions, nil, argv, environ) == 0 else {
            throw TestSupportError("cannot run /usr/bin/openssl")
        }
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard ContinuousClock.now < deadline else {
                kill(pid, SIGKILL)
                throw TestSupportError("openssl \(arguments.first ?? "") did not finish")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        // Exited normally with status 0: low 7 bits 0 (no signal), next 8 bits the code.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw TestSupportError("openssl \(arguments.first ?? "") failed")
        }
    }
}
