import Foundation
import TestSupport
import Testing

/// The repository's root, found from this file's path.
private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs a command from the repository root; returns its exit status and output.
private func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await ExternalCommand.run(arguments, in: repositoryRoot)
}

@Suite("Deployment files")
struct DeploymentFilesTests {
    @Test("docker-compose.yml is valid (docker-compose config)")
    func composeFile() async throws {
        let result = try await run(["docker-compose", "-f", "docker-compose.yml", "config", "-q"])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("the compose file publishes only the load balancer and lets chat scale")
    func composeShape() async throws {
        let result = try await run(["docker-compose", "-f", "docker-compose.yml", "config"])
        #expect(result.status == 0)
        let config = result.output
        #expect(config.contains("published: 8080") || config.contains("8080:8080"))
        #expect(!config.contains("container_name"))
        #expect(config.contains("CHAT_REDIS: redis://redis:6379"))
    }

    @Test("docker-compose.cluster.yml: a Redis Cluster of six persistent servers that keeps serving when a shard fails, found by the nodes from seeds")
    func clusterComposeFile() async throws {
        let result = try await run(["docker-compose", "-f", "docker-compose.cluster.yml", "config"])
        #expect(result.status == 0, "\(result.output)")
        let config = result.output
        #expect(config.contains("CHAT_REDIS: redis-cluster://redis-1:6379,redis-2:6379,redis-3:6379"))
        for index in 1...6 { #expect(config.contains("  redis-\(index):"), "redis-\(index)") }
        #expect(config.components(separatedBy: "--cluster-require-full-coverage").count == 7, "every server keeps serving when a shard fails")
        #expect(config.components(separatedBy: "--appendonly").count == 7, "every server persists")
        #expect(config.contains("--cluster-replicas"))
        #expect(config.contains("service_completed_successfully"), "nodes start once the cluster is made")
    }

    @Test("the alert rules are valid and fire as their unit tests say (promtool check rules, promtool test rules)")
    func alertRules() async throws {
        let check = try await run(["promtool", "check", "rules", "deploy/prometheus/alerts.yml"])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("7 rules found"))
        let tests = try await ExternalCommand.run(["promtool", "test", "rules", "alerts.test.yml"], in: repositoryRoot.appendingPathComponent("deploy/prometheus"))
        #expect(tests.status == 0, "\(tests.output)")
        let config = try await run(["promtool", "check", "config", "deploy/prometheus/prometheus.yml"])
        #expect(config.status == 0, "\(config.output)")
    }

    @Test("chat nodes and the load balancer may open enough files for 10,000 connections per node")
    func composeFileLimits() async throws {
        let result = try await run(["docker-compose", "-f", "docker-compose.yml", "config"])
        #expect(result.status == 0)
        /// The soft `nofile` limit in one service's section of the rendered file.
        func nofile(of service: String) -> Int? {
            let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
            guard let header = lines.firstIndex(of: "  \(service):") else { return nil }
            let section = lines[(header + 1)...].prefix { $0.hasPrefix("   ") }
            guard let soft = section.first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("soft:") }) else { return nil }
            return Int(soft.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
        }
        #expect((nofile(of: "chat") ?? 0) >= 20_000)
        #expect((nofile(of: "lb") ?? 0) >= 40_000)
    }

    @Test("the HAProxy configuration of the compose deployment passes haproxy -c")
    func composeHAProxy() async throws {
        let result = try await run(["haproxy", "-c", "-f", "deploy/haproxy/haproxy.cfg"])
        #expect(result.status == 0, "\(result.output)")
        let config = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/haproxy/haproxy.cfg"), encoding: .utf8)
        #expect(config.contains("balance leastconn"))
        #expect(config.contains("GET /readyz"))
        #expect(config.contains("timeout tunnel"))
        #expect(config.contains(#"server-template chat "${CHAT_MAX_NODES-100}""#), "the node ceiling is a setting, 100 by default")
    }

    @Test("the TLS overlay's HAProxy file passes haproxy -c with the compose configuration, and compose accepts the overlay")
    func tlsOverlay() async throws {
        let certificates = try await TestCertificates.make()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("chat-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let pem = try String(contentsOfFile: certificates.certificate, encoding: .utf8) + String(contentsOfFile: certificates.key, encoding: .utf8)
        try pem.write(to: folder.appendingPathComponent("chat.pem"), atomically: true, encoding: .utf8)
        let tls = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/haproxy/tls.cfg"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/etc/haproxy/certs/chat.pem", with: folder.appendingPathComponent("chat.pem").path)
        let tlsFile = folder.appendingPathComponent("tls.cfg")
        try tls.write(to: tlsFile, atomically: true, encoding: .utf8)
        let checked = try await run(["haproxy", "-c", "-f", "deploy/haproxy/haproxy.cfg", "-f", tlsFile.path])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(tls.contains("ssl-min-ver TLSv1.2") && tls.contains("Strict-Transport-Security") && tls.contains("alpn http/1.1"))
        let composed = try await run(["docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.tls.yml", "config"])
        #expect(composed.status == 0, "\(composed.output)")
        #expect(composed.output.contains("tls.cfg"))
    }

    @Test("compose checks each node's health with chat-node ready, which the rolling restart waits for; the script parses")
    func rollingRestart() async throws {
        let composed = try await run(["docker-compose", "-f", "docker-compose.yml", "config"])
        #expect(composed.status == 0)
        #expect(composed.output.contains("chat-node") && composed.output.contains("ready"), "\(composed.output)")
        let script = try String(contentsOf: repositoryRoot.appendingPathComponent("scripts/rolling-restart.sh"), encoding: .utf8)
        #expect(script.contains("State.Health.Status") && script.contains("docker stop -t 15"))
        #expect(try await run(["bash", "-n", "scripts/rolling-restart.sh"]).status == 0)
    }

    @Test("the compose files pass the node ceiling to HAProxy")
    func nodeCeiling() async throws {
        for file in ["docker-compose.yml", "docker-compose.cluster.yml"] {
            let result = try await run(["docker-compose", "-f", file, "config"])
            #expect(result.status == 0, "\(file): \(result.output)")
            #expect(result.output.contains("CHAT_MAX_NODES: '100'") || result.output.contains("CHAT_MAX_NODES: \"100\"") || result.output.contains("CHAT_MAX_NODES: 100"), "\(file)")
        }
    }

    @Test("the local cluster's generated HAProxy configuration passes haproxy -c")
    func localHAProxy() async throws {
        let rendered = try await run(["bash", "scripts/local-haproxy-config.sh", "18080", "18081", "18082", "18083"])
        #expect(rendered.status == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chat-local-\(UUID().uuidString).cfg")
        try rendered.output.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await run(["haproxy", "-c", "-f", file.path])
        #expect(result.status == 0, "\(result.output)")
        #expect(rendered.output.contains("server node-3 127.0.0.1:18083 check"))
    }

    @Test("the monitoring file adds Prometheus and Grafana with the dashboard provisioned, on loopback, with a required admin password")
    func monitoringFile() async throws {
        let files = ["-f", "docker-compose.yml", "-f", "docker-compose.monitoring.yml", "config"]
        let withoutPassword = try await run(["env", "-u", "GRAFANA_ADMIN_PASSWORD", "docker-compose"] + files)
        #expect(withoutPassword.status != 0)
        #expect(withoutPassword.output.contains("set GRAFANA_ADMIN_PASSWORD"))
        let result = try await run(["env", "GRAFANA_ADMIN_PASSWORD=s3cret", "docker-compose"] + files)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("GF_SECURITY_ADMIN_PASSWORD: s3cret"))
        #expect(result.output.contains("127.0.0.1:3000:3000"))
        #expect(result.output.contains("127.0.0.1:9090:9090"))
        #expect(result.output.contains("deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml"))
        #expect(result.output.contains("deploy/grafana/provisioning:/etc/grafana/provisioning"))
        #expect(result.output.contains("deploy/grafana/dashboards:/var/lib/grafana/dashboards"))
        let provider = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/grafana/provisioning/dashboards/chat.yml"), encoding: .utf8)
        #expect(provider.contains("path: /var/lib/grafana/dashboards"))
    }

    @Test("the Sentinel variant adds a replica and three Sentinels, and points the nodes at them")
    func sentinelVariant() async throws {
        let result = try await run(["docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.sentinel.yml", "config"])
        #expect(result.status == 0, "\(result.output)")
        for service in ["redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"] {
            #expect(result.output.contains("\n  \(service):\n"), "no service \(service)")
        }
        #expect(result.output.contains("CHAT_REDIS: redis-sentinel://sentinel-1:26379,sentinel-2:26379,sentinel-3:26379#chat"))
        #expect(result.output.contains("- --replicaof"))
        // Both Redis servers persist, each on its own volume.
        #expect(result.output.components(separatedBy: "- --appendonly\n    - \"yes\"").count - 1 == 2, "\(result.output)")
        #expect(result.output.contains("redis-replica-data:/data"))
    }

    @Test("compose's Redis persists (append-only) on a named volume")
    func durableRedis() async throws {
        let result = try await run(["docker-compose", "-f", "docker-compose.yml", "config"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("redis-data:/data"))
        #expect(result.output.contains("- --appendonly\n    - \"yes\""), "\(result.output)")
    }

    @Test("the Sentinel configuration starts a Sentinel that finds the master (with the compose host names replaced)")
    func sentinelConfiguration() async throws {
        let redis = try await RedisServerProcess()
        let port = try FreePort.find()
        var config = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/sentinel/sentinel.conf"), encoding: .utf8)
        config = config.replacingOccurrences(of: "port 26379", with: "port \(port)")
            .replacingOccurrences(of: "sentinel monitor chat redis 6379", with: "sentinel monitor chat 127.0.0.1 \(redis.port)")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-\(UUID().uuidString).conf")
        try config.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let sentinel = Process()
        sentinel.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        sentinel.arguments = [file.path, "--sentinel"]
        sentinel.standardOutput = FileHandle.nullDevice
        try sentinel.run()
        defer { kill(sentinel.processIdentifier, SIGKILL) }
        var answer = ""
        for _ in 0..<50 where !answer.contains(String(redis.port)) {
            try await Task.sleep(for: .milliseconds(100))
            answer = try await run(["redis-cli", "-p", String(port), "SENTINEL", "get-master-addr-by-name", "chat"]).output
        }
        #expect(answer.contains(String(redis.port)), "Sentinel answered: \(answer)")
    }

    @Test("Prometheus's scrape configuration passes promtool check config")
    func prometheusConfig() async throws {
        let result = try await run(["promtool", "check", "config", "deploy/prometheus/prometheus.yml"])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("the dashboard is valid JSON and every metric it queries is one a node exports")
    func dashboard() async throws {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("deploy/grafana/dashboards/chat-cluster.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        #expect(panels.count >= 8)
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        let queried = Set(expressions.flatMap { expression in
            expression.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }).map(String.init)
                .filter { $0.hasPrefix("chat_") || $0.hasPrefix("process_") }
        })
        try await withCluster(nodes: 1) { cluster in
            let exported = cluster.nodes[0].server.node.metrics.render()
            for name in queried.sorted() {
                #expect(exported.contains("\n\(name) ") || exported.contains("\n\(name){"), "the dashboard queries \(name), which no node exports")
            }
        }
    }

    @Test("a live node's /metrics passes promtool check metrics")
    func liveMetricsPassPromtool() async throws {
        try await withCluster(nodes: 1) { cluster in
            let (client, _) = try await cluster.nodes[0].join("metered")
            try await client.send(#"{"type":"say","text":"load"}"#)
            _ = await client.nextMessage()
            let exposition = cluster.nodes[0].server.node.metrics.render()
            #expect(exposition.contains("# TYPE chat_redis_round_trip_seconds histogram"))
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("chat-metrics-\(UUID().uuidString).txt")
            try exposition.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let result = try await run(["sh", "-c", "promtool check metrics < '\(file.path)'"])
            #expect(result.status == 0, "\(result.output)")
        }
    }
}
