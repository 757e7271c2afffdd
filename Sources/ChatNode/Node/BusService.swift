import ServiceLifecycle

/// Runs the bus's background work for as long as the node runs.
struct BusService: Service {
    let bus: any ChatBus

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await bus.run() }
            // The bus outlives the HTTP server (it is shut down after it), then
            // leaves the cluster and stops. Cancelling it instead would close
            // its Redis connections before it could say goodbye.
            try? await gracefulShutdown()
            await bus.stop()
        }
    }
}
