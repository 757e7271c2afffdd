import ServiceLifecycle

/// Drains the node the moment graceful shutdown begins (see `ChatNode.drain`).
///
/// It is the last service in the group, so it hears about the shutdown
/// first: users are released and clients closed with 1001 before the HTTP
/// server stops accepting and waits for its connections to end.
struct DrainSignal: Service {
    let node: ChatNode

    func run() async throws {
        try? await gracefulShutdown()
        await node.drain()
    }
}
