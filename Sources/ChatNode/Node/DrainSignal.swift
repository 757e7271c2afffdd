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

/// Runs the bus's background work for as long as the node runs.
struct BusService: Service {
    let bus: any ChatBus

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await bus.run() }
            // The bus outlives the HTTP server (it is shut down after it), then stops.
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}
