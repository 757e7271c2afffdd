import NIOCore
import NIOWebSocket

/// One `LoopDelivery` per event loop of the node, made once at start-up and
/// never changed, so any thread can find a loop's delivery without a lock.
struct EventLoopDeliveries: Sendable {
    private let byLoop: [ObjectIdentifier: NIOLoopBound<LoopDelivery>]

    /// Makes a delivery on each loop of `group`, sweeping heartbeats for `pingInterval`.
    static func make(for group: any EventLoopGroup, pingInterval: TimeAmount) async throws -> EventLoopDeliveries {
        var byLoop: [ObjectIdentifier: NIOLoopBound<LoopDelivery>] = [:]
        for loop in group.makeIterator() {
            byLoop[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(LoopDelivery(eventLoop: loop, pingInterval: pingInterval), eventLoop: loop)
            }.get()
        }
        return EventLoopDeliveries(byLoop: byLoop)
    }

    /// The deliveries of a node with one event loop, made on that loop (tests on an embedded loop).
    init(_ delivery: LoopDelivery, on loop: any EventLoop) {
        self.init(byLoop: [ObjectIdentifier(loop): NIOLoopBound(delivery, eventLoop: loop)])
    }

    private init(byLoop: [ObjectIdentifier: NIOLoopBound<LoopDelivery>]) {
        self.byLoop = byLoop
    }

    /// The delivery of `loop`, which must belong to the node's group.
    func delivery(on loop: any EventLoop) -> NIOLoopBound<LoopDelivery> {
        guard let delivery = byLoop[ObjectIdentifier(loop)] else {
            preconditionFailure("event loop \(loop) is not one of the node's")
        }
        return delivery
    }

    /// Bytes and events waiting in every outbound buffer of the node, summed
    /// over the loops (each sums its own connections, on its own thread).
    func outboundBacklog() async -> (bytes: Int, events: Int) {
        var total = (bytes: 0, events: 0)
        for delivery in byLoop.values {
            if let backlog = try? await delivery.eventLoop.submit({ delivery.value.outboundBacklog() }).get() {
                total.bytes += backlog.bytes
                total.events += backlog.events
            }
        }
        return total
    }

    /// How many WebSocket connections of the node are still open, summed over the loops.
    func openConnections() async -> Int {
        var total = 0
        for delivery in byLoop.values {
            total += (try? await delivery.eventLoop.submit({ delivery.value.connectionCount }).get()) ?? 0
        }
        return total
    }

    /// Closes every WebSocket connection of the node with `code`.
    func closeAll(_ code: WebSocketErrorCode, reason: String) {
        for delivery in byLoop.values {
            delivery.eventLoop.execute { delivery.value.closeAll(code, reason: reason) }
        }
    }
}
