import Synchronization

/// An unbounded FIFO that a test awaits with a timeout. `push` is
/// synchronous, so a channel handler can call it in order from its event
/// loop. Test-only: the producer is a client the test itself drives.
public final class EventQueue<Element: Sendable>: Sendable {
    private struct State {
        var buffered: [Element] = []
        var waiter: (id: Int, continuation: CheckedContinuation<Element?, Never>)?
        var nextWaiterID = 0
        var isFinished = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds an element, waking a waiting `next`.
    public func push(_ element: Element) {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.buffered.append(element)
            return nil
        }
        waiter?.resume(returning: element)
    }

    /// No more elements will come; a waiting `next` returns nil.
    public func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            state.isFinished = true
            defer { state.waiter = nil }
            return state.waiter?.continuation
        }
        waiter?.resume(returning: nil)
    }

    /// The next element without a deadline, or nil once finished and drained.
    /// Cheaper than `next(timeout:)`: no timer task (benchmarks use it).
    public func next() async -> Element? {
        await withCheckedContinuation { continuation in
            let immediate: Element?? = state.withLock { state in
                if !state.buffered.isEmpty { return .some(state.buffered.removeFirst()) }
                if state.isFinished { return .some(nil) }
                state.nextWaiterID += 1
                state.waiter = (state.nextWaiterID, continuation)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// The next element, or nil after `timeout` or once finished and drained.
    public func next(timeout: Duration) async -> Element? {
        let id = state.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.expire(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let immediate: Element?? = state.withLock { state in
                if !state.buffered.isEmpty { return .some(state.buffered.removeFirst()) }
                if state.isFinished { return .some(nil) }
                state.waiter = (id, continuation)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    private func expire(_ id: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: nil)
    }
}
