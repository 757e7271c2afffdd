import ChatProtocol
import Testing

@Suite("Graceful shutdown")
struct GracefulShutdownTests {
    @Test("clients are closed with 1001 after their users left with quit")
    func closesWithGoingAway() async throws {
        var clients: [WebSocketTestClientBox] = []
        try await withNode { node in
            let (alice, _) = try await node.join("alice")
            let (bob, _) = try await node.join("bob")
            let idle = try await node.connect()
            _ = await alice.nextMessage()
            clients = [.init(alice), .init(bob), .init(idle)]
        }
        // withNode has shut the node down gracefully.
        var codes: [UInt16?] = []
        for box in clients {
            var code: UInt16?
            while let event = await box.client.next(timeout: .seconds(2)) {
                if case .close(let received, _) = event { code = received }
            }
            codes.append(code)
        }
        #expect(codes == [1001, 1001, 1001])
    }
}

import TestSupport

struct WebSocketTestClientBox {
    let client: WebSocketTestClient
    init(_ client: WebSocketTestClient) { self.client = client }
}
