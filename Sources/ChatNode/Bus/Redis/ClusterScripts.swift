import Redis

/// Lua scripts that make multi-step presence changes atomic in Redis, so
/// two nodes can never both win a nick or both announce the same `left`.
///
/// A room script takes the room's keys as `ClusterKeys.roomScriptKeys`
/// names them (members, channel, rooms, history, sequence) and the room's
/// name; a room's history expires `forgetAfter` seconds after its last
/// member left (never `lobby`'s), and is kept again when someone joins.
/// Every event a room script publishes carries the room's next sequence
/// number as its first field, `seq` (`numbered`).
enum ClusterScripts {
    /// `numbered(envelope, sequenceKey)`: the envelope with the room's next sequence number in front.
    private static let numbering = """
        local function numbered(envelope, sequenceKey)
          return '{"seq":' .. redis.call('INCR', sequenceKey) .. ',' .. string.sub(envelope, 2)
        end
        """

    /// Claims a nick (v3: into no room).
    /// KEYS: users. ARGV: nick key, presence record. Returns 1 when claimed, 0 when taken.
    static let claim = RedisScript("""
        return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
        """)

    /// The body that lists a member in a room and announces it (ARGV[1..5]
    /// and KEYS[k..k+4] as `joinRoom` names them, `k` the first room key).
    private static func joinBody(firstKey k: Int) -> String {
        """
        local previous = redis.call('HGET', KEYS[\(k)], ARGV[1])
        if previous == ARGV[2] then return 0 end
        redis.call('HSET', KEYS[\(k)], ARGV[1], ARGV[2])
        if not previous then redis.call('ZINCRBY', KEYS[\(k + 2)], 1, ARGV[4]) end
        redis.call('PERSIST', KEYS[\(k + 3)])
        redis.call('SADD', ARGV[5], ARGV[4])
        redis.call('PUBLISH', KEYS[\(k + 1)], numbered(ARGV[3], KEYS[\(k + 4)]))
        return 1
        """
    }

    /// Lists a member in a room and announces its `joined`; a member listed
    /// already with the same record changes nothing.
    /// KEYS: the room's keys. ARGV: nick key, presence record, joined
    /// envelope, room, the instance's rooms set. Returns 1 when listed.
    static let joinRoom = RedisScript(numbering + "\n" + joinBody(firstKey: 1))

    /// Claims a nick and lists it in `lobby` in one step (v1, v2 `hello`).
    /// KEYS: users, then lobby's room keys. ARGV: as `joinRoom`.
    /// Returns 1 when claimed, 0 when the nick is taken.
    static let claimIntoLobby = RedisScript("""
        \(numbering)
        if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
        \(joinBody(firstKey: 2))
        """)

    /// The body that unlists `removed` members of room ARGV[room] and
    /// keeps the room's count and its history's expiry right.
    private static let roomDepartureBody = """
        local function departed(removed, room, forgetAfter)
          local left = tonumber(redis.call('ZINCRBY', KEYS[3], -removed, room))
          if left <= 0 then redis.call('ZREM', KEYS[3], room) end
          if room ~= 'lobby' and redis.call('HLEN', KEYS[1]) == 0 then
            redis.call('EXPIRE', KEYS[4], forgetAfter)
          end
        end
        """

    /// Unlists a member from a room if this holder is still listed, and announces its `left`.
    /// KEYS: the room's keys. ARGV: nick key, presence record, left envelope, room, forget-after seconds.
    /// Returns 1 when unlisted.
    static let leaveRoom = RedisScript("""
        \(numbering)
        \(roomDepartureBody)
        if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
        redis.call('HDEL', KEYS[1], ARGV[1])
        departed(1, ARGV[4], ARGV[5])
        redis.call('PUBLISH', KEYS[2], numbered(ARGV[3], KEYS[5]))
        return 1
        """)

    /// Unlists many members of one room at once (a draining node) and
    /// announces them in one `left_many` message.
    /// KEYS: the room's keys. ARGV: the `left_many` envelope, room,
    /// forget-after seconds, then pairs of nick key and presence record.
    /// Returns the number unlisted.
    static let leaveRoomMany = RedisScript("""
        \(numbering)
        \(roomDepartureBody)
        local removed = 0
        for i = 4, #ARGV, 2 do
          if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
            redis.call('HDEL', KEYS[1], ARGV[i])
            removed = removed + 1
          end
        end
        if removed > 0 then
          departed(removed, ARGV[2], ARGV[3])
          redis.call('PUBLISH', KEYS[2], numbered(ARGV[1], KEYS[5]))
        end
        return removed
        """)

    /// Releases nicks whose holders are still these records.
    /// KEYS: users. ARGV: pairs of nick key and presence record. Returns the number released.
    static let release = RedisScript("""
        local released = 0
        for i = 1, #ARGV, 2 do
          if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
            redis.call('HDEL', KEYS[1], ARGV[i])
            released = released + 1
          end
        end
        return released
        """)

    /// Appends a chat line to its room's history and publishes it in one
    /// step, so the history and the event stream have the same order: the
    /// room's total order. Keeps the newest `retention` lines (the list is newest first).
    /// KEYS: history, channel, sequence. ARGV: message envelope, retention.
    /// Returns the number of nodes that received it.
    static let appendMessage = RedisScript("""
        \(numbering)
        local line = numbered(ARGV[1], KEYS[3])
        redis.call('LPUSH', KEYS[1], line)
        redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
        return redis.call('PUBLISH', KEYS[2], line)
        """)

    /// What a node that starts holding a room loads, at one point of the
    /// room's sequence: the number of the last event, the members and the history.
    /// KEYS: members, history, sequence. ARGV: how many lines.
    static let roomSnapshot = RedisScript("""
        return {
          tonumber(redis.call('GET', KEYS[3]) or '0'),
          redis.call('HGETALL', KEYS[1]),
          redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
        }
        """)

    /// Removes every user of a dead instance: from each room it had
    /// members in (announced with `node_down` in one `left_many` message
    /// per room, exactly once, whichever node runs it first), then its nicks.
    /// KEYS: users, instances, rooms. ARGV: dead instance, ts, key
    /// prefix, forget-after seconds. Returns the number of nicks released.
    static let reap = RedisScript("""
        local prefix = ARGV[3]
        local roomsOfInstance = prefix .. ':inst:' .. ARGV[1] .. ':rooms'
        for _, room in ipairs(redis.call('SMEMBERS', roomsOfInstance)) do
          local membersKey = prefix .. ':room:{' .. room .. '}:members'
          local all = redis.call('HGETALL', membersKey)
          local users = {}
          for i = 1, #all, 2 do
            local ok, record = pcall(cjson.decode, all[i + 1])
            if ok and record.inst == ARGV[1] then
              redis.call('HDEL', membersKey, all[i])
              users[#users + 1] = { nick = record.nick, owner = record.inst .. '/' .. record.conn }
            end
          end
          if #users > 0 then
            local left = tonumber(redis.call('ZINCRBY', KEYS[3], -#users, room))
            if left <= 0 then redis.call('ZREM', KEYS[3], room) end
            if room ~= 'lobby' and redis.call('HLEN', membersKey) == 0 then
              redis.call('EXPIRE', prefix .. ':room:{' .. room .. '}:history', ARGV[4])
            end
            local roomKey = prefix .. ':room:{' .. room .. '}:'
            redis.call('PUBLISH', roomKey .. 'events', cjson.encode({
              seq = redis.call('INCR', roomKey .. 'seq'),
              v = 1, origin = '', kind = 'left_many', room = room, users = users, ts = tonumber(ARGV[2]), reason = 'node_down'
            }))
          end
        end
        redis.call('DEL', roomsOfInstance)
        local all = redis.call('HGETALL', KEYS[1])
        local released = 0
        for i = 1, #all, 2 do
          local ok, record = pcall(cjson.decode, all[i + 1])
          if ok and record.inst == ARGV[1] then
            redis.call('HDEL', KEYS[1], all[i])
            released = released + 1
          end
        end
        redis.call('SREM', KEYS[2], ARGV[1])
        return released
        """)

    /// Renames a history from before rooms to `lobby`'s, unless `lobby` has one.
    /// KEYS: the old history, lobby's history. Returns 1 when renamed.
    static let adoptHistoryBeforeRooms = RedisScript(
        "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('RENAMENX', KEYS[1], KEYS[2]) end return 0"
    )

    /// Every script, for the command connection to load whenever it connects.
    static let all = [adoptHistoryBeforeRooms, claim, joinRoom, claimIntoLobby, leaveRoom, leaveRoomMany, release, appendMessage, roomSnapshot, reap]
}
