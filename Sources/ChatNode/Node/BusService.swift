import ServiceLifecycle

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
