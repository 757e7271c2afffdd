import ChatNode
import ChatProtocol
import Logging
import ServiceLifecycle
import TestSupport
import Testing

/// A node running in this test process on a free port, stopped by `withNode`.
struct TestNode {
    let port: Int
    let server: ChatNodeServer

    /// Opens a WebSocket to the node.
    func connect(
        subprotocols: [String]? = ["chat.v1.json"],
        origin: String? = nil,
        hostHeader: String? = nil,
        extensions: String? = nil,
        inflate: (@Sendable ([UInt8]) -> [UInt8]?)? = nil,
        autoPong: Bool = true
    ) async throws -> WebSocketTestClient {
        try await WebSocketTestClient.connect(
            port: port, subprotocols: subprotocols, origin: origin, hostHeader: hostHeader, extensions: extensions,
            inflate: inflate, autoPong: autoPong
        )
    }

    /// Opens a WebSocket speaking `subprotocol` and joins as `nick` (resuming
    /// after `since`); returns the client and its `welcome`.
    func join(
        _ nick: String, subprotocol: String = "chat.v1.json", since: String? = nil, autoPong: Bool = true
    ) async throws -> (WebSocketTestClient, [String: JSONValue]) {
        let client = try await connect(subprotocols: [subprotocol], autoPong: autoPong)
        try #require(client.handshake.status == 101)
        let sinceMember = since.map { #","since":"\#($0)""# } ?? ""
        try await client.send(#"{"type":"hello","nick":"\#(nick)"\#(sinceMember)}"#)
        let welcome = try #require(await client.nextMessage())
        try #require(welcome["type"] == .string("welcome"), "expected welcome, got \(welcome)")
        return (client, welcome)
    }
}

/// Timeouts of the nodes tests start, where they differ from a node's defaults.
enum TestTimeouts {
    /// Tests that connect and send before `hello` must not be closed by a
    /// stalled test process (the start of a run on 2 cores stalls for
    /// seconds); the hello timeout's own tests set a short one.
    static let hello: Duration = .seconds(60)
}

/// Runs `body` against a fresh standalone node, then shuts the node down gracefully.
func withNode<T>(
    _ configure: (inout NodeConfiguration) -> Void = { _ in },
    _ body: (TestNode) async throws -> T
) async throws -> T {
    var configuration = NodeConfiguration(nodeID: "test-node")
    configuration.port = 0
    configuration.helloTimeout = TestTimeouts.hello
    configure(&configuration)
    return try await withRunningNodes([configuration]) { nodes in try await body(nodes[0]) }
}

/// Starts one node per configuration in this process, runs `body`, then shuts
/// them down gracefully in reverse order (also when `body` throws).
func withRunningNodes<T>(_ configurations: [NodeConfiguration], _ body: ([TestNode]) async throws -> T) async throws -> T {
    var logger = Logger(label: "test-node")
    logger.logLevel = .critical
    var groups: [ServiceGroup] = []
    var runs: [Task<Void, any Error>] = []
    var nodes: [TestNode] = []
    do {
        for configuration in configurations {
            let ports = EventQueue<Int>()
            let server = try await ChatNodeServer(configuration: configuration, logger: logger) { _, port in ports.push(port) }
            let group = ServiceGroup(services: server.services, logger: logger)
            groups.append(group)
            runs.append(Task { try await group.run() })
            guard let port = await ports.next(timeout: .seconds(10)) else {
                throw TestSupportError("node \(configuration.nodeID) did not start listening")
            }
            nodes.append(TestNode(port: port, server: server))
        }
        let result = try await body(nodes)
        for group in groups.reversed() { await group.triggerGracefulShutdown() }
        for run in runs { try await run.value }
        return result
    } catch {
        for group in groups.reversed() { await group.triggerGracefulShutdown() }
        for run in runs { _ = try? await run.value }
        throw error
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// The string field `key`, for terse expectations.
    func string(_ key: String) -> String? { self[key]?.stringValue }

    /// The ids of a `welcome`'s `history` lines, oldest first.
    var historyIDs: [String] {
        guard case .array(let lines) = self["history"] else { return [] }
        return lines.compactMap { line in
            guard case .object(let fields) = line else { return nil }
            return fields.string("id")
        }
    }

    /// The string-array field `key`.
    func strings(_ key: String) -> [String]? {
        guard case .array(let values) = self[key] else { return nil }
        return values.compactMap(\.stringValue)
    }
}
