/// Waits for a step of the shutdown for at most `timeout`, so an unresponsive
/// Redis cannot hold up a node's exit (PROTOCOL.md §2: within 5 s).
///
/// The step goes on in the background after the timeout; closing the Redis
/// connections, which the shutdown does next, ends it. Returns nil on timeout.
func awaitShutdownStep<Result: Sendable>(
    within timeout: Duration, _ step: @escaping @Sendable () async -> Result
) async -> Result? {
    let (outcomes, continuation) = AsyncStream<Result?>.makeStream()
    Task {
        continuation.yield(await step())
    }
    let timer = Task {
        try? await Task.sleep(for: timeout)
        continuation.yield(nil)
    }
    defer { timer.cancel() }
    for await outcome in outcomes { return outcome }
    return nil
}
