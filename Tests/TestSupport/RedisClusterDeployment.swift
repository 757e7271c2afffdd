import Foundation
import Logging
import Redis

/// A Redis Cluster of 3 masters and 3 replicas on free loopback ports, made
/// the way an operator makes one (`redis-cli --cluster create …
/// --cluster-replicas 1`), each server in its own directory; stopped on deinit.
public final class RedisClusterDeployment: @unchecked Sendable {
    // @unchecked: the servers are started in `init` and stopped by the test's one task.
    /// Every server, in the order given to `redis-cli --cluster create`.
    public let servers: [RedisServerProcess]
    /// The password every server requires (and replicas give their masters), if any.
    public let password: String?
    /// The certificate every server speaks TLS with, to clients, replicas and the
    /// cluster bus alike (then the cluster speaks only TLS), if any.
    public let tls: TestCertificates.Server?

    /// Starts `masters * (1 + replicasPerMaster)` servers with cluster mode on
    /// (a node counts as failed after 3 s; the other shards keep serving
    /// while one has no master) and joins them into one cluster.
    public init(masters: Int = 3, replicasPerMaster: Int = 1, password: String? = nil, tls: TestCertificates.Server? = nil) async throws {
        self.password = password
        self.tls = tls
        let tlsArguments = tls == nil ? [] : ["--tls-cluster", "yes", "--tls-replication", "yes"]
        let arguments = tlsArguments + (password.map { ["--masterauth", $0] } ?? []) + [
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            // Long enough that a loaded test machine does not fail masters over by itself.
            "--cluster-node-timeout", "3000",
            // Slots whose master is down must not stop the others: a failed shard is that shard's outage only.
            "--cluster-require-full-coverage", "no",
        ]
        var servers: [RedisServerProcess] = []
        for _ in 0..<masters * (1 + replicasPerMaster) {
            servers.append(
                try await RedisServerProcess(
                    password: password, tls: tls, extraArguments: arguments + ["--cluster-port", String(try FreePort.find())]
                )
            )
        }
        self.servers = servers
        let create = try await ExternalCommand.run(
            ["redis-cli"] + (password.map { ["-a", $0, "--no-auth-warning"] } ?? []) + (tls.map { ["--tls", "--cacert", $0.authority] } ?? [])
                + ["--cluster", "create"] + servers.map { "127.0.0.1:\($0.port)" }
                + ["--cluster-replicas", String(replicasPerMaster), "--cluster-yes"]
        )
        guard create.status == 0 else { throw TestSupportError("redis-cli --cluster create failed: \(create.output)") }
    }

    deinit {
        for server in servers { server.stop() }
    }

    /// The URL a node uses: two seed nodes, as an operator would give.
    public var url: String {
        (tls == nil ? "redis-cluster://" : "rediss-cluster://") + (password.map { ":\($0)@" } ?? "") + servers.prefix(2).map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
    }

    /// Waits until every running server says `cluster_state:ok`, every replica
    /// is in sync with its master, and there are as many masters as replicas.
    public func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var ready = true
            for server in servers where server.processIdentifier != nil {
                let info = (try? await ask(server.port, ["CLUSTER", "INFO"]))?.string ?? ""
                if !info.contains("cluster_state:ok") { ready = false }
                // A replica that never synced cannot be promoted: a failover test needs them in sync.
                let replication = (try? await ask(server.port, ["INFO", "replication"]))?.string ?? ""
                if replication.contains("role:slave"), !replication.contains("master_link_status:up") { ready = false }
            }
            if ready, try await masterPorts().count == servers.count / 2 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSupportError("the Redis Cluster did not become ready within \(timeout)")
    }

    /// The ports of the masters serving slots now, as the first running server sees them.
    public func masterPorts() async throws -> Set<Int> {
        guard let asked = servers.first(where: { $0.processIdentifier != nil }) else { return [] }
        let map = try ClusterSlotMap(slotsReply: try await ask(asked.port, ["CLUSTER", "SLOTS"]), askedAt: .init(host: "127.0.0.1", port: asked.port))
        return Set(map.slotCounts.keys.map(\.port))
    }

    /// The server that is master of `slot` now.
    public func master(of slot: HashSlot) async throws -> RedisServerProcess {
        for server in servers where server.processIdentifier != nil {
            guard let reply = try? await ask(server.port, ["CLUSTER", "SLOTS"]),
                let map = try? ClusterSlotMap(slotsReply: reply, askedAt: .init(host: "127.0.0.1", port: server.port)),
                let address = map.master(for: slot), let master = servers.first(where: { $0.port == address.port })
            else { continue }
            return master
        }
        throw TestSupportError("no running server knows the master of slot \(slot)")
    }

    /// Sends one command to the server on `port` over a fresh connection.
    public func ask(_ port: Int, _ arguments: [String]) async throws -> RedisReply {
        var url = RedisURL(host: "127.0.0.1", port: port)
        url.password = password
        if let tls {
            url.usesTLS = true
            url.certificateAuthorityFile = tls.authority
        }
        let connection = RedisConnection(url: url, logger: Logger(label: "test-cluster"))
        try await connection.connect()
        defer { Task { await connection.shutdown() } }
        return try await connection.send(RedisCommand(arguments))
    }

    /// Moves `slot` with all its keys from the master on `source` to the
    /// master on `target`, as `redis-cli --cluster reshard` does: importing
    /// and migrating marks, `MIGRATE` of the keys in batches, then every
    /// master told the new owner.
    public func migrate(_ slot: HashSlot, from source: Int, to target: Int) async throws {
        guard let sourceID = try await ask(source, ["CLUSTER", "MYID"]).string,
            let targetID = try await ask(target, ["CLUSTER", "MYID"]).string
        else { throw TestSupportError("CLUSTER MYID did not answer") }
        _ = try await ask(target, ["CLUSTER", "SETSLOT", String(slot.value), "IMPORTING", sourceID])
        _ = try await ask(source, ["CLUSTER", "SETSLOT", String(slot.value), "MIGRATING", targetID])
        while true {
            let keys = (try await ask(source, ["CLUSTER", "GETKEYSINSLOT", String(slot.value), "100"]).array ?? []).compactMap(\.string)
            guard !keys.isEmpty else { break }
            let moved = try await ask(source, ["MIGRATE", "127.0.0.1", String(target), "", "0", "5000", "KEYS"] + keys)
            guard moved.string == "OK" else { throw TestSupportError("MIGRATE answered \(moved)") }
        }
        for master in try await masterPorts() {
            _ = try await ask(master, ["CLUSTER", "SETSLOT", String(slot.value), "NODE", targetID])
        }
    }
}
