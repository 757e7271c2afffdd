/// Lua scripts that make multi-step presence changes atomic in Redis, so
/// two nodes can never both win a nick or both announce the same `left`.
enum ClusterScripts {
    /// Claims a nick and announces it in one step.
    /// KEYS: users, events. ARGV: nick key, presence record, joined envelope.
    /// Returns 1 when claimed, 0 when the nick is taken.
    static let claim = """
        if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
          redis.call('PUBLISH', KEYS[2], ARGV[3])
          return 1
        end
        return 0
        """

    /// Appends a chat line to the history and publishes it in one step, so
    /// the history and the event stream have the same order: the cluster's
    /// total order. Keeps the newest `retention` lines (the list is newest first).
    /// KEYS: history, events. ARGV: message envelope, retention.
    /// Returns the number of nodes that received it.
    static let appendMessage = """
        redis.call('LPUSH', KEYS[1], ARGV[1])
        redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
        return redis.call('PUBLISH', KEYS[2], ARGV[1])
        """

    /// Releases a nick only if this holder still has it, and announces it.
    /// KEYS: users, events. ARGV: nick key, presence record, left envelope.
    /// Returns 1 when released.
    static let release = """
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
          redis.call('HDEL', KEYS[1], ARGV[1])
          redis.call('PUBLISH', KEYS[2], ARGV[3])
          return 1
        end
        return 0
        """

    /// Releases many nicks of one instance at once (a draining node) and
    /// announces them in one `left_many` message.
    /// KEYS: users, events. ARGV: the `left_many` envelope, then pairs of
    /// nick key and presence record. Returns the number released.
    static let releaseMany = """
        local released = 0
        for i = 2, #ARGV, 2 do
          if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
            redis.call('HDEL', KEYS[1], ARGV[i])
            released = released + 1
          end
        end
        if released > 0 then
          redis.call('PUBLISH', KEYS[2], ARGV[1])
        end
        return released
        """

    /// Removes every user of a dead instance and announces them with
    /// `node_down` in one `left_many` message, exactly once, whichever node
    /// runs it first.
    /// KEYS: users, events, instances. ARGV: dead instance, ts.
    /// Returns the number of users removed.
    static let reap = """
        local all = redis.call('HGETALL', KEYS[1])
        local users = {}
        for i = 1, #all, 2 do
          local ok, record = pcall(cjson.decode, all[i + 1])
          if ok and record.inst == ARGV[1] then
            redis.call('HDEL', KEYS[1], all[i])
            users[#users + 1] = { nick = record.nick, owner = record.inst .. '/' .. record.conn }
          end
        end
        if #users > 0 then
          redis.call('PUBLISH', KEYS[2], cjson.encode({
            v = 1, origin = '', kind = 'left_many', users = users, ts = tonumber(ARGV[2]), reason = 'node_down'
          }))
        end
        redis.call('SREM', KEYS[3], ARGV[1])
        return #users
        """
}
