import Redis

/// Lua scripts that make multi-step presence changes atomic in Redis, so
/// two nodes can never both win a nick or both announce the same `left`.
///
/// A room script takes the room's keys as `ClusterKeys.roomScriptKeys`
/// names them (members, channel, history, sequence: one hash slot) and the
/// room's name; a room's history and sequence expire `forgetAfter` seconds
/// after its last member left (never `lobby`'s), and are kept again when
/// someone joins, so a forgotten room leaves no key behind. Every event a
/// room script publishes carries the room's next sequence number as its
/// first field, `seq` (`numbered`). A script that
/// changes a room's members answers `{changed, count, seq, room}`
/// (`RoomChange`), which the node then writes to the room directory
/// (`roomCount`): that key lives in another slot.
enum ClusterScripts {
    /// `numbered(envelope, sequenceKey)`: the envelope with the room's next
    /// sequence number in front; `sequence` keeps the number. A room's first
    /// number is its first event's `ts` (milliseconds) × 1000, so a room
    /// forgotten and used again numbers its events above the ones before,
    /// which the room directory may still remember (`roomCount`). The time
    /// comes from the envelope, not Redis's `TIME`, which the documented ACL
    /// rules do not allow. Numbers are written with `%d`: Lua would write
    /// one of 16 digits as `1.7e+15`.
    private static let numbering = """
        local sequence = 0
        local function numbered(envelope, sequenceKey)
          sequence = redis.call('INCR', sequenceKey)
          if sequence == 1 then
            local ts = tonumber(string.match(envelope, '"ts":(%d+)'))
            if ts then
              sequence = ts * 1000
              redis.call('SET', sequenceKey, string.format('%d', sequence))
            end
          end
          return '{"seq":' .. string.format('%d', sequence) .. ',' .. string.sub(envelope, 2)
        end
        """

    /// Records of a logged-in user (§7: with `sub`) may list several
    /// holders, one per connection: the first in the record's own `inst`,
    /// `node` and `conn`, the others in `more`. A record without `sub` has
    /// exactly one holder and is compared by its bytes.
    /// `sameUser(stored, argument)`: the decoded stored record when both
    /// records are the same logged-in user's, else nil.
    /// `withHolder(record, holder)`: the record with `holder`'s connection added.
    /// `withoutHolders(record, gone)`: the record without the holders for
    /// which `gone(holder)` is true (the first kept one moves up), nil when
    /// none is left, and how many were removed.
    /// `ownerOf(record)`: the owner events name: the user, or the connection.
    /// `releaseHolders(record, gone)`: for the nick at KEYS[1], removes the
    /// holders `gone` picks; 1 when the nick was released with its last.
    private static let holders = """
        local function sameUser(stored, argument)
          if not stored then return nil end
          local ok1, a = pcall(cjson.decode, stored)
          local ok2, b = pcall(cjson.decode, argument)
          if ok1 and ok2 and type(a.sub) == 'string' and a.sub == b.sub then return a, b end
          return nil
        end
        local function holderID(h) return h.inst .. '/' .. h.conn end
        local function withHolder(record, holder)
          if holderID(record) == holderID(holder) then return record end
          record.more = record.more or {}
          for _, other in ipairs(record.more) do
            if holderID(other) == holderID(holder) then return record end
          end
          record.more[#record.more + 1] = { inst = holder.inst, node = holder.node, conn = holder.conn }
          return record
        end
        local function withoutHolders(record, gone)
          local kept = {}
          local all = { { inst = record.inst, node = record.node, conn = record.conn } }
          for _, other in ipairs(record.more or {}) do all[#all + 1] = other end
          for _, holder in ipairs(all) do
            if not gone(holder) then kept[#kept + 1] = holder end
          end
          local removed = #all - #kept
          if #kept == 0 then return nil, removed end
          record.inst, record.node, record.conn = kept[1].inst, kept[1].node, kept[1].conn
          table.remove(kept, 1)
          if #kept > 0 then record.more = kept else record.more = nil end
          return record, removed
        end
        local function ownerOf(record)
          if type(record.sub) == 'string' then return '~' .. record.sub end
          return record.inst .. '/' .. record.conn
        end
        local function releaseHolders(record, gone)
          local left, removed = withoutHolders(record, gone)
          if removed == 0 then return 0 end
          if left then
            redis.call('SET', KEYS[1], cjson.encode(left))
            return 0
          end
          redis.call('DEL', KEYS[1])
          return 1
        end
        """

    /// Claims a nick (v3: into no room); a logged-in user's nick takes
    /// another connection of the same user as a further holder.
    /// KEYS: the nick. ARGV: presence record. Returns 1 when claimed, 0 when taken.
    static let claim = RedisScript("""
        \(holders)
        if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 1 end
        local stored, mine = sameUser(redis.call('GET', KEYS[1]), ARGV[1])
        if not stored then return 0 end
        redis.call('SET', KEYS[1], cjson.encode(withHolder(stored, mine)))
        return 1
        """)

    /// The body that lists a member in a room and announces it (ARGV[1..4]
    /// and KEYS[k..k+3] as `joinRoom` names them, `k` the first room key).
    private static func joinBody(firstKey k: Int) -> String {
        """
        local previous = redis.call('HGET', KEYS[\(k)], ARGV[1])
        if previous == ARGV[2] then return {0, 0, 0, ARGV[4]} end
        local listed, mine = sameUser(previous, ARGV[2])
        if listed then
          -- Another connection of a user the room lists already: no news for the others.
          redis.call('HSET', KEYS[\(k)], ARGV[1], cjson.encode(withHolder(listed, mine)))
          redis.call('PERSIST', KEYS[\(k + 2)])
          redis.call('PERSIST', KEYS[\(k + 3)])
          return {0, redis.call('HLEN', KEYS[\(k)]), 0, ARGV[4]}
        end
        redis.call('HSET', KEYS[\(k)], ARGV[1], ARGV[2])
        redis.call('PERSIST', KEYS[\(k + 2)])
        redis.call('PERSIST', KEYS[\(k + 3)])
        redis.call('PUBLISH', KEYS[\(k + 1)], numbered(ARGV[3], KEYS[\(k + 3)]))
        return {1, redis.call('HLEN', KEYS[\(k)]), sequence, ARGV[4]}
        """
    }

    /// Lists a member in a room and announces its `joined`; a member listed
    /// already with the same record changes nothing.
    /// KEYS: the room's keys. ARGV: nick key, presence record, joined
    /// envelope, room. Returns a room change (changed 1 when listed).
    static let joinRoom = RedisScript(numbering + "\n" + holders + "\n" + joinBody(firstKey: 1))

    /// Claims a nick and lists it in `lobby` in one step (v1, v2 `hello`).
    /// KEYS: the nick, then lobby's room keys. ARGV: as `joinRoom`.
    /// Returns 0 when the nick is taken, else lobby's room change. (One
    /// Redis only: on a Redis Cluster the nick and `lobby` are in two slots.)
    static let claimIntoLobby = RedisScript("""
        \(numbering)
        \(holders)
        if not redis.call('SET', KEYS[1], ARGV[2], 'NX') then
          local stored, mine = sameUser(redis.call('GET', KEYS[1]), ARGV[2])
          if not stored then return 0 end
          redis.call('SET', KEYS[1], cjson.encode(withHolder(stored, mine)))
        end
        \(joinBody(firstKey: 2))
        """)

    /// The body that, after members of room `room` were unlisted, starts
    /// the expiry of its history and sequence when it is empty; answers the room change.
    private static let roomDepartureBody = """
        local function departed(removed, room, forgetAfter)
          local count = redis.call('HLEN', KEYS[1])
          if room ~= 'lobby' and count == 0 then
            redis.call('EXPIRE', KEYS[3], forgetAfter)
            redis.call('EXPIRE', KEYS[4], forgetAfter)
          end
          return {removed, count, sequence, room}
        end
        """

    /// Unlists a member from a room if this holder is still listed, and announces its `left`.
    /// KEYS: the room's keys. ARGV: nick key, presence record, left envelope, room, forget-after seconds.
    /// Returns a room change (changed 1 when unlisted).
    static let leaveRoom = RedisScript("""
        \(numbering)
        \(holders)
        \(roomDepartureBody)
        local stored = redis.call('HGET', KEYS[1], ARGV[1])
        if stored ~= ARGV[2] then
          local listed, mine = sameUser(stored, ARGV[2])
          if not listed then return {0, 0, 0, ARGV[4]} end
          local left, removed = withoutHolders(listed, function(h) return holderID(h) == holderID(mine) end)
          if removed == 0 then return {0, 0, 0, ARGV[4]} end
          if left then
            -- The user is still here through another connection.
            redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(left))
            return {0, 0, 0, ARGV[4]}
          end
        end
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('PUBLISH', KEYS[2], numbered(ARGV[3], KEYS[4]))
        return departed(1, ARGV[4], ARGV[5])
        """)

    /// Unlists many members of one room at once (a draining node) and
    /// announces those who left in one `left_many` message (a logged-in
    /// user still here through another node's connection stays).
    /// KEYS: the room's keys. ARGV: origin, room, forget-after seconds,
    /// ts, reason, then pairs of nick key and presence record.
    /// Returns a room change (changed: the number unlisted).
    static let leaveRoomMany = RedisScript("""
        \(numbering)
        \(holders)
        \(roomDepartureBody)
        local users = {}
        for i = 6, #ARGV, 2 do
          local stored = redis.call('HGET', KEYS[1], ARGV[i])
          local ok, record = pcall(cjson.decode, ARGV[i + 1])
          if stored == ARGV[i + 1] then
            redis.call('HDEL', KEYS[1], ARGV[i])
            users[#users + 1] = { nick = record.nick, owner = ownerOf(record) }
          else
            local listed, mine = sameUser(stored, ARGV[i + 1])
            if listed then
              local left, removed = withoutHolders(listed, function(h) return holderID(h) == holderID(mine) end)
              if removed > 0 and left then
                redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(left))
              elseif removed > 0 then
                redis.call('HDEL', KEYS[1], ARGV[i])
                users[#users + 1] = { nick = listed.nick, owner = ownerOf(listed) }
              end
            end
          end
        end
        if #users == 0 then return {0, 0, 0, ARGV[2]} end
        redis.call('PUBLISH', KEYS[2], numbered(cjson.encode({
          v = 1, origin = ARGV[1], kind = 'left_many', room = ARGV[2], users = users, ts = tonumber(ARGV[4]), reason = ARGV[5]
        }), KEYS[4]))
        return departed(#users, ARGV[2], ARGV[3])
        """)

    /// Releases a nick if its holder is still this record; a logged-in
    /// user's nick only loses this connection, and is released with its last.
    /// KEYS: the nick. ARGV: presence record. Returns 1 when released.
    static let release = RedisScript("""
        \(holders)
        local stored = redis.call('GET', KEYS[1])
        if stored == ARGV[1] then
          redis.call('DEL', KEYS[1])
          return 1
        end
        local held, mine = sameUser(stored, ARGV[1])
        if not held then return 0 end
        return releaseHolders(held, function(h) return holderID(h) == holderID(mine) end)
        """)

    /// Removes a (dead) instance's connections from a nick's holders, and
    /// releases the nick when none is left.
    /// KEYS: the nick. ARGV: instance. Returns 1 when released.
    static let releaseOfInstance = RedisScript("""
        \(holders)
        local stored = redis.call('GET', KEYS[1])
        if not stored then return 0 end
        local ok, record = pcall(cjson.decode, stored)
        if not ok then return 0 end
        return releaseHolders(record, function(h) return h.inst == ARGV[1] end)
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

    /// Appends a server API line to an existing room's history and
    /// publishes it, as `appendMessage` does a member's line.
    /// A room without members forgets its history and sequence `forgetAfter` seconds after this line.
    /// KEYS: the room's keys. ARGV: message envelope, retention, room, forget-after seconds.
    /// Returns -1 when the room does not exist (no members, no history, not `lobby`), else the receivers.
    static let appendServerMessage = RedisScript("""
        \(numbering)
        if ARGV[3] ~= 'lobby' and redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
        local line = numbered(ARGV[1], KEYS[4])
        redis.call('LPUSH', KEYS[3], line)
        redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[2]) - 1)
        if redis.call('EXISTS', KEYS[1]) == 0 and ARGV[3] ~= 'lobby' then
          redis.call('EXPIRE', KEYS[3], ARGV[4])
          redis.call('EXPIRE', KEYS[4], ARGV[4])
        end
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

    /// What a node whose channel of a room was cut reads to catch the room
    /// up: the number of the last event, the members, and the lines newer
    /// than the newest one the node has (all kept lines when it has none, or
    /// when that line is gone), read 50 at a time so the cost follows what was missed.
    /// KEYS: members, history, sequence. ARGV: how many lines at most, the id of the newest line known ('' for none).
    static let roomCatchUp = RedisScript("""
        local limit = tonumber(ARGV[1])
        local known = nil
        if ARGV[2] ~= '' then known = '"id":"' .. ARGV[2] .. '"' end
        local lines = {}
        local start = 0
        while start < limit do
          local chunk = redis.call('LRANGE', KEYS[2], start, math.min(start + 49, limit - 1))
          for i = 1, #chunk do
            if known and string.find(chunk[i], known, 1, true) then start = limit break end
            lines[#lines + 1] = chunk[i]
          end
          if #chunk < 50 then break end
          start = start + 50
        end
        return { tonumber(redis.call('GET', KEYS[3]) or '0'), redis.call('HGETALL', KEYS[1]), lines }
        """)

    /// Removes a dead instance's users from one room, announced with
    /// `node_down` in one `left_many` message, exactly once, whichever node
    /// runs it first.
    /// KEYS: the room's keys. ARGV: dead instance, ts, room, forget-after seconds.
    /// Returns a room change (changed: the number of members removed).
    static let reapRoom = RedisScript("""
        \(numbering)
        \(holders)
        \(roomDepartureBody)
        local all = redis.call('HGETALL', KEYS[1])
        local users = {}
        for i = 1, #all, 2 do
          local ok, record = pcall(cjson.decode, all[i + 1])
          if ok then
            local owner = ownerOf(record)
            local left, removed = withoutHolders(record, function(h) return h.inst == ARGV[1] end)
            if removed > 0 and left then
              redis.call('HSET', KEYS[1], all[i], cjson.encode(left))
            elseif removed > 0 then
              redis.call('HDEL', KEYS[1], all[i])
              users[#users + 1] = { nick = record.nick, owner = owner }
            end
          end
        end
        if #users == 0 then return {0, 0, 0, ARGV[3]} end
        redis.call('PUBLISH', KEYS[2], numbered(cjson.encode({
          v = 1, origin = '', kind = 'left_many', room = ARGV[3], users = users, ts = tonumber(ARGV[2]), reason = 'node_down'
        }), KEYS[4]))
        return departed(#users, ARGV[3], ARGV[4])
        """)

    /// Writes a room's member count to the room directory (`room_list`),
    /// unless a write of a later event of the room got there first (the
    /// writes of different nodes may arrive in any order). An empty room's
    /// number is kept for `forgetAfter` seconds, far longer than a late
    /// write takes, and then goes with the room.
    /// KEYS: the directory's counts, the room's number there. ARGV: room, count, seq, forget-after seconds.
    /// Returns 1 when written.
    static let roomCount = RedisScript("""
        if tonumber(ARGV[3]) <= tonumber(redis.call('GET', KEYS[2]) or '0') then return 0 end
        if tonumber(ARGV[2]) > 0 then
          redis.call('SET', KEYS[2], ARGV[3])
          redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
        else
          redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
          redis.call('ZREM', KEYS[1], ARGV[1])
        end
        return 1
        """)

    /// Renames a history from before rooms to `lobby`'s, unless `lobby` has one.
    /// KEYS: the old history, lobby's history. Returns 1 when renamed.
    static let adoptHistoryBeforeRooms = RedisScript(
        "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('RENAMENX', KEYS[1], KEYS[2]) end return 0"
    )

    /// The variant of `script` for a Redis Cluster: events go out by sharded
    /// pub/sub (`SPUBLISH`), within the shard of the channel's slot.
    static func sharded(_ script: RedisScript) -> RedisScript {
        shardedVariants[script.sha1] ?? script
    }

    private static let shardedVariants: [String: RedisScript] = Dictionary(
        uniqueKeysWithValues: all.map { ($0.sha1, RedisScript($0.source.replacingOccurrences(of: "'PUBLISH'", with: "'SPUBLISH'"))) }
    )

    /// Every script's Redis Cluster variant, for the connections to load.
    static let allSharded = all.map(sharded)

    /// Every script, for the command connection to load whenever it connects.
    static let all = [
        adoptHistoryBeforeRooms, claim, joinRoom, claimIntoLobby, leaveRoom, leaveRoomMany, release, releaseOfInstance, appendMessage,
        roomSnapshot, roomCatchUp, reapRoom, roomCount, appendServerMessage,
    ]
}
