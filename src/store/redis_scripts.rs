//! The Lua scripts of the Redis store: each is one atomic step over the keys it is given.

/// Notes ids as written to a connection, for as long as the frames themselves live.
pub(super) const MARK_SENT_SCRIPT: &str = r"
redis.call('SADD', KEYS[2], unpack(ARGV))
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) else redis.call('DEL', KEYS[2]) end
";

/// Removes the entry `id:...` (ARGV[1]); returns 1 if there was one.
pub(super) const ACK_SCRIPT: &str = r"
local prefix = ARGV[1] .. ':'
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.sub(entry, 1, #prefix) == prefix then
    redis.call('LREM', KEYS[1], 1, entry)
    redis.call('SREM', KEYS[2], ARGV[1])
    return 1
  end
end
return 0
";

/// A dropped session: its frames wait ARGV[1] seconds (the keys ARGV[2] more), and the
/// session goes into the deadlines set the sweep reads.
pub(super) const RELEASE_UNACKED_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local keep = tonumber(ARGV[1]) + tonumber(ARGV[2])
redis.call('EXPIRE', KEYS[1], keep)
redis.call('EXPIRE', KEYS[2], keep)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[1]) * 1000, ARGV[3])
";

/// Drops the frames of sessions whose grace ended without a resume; returns how many. The
/// frame lists' names are built here from the prefix (ARGV[1]): the store has one Redis, not a
/// cluster, so every key is on it.
pub(super) const SWEEP_UNACKED_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local total = 0
for _, s in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)) do
  total = total + redis.call('LLEN', ARGV[1] .. 'o:' .. s)
  redis.call('DEL', ARGV[1] .. 'o:' .. s, ARGV[1] .. 'os:' .. s)
  redis.call('ZREM', KEYS[1], s)
end
return total
";

/// Checks a typed code (as digest) against the held one: a match releases the grant, a miss
/// uses an attempt, the last miss ends the attempt. Returns {outcome, payload}.
pub(super) const CONFIRM_SCRIPT: &str = r"
local code = redis.call('HGET', KEYS[1], 'c')
if not code then return {0, ''} end
if code == ARGV[1] then
  local g = redis.call('HGET', KEYS[1], 'g')
  redis.call('DEL', KEYS[1])
  return {1, g}
end
local left = redis.call('HINCRBY', KEYS[1], 'a', -1)
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return {2, ''}
end
return {3, left}
";

/// Takes the awaited sign-in (KEYS[1]) if it was due by ARGV[1] (the caller's clock, in ms):
/// {2, sealed record}; else {1, due time}; {0, ''} when there is none.
pub(super) const TAKE_DUE_SIGNIN_SCRIPT: &str = r"
local due = redis.call('HGET', KEYS[1], 'd')
if not due then return {0, ''} end
if tonumber(due) > tonumber(ARGV[1]) then return {1, tonumber(due)} end
local v = redis.call('HGET', KEYS[1], 'v')
redis.call('DEL', KEYS[1])
return {2, v}
";

/// Keeps a session's location record (KEYS[1]) naming this connection (ARGV[1]) for ARGV[2]
/// seconds more (returns 1), or records it again when it vanished (expired during an outage,
/// lost in a failover; returns 2). Returns 0, changing nothing, when it names another
/// connection: the session was resumed there.
pub(super) const REFRESH_LOCATION_SCRIPT: &str = r"
local here = redis.call('GET', KEYS[1])
if here and here ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if here then return 1 end
return 2
";

/// Forgets a session's location record (KEYS[1]) if it still names this connection (ARGV[1]).
pub(super) const RELEASE_LOCATION_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
";
