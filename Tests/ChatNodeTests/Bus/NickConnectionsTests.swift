import Testing

@testable import ChatNode

@Suite("A nick's connections on a node")
struct NickConnectionsTests {
    @Test("keep their order as connections come and go; the last one's removal empties them")
    func orderAndRemoval() {
        var connections = NickConnections(1)
        #expect(Array(connections) == [1])
        connections.append(2)
        connections.append(3)
        #expect(Array(connections) == [1, 2, 3])
        let removed1 = connections.remove(1)
        #expect(removed1)
        #expect(connections.first == 2)
        #expect(Array(connections) == [2, 3])
        let removed3 = connections.remove(3)
        #expect(removed3)
        let removed9 = connections.remove(9)
        #expect(removed9)
        #expect(Array(connections) == [2])
        let removed2 = connections.remove(2)
        #expect(!removed2)
    }
}
