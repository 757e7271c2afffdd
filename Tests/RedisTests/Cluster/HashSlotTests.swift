import Redis
import Testing

@Suite("Hash slots (Redis Cluster key distribution)")
struct HashSlotTests {
    @Test("a key's slot is CRC16/XMODEM mod 16384, as CLUSTER KEYSLOT answers")
    func slotsMatchRedis() {
        // Values from `redis-cli CLUSTER KEYSLOT` on Redis 7.
        #expect(HashSlot(key: "foo").value == 12182)
        #expect(HashSlot(key: "bar").value == 5061)
        #expect(HashSlot(key: "123456789").value == 0x31C3 % 16384)
        #expect(HashSlot(key: "").value == 0)
        #expect(HashSlot(key: "chat:room:{lobby}:members").value == HashSlot(key: "lobby").value)
    }

    @Test("only the first non-empty {tag} is hashed, so keys sharing a tag share a slot")
    func hashTags() {
        #expect(HashSlot(key: "{user1000}.following") == HashSlot(key: "{user1000}.followers"))
        #expect(HashSlot(key: "foo{}{bar}") == HashSlot(key: "foo{}{bar}"))
        #expect(HashSlot(key: "foo{}{bar}") != HashSlot(key: "bar"), "an empty first tag means the whole key is hashed")
        #expect(HashSlot(key: "foo{{bar}}zap") == HashSlot(key: "{bar"))
        #expect(HashSlot(key: "foo{bar}{zap}") == HashSlot(key: "bar"))
        #expect(HashSlot(key: "{unclosed") == HashSlot(key: Array("{unclosed".utf8)))
    }
}
