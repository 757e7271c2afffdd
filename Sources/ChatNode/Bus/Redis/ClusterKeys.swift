/// The names of every Redis key and channel a cluster uses, all under its
/// `--cluster` prefix so several clusters can share one Redis.
struct ClusterKeys: Sendable {
    let prefix: String

    /// Hash: nick key → `PresenceRecord` of the connection holding the nick.
    var users: String { "\(prefix):users" }
    /// List of recent `message` lines, newest first.
    var history: String { "\(prefix):history" }
    /// Set of the instances that announced themselves alive.
    var instances: String { "\(prefix):instances" }
    /// Channel of cluster-wide events (messages, joins, leaves).
    var events: String { "\(prefix):events" }

    /// String with a TTL that an instance refreshes while it lives.
    func alive(_ instance: String) -> String { "\(prefix):alive:\(instance)" }
    /// Channel of the direct messages for one instance's users.
    func inbox(_ instance: String) -> String { "\(prefix):inbox:\(instance)" }

    /// What a Redis ACL user must be allowed, for an operator who meets a refusal.
    static func accessNeeded(prefix: String) -> String {
        "an ACL user needs ~\(prefix):* &\(prefix):* +@connection +@read +@write +@pubsub +@scripting (and +role behind Sentinel)"
    }
}
