import ServiceLifecycle

/// Marks the node as draining the moment graceful shutdown begins.
///
/// It is the last service in the group, so it hears about the shutdown
/// first, before the HTTP server starts closing connections.
struct DrainSignal: Service {
    let node: ChatNode

    func run() async throws {
        try? await gracefulShutdown()
        node.beginDraining()
    }
}
