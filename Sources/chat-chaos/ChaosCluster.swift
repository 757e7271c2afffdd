import Foundation
import TestSupport

/// A real local cluster for one scenario: a private `redis-server`, `chat-node`
/// processes on fixed loopback ports and, when asked, HAProxy in front of them.
final class ChaosCluster: @unchecked Sendable {
    // @unchecked: a scenario drives its cluster from one task.
    let redis: RedisServerProcess
    /// Each node's port, fixed for the whole scenario so HAProxy can find a restarted node.
    let ports: [Int]
    private(set) var nodes: [NodeProcess?]
    private let nodeArguments: [String]
    private var haproxy: Process?
    private var haproxyConfig: URL?
    /// The load balancer's port, when there is one.
    private(set) var balancerPort: Int?
    /// Where node 0 runs when it is isolated behind a link the scenario can cut.
    let isolation: NetworkNamespace?

    /// Starts Redis and `count` nodes; `arguments` are added to every node's flags.
    /// With `isolation`, node 0 runs in that namespace and reaches Redis over its link.
    init(
        nodes count: Int, arguments: [String] = [], persistentRedis: Bool = false, balancer: Bool = false,
        isolation: NetworkNamespace? = nil
    ) async throws {
        self.isolation = isolation
        var dataDirectory: String?
        if persistentRedis {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chaos-redis-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            dataDirectory = directory.path
        }
        redis = try await RedisServerProcess(
            dataDirectory: dataDirectory, bindAddresses: ["127.0.0.1"] + (isolation.map { [$0.hostAddress] } ?? [])
        )
        ports = try (0..<count).map { _ in try FreePort.find() }
        nodeArguments = arguments
        nodes = Array(repeating: nil, count: count)
        for index in 0..<count { try await startNode(index) }
        if balancer { try startBalancer() }
    }

    deinit {
        for node in nodes { node?.signal(SIGKILL) }
        if let haproxy, haproxy.isRunning { kill(haproxy.processIdentifier, SIGKILL) }
        if let haproxyConfig { try? FileManager.default.removeItem(at: haproxyConfig) }
        redis.stop()
        if let directory = redis.dataDirectory { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// What every node's environment holds: quiet logs, and the suite's own
    /// `CHAT_*` settings, so that `CHAT_EVENT_LOOPS=1 scripts/chaos.sh` runs every
    /// scenario against single-threaded nodes (a scenario's flags win over them).
    private static var nodeEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("CHAT_") }.merging(["LOG_LEVEL": "error"]) { $1 }
    }

    /// Starts node `index` (again) on its port and waits until it listens.
    func startNode(_ index: Int) async throws {
        var arguments = ["--port", String(ports[index]), "--redis", redis.url, "--node-id", "chaos-\(index)"]
        var launcher: [String] = []
        if index == 0, let isolation {
            arguments = [
                "--host", isolation.innerAddress, "--port", String(ports[index]),
                "--redis", "redis://\(isolation.hostAddress):\(redis.port)", "--node-id", "chaos-isolated",
            ]
            launcher = isolation.launcher
        }
        let node = try NodeProcess(arguments: arguments + nodeArguments, environment: Self.nodeEnvironment, launcher: launcher)
        _ = try await node.waitUntilListening()
        nodes[index] = node
    }

    /// The address node `index` listens on.
    func host(of index: Int) -> String {
        index == 0 ? isolation?.innerAddress ?? "127.0.0.1" : "127.0.0.1"
    }

    /// `kill -9` of node `index`.
    func kill9(_ index: Int) {
        nodes[index]?.signal(SIGKILL)
    }

    /// The process ids of the running nodes.
    var nodePIDs: [Int32] { nodes.compactMap { $0?.isRunning == true ? $0?.processIdentifier : nil } }

    /// HAProxy on a free port, balancing over every node (health-checked through `/readyz`).
    private func startBalancer() throws {
        let port = try FreePort.find()
        let script = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("scripts/local-haproxy-config.sh")
        let render = try ExternalCommand.runWaiting(["bash", script.path, String(port)] + ports.map(String.init))
        guard render.status == 0 else { throw ChaosFailure("cannot render the HAProxy configuration: \(render.output)") }
        let config = Data(render.output.utf8)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chaos-haproxy-\(UUID().uuidString).cfg")
        try config.write(to: file)
        haproxyConfig = file
        let haproxy = Process()
        haproxy.executableURL = URL(fileURLWithPath: "/usr/sbin/haproxy")
        haproxy.arguments = ["-f", file.path, "-db"]
        haproxy.standardOutput = FileHandle.nullDevice
        haproxy.standardError = FileHandle.nullDevice
        try haproxy.run()
        self.haproxy = haproxy
        balancerPort = port
        let deadline = Date().addingTimeInterval(10)
        while !FreePort.isListening(port), Date() < deadline { usleep(20_000) }
    }

    /// A node's `/metrics` value for a sample line starting with `name` (with its labels), or nil.
    func metric(_ name: String, node index: Int) async -> Double? {
        guard let text = await HTTPProbe.get(host: host(of: index), port: ports[index], path: "/metrics")?.body else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    /// The sum of a metric over every node (a node that does not answer counts 0).
    func total(_ name: String) async -> Double {
        var sum = 0.0
        for index in ports.indices { sum += await metric(name, node: index) ?? 0 }
        return sum
    }

    /// The footprint of every running node, in node order.
    func footprints() -> [ProcessFootprint] {
        nodePIDs.compactMap { ProcessFootprint(pid: $0) }
    }

    /// The HTTP status of a node's `/readyz`, or nil when it does not answer.
    func readiness(node index: Int) async -> Int? {
        await HTTPProbe.get(host: host(of: index), port: ports[index], path: "/readyz")?.status
    }
}

/// Resident memory and open file descriptors of a process, from `/proc`.
struct ProcessFootprint: Sendable {
    var residentBytes: Int
    var openFiles: Int

    init?(pid: Int32) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]),
            let files = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        else { return nil }
        residentBytes = kilobytes * 1024
        openFiles = files.count
    }

    /// The largest growth from `before` to `after` over the same processes:
    /// extra file descriptors, and RSS as a factor.
    static func growth(from before: [ProcessFootprint], to after: [ProcessFootprint]) -> (openFiles: Int, resident: Double) {
        let pairs = zip(before, after)
        return (
            pairs.map { $1.openFiles - $0.openFiles }.max() ?? 0,
            pairs.map { Double($1.residentBytes) / Double($0.residentBytes) }.max() ?? 0
        )
    }
}
