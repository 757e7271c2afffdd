import Redis
import Testing

@Suite("Cluster slot map")
struct ClusterSlotMapTests {
    private func node(_ host: String, _ port: Int64) -> RedisReply {
        .array([.bulk(Array(host.utf8)), .integer(port), .bulk(Array("id-\(port)".utf8))])
    }

    @Test("CLUSTER SLOTS ranges become a master per slot; a node naming itself with an empty host is the one asked")
    func readsSlots() throws {
        let reply = RedisReply.array([
            .array([.integer(0), .integer(5460), node("10.0.0.1", 7000), node("10.0.0.4", 7003)]),
            .array([.integer(5461), .integer(10922), node("", 7001)]),
            .array([.integer(10923), .integer(16383), node("10.0.0.3", 7002)]),
        ])
        let map = try ClusterSlotMap(slotsReply: reply, askedAt: .init(host: "10.0.0.2", port: 7001))
        #expect(map.master(for: HashSlot(0)) == .init(host: "10.0.0.1", port: 7000))
        #expect(map.master(for: HashSlot(5461)) == .init(host: "10.0.0.2", port: 7001))
        #expect(map.master(for: HashSlot(16383)) == .init(host: "10.0.0.3", port: 7002))
        #expect(map.coversEverySlot)
        #expect(map.slotCounts.values.sorted() == [5461, 5461, 5462])
    }

    @Test("a map with a gap says so; MOVED assigns one slot")
    func gapsAndMoves() throws {
        var map = try ClusterSlotMap(slotsReply: .array([.array([.integer(0), .integer(100), node("a", 1)])]), askedAt: .init(host: "a", port: 1))
        #expect(!map.coversEverySlot)
        #expect(map.master(for: HashSlot(101)) == nil)
        map.assign(HashSlot(101), to: .init(host: "b", port: 2))
        #expect(map.master(for: HashSlot(101)) == .init(host: "b", port: 2))
        #expect(map.masters.count == 2)
    }

    @Test("anything but a slot map is refused", arguments: [
        RedisReply.error("ERR This instance has cluster support disabled"), .array([.array([.integer(0)])]),
        .array([.array([.integer(5), .integer(2), .array([.bulk(Array("a".utf8)), .integer(1)])])]),
        .array([.array([.integer(0), .integer(16384), .array([.bulk(Array("a".utf8)), .integer(1)])])]),
    ])
    func malformed(_ reply: RedisReply) {
        #expect(throws: RedisError.self) { try ClusterSlotMap(slotsReply: reply, askedAt: .init(host: "a", port: 1)) }
    }

    @Test("MOVED and ASK error replies name a slot and an address; other errors are no redirection")
    func redirections() {
        #expect(ClusterRedirection(errorText: "MOVED 3999 127.0.0.1:6381") == .moved(HashSlot(3999), .init(host: "127.0.0.1", port: 6381)))
        #expect(ClusterRedirection(errorText: "ASK 3999 [::1]:6381") == .ask(HashSlot(3999), .init(host: "::1", port: 6381)))
        #expect(ClusterRedirection(errorText: "ERR unknown command") == nil)
        #expect(ClusterRedirection(errorText: "MOVED 99999 h:1") == nil)
        #expect(ClusterRedirection(errorText: "CLUSTERDOWN The cluster is down") == nil)
    }
}
