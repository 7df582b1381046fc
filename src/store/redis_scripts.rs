//! The Lua scripts of the Redis store: each is one atomic step over the keys it is given, all
//! named in KEYS and all in one hash slot, so a Redis Cluster runs them as one Redis does.

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

/// A dropped session: its frames wait ARGV[1] seconds (the keys ARGV[2] more), and its
/// deadline (KEYS[3], in the session's slot) is set; returns the deadline (ms, Redis's clock)
/// for the deadlines index, or nothing if no frame waits.
pub(super) const RELEASE_UNACKED_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local keep = tonumber(ARGV[1]) + tonumber(ARGV[2])
local due = now + tonumber(ARGV[1]) * 1000
redis.call('EXPIRE', KEYS[1], keep)
redis.call('EXPIRE', KEYS[2], keep)
redis.call('SET', KEYS[3], due, 'EX', keep)
return due
";

/// The deadlines index (KEYS[1]): up to 100 sessions whose grace has ended, each followed by
/// its deadline as stored (so [`FORGET_DUE_SCRIPT`] can tell whether it changed since).
pub(super) const DUE_UNACKED_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, 100)
";

/// One session whose grace may have ended: if its deadline (KEYS[3]) is still there and past,
/// drops its frames (KEYS[1]) and sent ids (KEYS[2]) and returns how many frames expired;
/// -1 if it was resumed or swept already, -2 if it was released again and is not due yet.
/// Every key is the session's, in one slot: the sweep builds no key name here, so a Cluster
/// can run it, and two replicas sweeping at once count each frame once.
pub(super) const SWEEP_SESSION_SCRIPT: &str = r"
local due = redis.call('GET', KEYS[3])
if not due then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(due) > now then return -2 end
local frames = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return frames
";

/// Removes session ARGV[1] from the deadlines index (KEYS[1]) unless its deadline changed
/// from ARGV[2] (released again meanwhile: the sweep looks again then).
pub(super) const FORGET_DUE_SCRIPT: &str = r"
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
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
