import Foundation
import Logging
import Redis

/// A master, one replica and three Sentinels on free loopback ports, like the
/// smallest highly available Redis a deployment would run; stopped on deinit.
public final class RedisSentinelDeployment: @unchecked Sendable {
    // @unchecked: the processes are started in `init` and stopped by the test's one task.
    /// The name Sentinel knows the master group by.
    public let masterName = "chat"
    /// The master at start.
    public let master: RedisServerProcess
    /// The replica at start, which a failover promotes.
    public let replica: RedisServerProcess
    /// The three Sentinels' ports.
    public let sentinelPorts: [Int]
    /// The certificate every server and Sentinel speaks TLS with, if they do.
    public let tls: TestCertificates.Server?
    private var sentinels: [Process] = []
    private let directory: URL

    /// Starts the servers and Sentinels (quorum 2, a master counts as down after 1 s);
    /// with `tls`, everything, replication included, speaks only TLS.
    public init(password: String? = nil, tls: TestCertificates.Server? = nil) async throws {
        self.tls = tls
        master = try await RedisServerProcess(password: password, tls: tls)
        replica = try await RedisServerProcess(password: password, tls: tls, replicaOf: master.port)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        sentinelPorts = try (0..<3).map { _ in try FreePort.find() }
        for port in sentinelPorts {
            // Sentinel rewrites its configuration file, so each gets its own.
            let file = directory.appendingPathComponent("sentinel-\(port).conf")
            var lines = [
                "bind 127.0.0.1", "dir \(directory.path)", "loglevel warning",
                "sentinel monitor \(masterName) 127.0.0.1 \(master.port) 2",
                "sentinel down-after-milliseconds \(masterName) 1000",
                "sentinel failover-timeout \(masterName) 5000",
            ]
            if let password { lines.append("sentinel auth-pass \(masterName) \(password)") }
            if let tls {
                lines += [
                    "port 0", "tls-port \(port)", "tls-cert-file \(tls.certificate)", "tls-key-file \(tls.key)",
                    "tls-ca-cert-file \(tls.authority)", "tls-auth-clients no", "tls-replication yes",
                ]
            } else {
                lines.append("port \(port)")
            }
            try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = try RedisServerProcess.executable()
            process.arguments = [file.path, "--sentinel"]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            sentinels.append(process)
        }
    }

    deinit {
        for process in sentinels where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        master.stop()
        replica.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The `redis-sentinel://` URL a node uses.
    public func url(password: String? = nil) -> String {
        let credentials = password.map { ":\($0)@" } ?? ""
        return "\(tls == nil ? "redis" : "rediss")-sentinel://\(credentials)" + sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") + "#\(masterName)"
    }

    /// Waits until every Sentinel knows the other two and an in-sync replica,
    /// so that a failover can be agreed on.
    public func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var ready = true
            for port in sentinelPorts {
                let others = try? await ask(port, ["SENTINEL", "sentinels", masterName])
                let replicas = try? await ask(port, ["SENTINEL", "replicas", masterName])
                let replicaFlags = replicas?.array?.first.flatMap { Self.field("flags", in: $0) }
                if others?.array?.count != 2 || replicaFlags != "slave" { ready = false }
            }
            if ready { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestSupportError("the Sentinels did not see each other and the replica within \(timeout)")
    }

    /// The master's port according to the first Sentinel that answers.
    public func masterPort() async -> Int? {
        for port in sentinelPorts {
            if let reply = try? await ask(port, ["SENTINEL", "get-master-addr-by-name", masterName]),
                let parts = reply.array, parts.count == 2, let text = parts[1].string
            {
                return Int(text)
            }
        }
        return nil
    }

    /// Asks the Sentinels to fail over now (the master stays up and becomes a replica).
    public func failOver() async throws {
        _ = try await ask(sentinelPorts[0], ["SENTINEL", "failover", masterName])
    }

    private func ask(_ port: Int, _ arguments: [String]) async throws -> RedisReply {
        var url = RedisURL(host: "127.0.0.1", port: port, usesTLS: tls != nil)
        url.certificateAuthorityFile = tls?.authority
        let connection = RedisConnection(url: url, logger: Logger(label: "sentinel-test"))
        try await connection.connect()
        defer { Task { await connection.shutdown() } }
        return try await connection.send(RedisCommand(arguments))
    }

    /// A field of a Sentinel `replicas`/`masters` entry (a flat name/value array).
    private static func field(_ name: String, in entry: RedisReply) -> String? {
        guard let flat = entry.array else { return nil }
        for index in stride(from: 0, to: flat.count - 1, by: 2) where flat[index].string == name {
            return flat[index + 1].string
        }
        return nil
    }
}
