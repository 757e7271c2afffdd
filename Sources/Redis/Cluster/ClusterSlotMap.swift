/// Which master serves each hash slot of a Redis Cluster, as `CLUSTER
/// SLOTS` last told it and `MOVED` redirections corrected it since.
public struct ClusterSlotMap: Sendable, Equatable {
    /// Every master named so far, indexed by `owner`.
    public private(set) var masters: [RedisServerAddress] = []
    /// For each slot, its master's index in `masters`, or -1 when no master serves it.
    private var owner = [Int16](repeating: -1, count: HashSlot.count)

    /// An empty map: no slot has a master yet.
    public init() {}

    /// Reads a `CLUSTER SLOTS` reply, asked of the node at `askedAt` (a
    /// node that does not know its own address names itself with an empty host).
    public init(slotsReply reply: RedisReply, askedAt: RedisServerAddress) throws(RedisError) {
        guard let ranges = reply.array else { throw Self.malformed(reply) }
        for range in ranges {
            guard let fields = range.array, fields.count >= 3,
                let first = fields[0].integer, let last = fields[1].integer,
                0 <= first, first <= last, last < HashSlot.count,
                let node = fields[2].array, node.count >= 2, let host = node[0].string, let port = node[1].integer
            else { throw Self.malformed(reply) }
            let address = RedisServerAddress(host: host.isEmpty || host == "?" ? askedAt.host : host, port: Int(port))
            let index = self.index(of: address)
            for slot in Int(first)...Int(last) { owner[slot] = index }
        }
    }

    /// The master serving `slot`, if the map knows one.
    public func master(for slot: HashSlot) -> RedisServerAddress? {
        let index = owner[slot.value]
        return index < 0 ? nil : masters[Int(index)]
    }

    /// Whether every slot has a master (`cluster_state:ok` as far as the map can tell).
    public var coversEverySlot: Bool { !owner.contains(-1) }

    /// How many slots each master serves.
    public var slotCounts: [RedisServerAddress: Int] {
        var counts: [RedisServerAddress: Int] = [:]
        for index in owner where index >= 0 { counts[masters[Int(index)], default: 0] += 1 }
        return counts
    }

    /// Notes that `slot` moved to `master` (a `MOVED` reply).
    public mutating func assign(_ slot: HashSlot, to master: RedisServerAddress) {
        owner[slot.value] = index(of: master)
    }

    private mutating func index(of address: RedisServerAddress) -> Int16 {
        if let known = masters.firstIndex(of: address) { return Int16(known) }
        masters.append(address)
        return Int16(masters.count - 1)
    }

    private static func malformed(_ reply: RedisReply) -> RedisError {
        RedisError(.protocolError, "CLUSTER SLOTS answered something that is not a slot map: \(reply)")
    }
}

/// A redirection in a Redis Cluster's error reply: `MOVED slot host:port`
/// (the slot lives there now) or `ASK slot host:port` (this one command goes
/// there, after `ASKING`, while the slot migrates).
public enum ClusterRedirection: Sendable, Equatable {
    case moved(HashSlot, RedisServerAddress)
    case ask(HashSlot, RedisServerAddress)

    /// The redirection an error reply's text names, if it names one.
    public init?(errorText text: String) {
        let parts = text.split(separator: " ")
        guard parts.count == 3, let slot = Int(parts[1]), (0..<HashSlot.count).contains(slot),
            let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...])
        else { return nil }
        var host = String(parts[2][..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let address = RedisServerAddress(host: host, port: port)
        switch parts[0] {
        case "MOVED": self = .moved(HashSlot(slot), address)
        case "ASK": self = .ask(HashSlot(slot), address)
        default: return nil
        }
    }
}
