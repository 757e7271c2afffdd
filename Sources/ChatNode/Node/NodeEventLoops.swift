import NIOCore
import NIOPosix
import ServiceLifecycle

/// The event loops a node serves its clients on, and the loop its bus runs on.
///
/// By default a node uses the process-wide group, one loop per core, and its
/// Redis bus gets a thread of its own so that clients' loops never wait
/// behind Redis. With a single loop (`--event-loops 1`, or a one-core
/// machine) the bus shares it: the node is then single-threaded, and a
/// client's request reaches Redis and comes back without a thread hop. That
/// is the better choice where several nodes share a few cores.
struct NodeEventLoops: Sendable {
    /// The loops that serve clients.
    let group: MultiThreadedEventLoopGroup
    /// How many loops `group` has.
    let count: Int
    /// Whether `group` was made for this node and stops with it.
    let isOwned: Bool

    /// One loop per core from the process-wide group when `count` is nil;
    /// otherwise a group of `count` loops of the node's own.
    init(count: Int?) {
        if let count {
            group = MultiThreadedEventLoopGroup(numberOfThreads: count)
            self.count = count
            isOwned = true
        } else {
            group = .singleton
            self.count = NIOSingletons.groupLoopCountSuggestion
            isOwned = false
        }
    }

    /// The loop the bus should run on together with the clients, or nil
    /// when it should have a thread of its own.
    var sharedBusLoop: (any EventLoop)? {
        count == 1 ? group.next() : nil
    }

    /// For a group of the node's own, a service that stops it once every
    /// service started after it has stopped (a `ServiceGroup` stops its
    /// services in reverse order); nil for the process-wide group.
    var service: (any Service)? { isOwned ? OwnedLoopsService(group: group) : nil }

    /// Stops a group of the node's own; for a node that failed to start.
    func shutDownIfOwned() async {
        guard isOwned else { return }
        try? await group.shutdownGracefully()
    }
}

/// Keeps a node's own event loops until the node shuts down, then stops them.
private struct OwnedLoopsService: Service {
    let group: MultiThreadedEventLoopGroup

    func run() async throws {
        try? await gracefulShutdown()
        try await group.shutdownGracefully()
    }
}
