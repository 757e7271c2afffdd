/// A change of one shard of a Redis Cluster, as the cluster's client or
/// subscriber sees it: its master became unreachable, or its slots are
/// served again (the master is back, or a promoted replica took over).
/// Only what lives in that shard's slots is affected.
public enum ShardChange: Sendable, Equatable {
    case lost(RedisServerAddress)
    case recovered(RedisServerAddress)
}
