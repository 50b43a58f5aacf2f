--[[
  Stores one message of a roomsync room (seed 000 `msg`), and applies the namespace's retention.

  Input:
    KEYS[1] the room's insert list          ({nsp}:rs:h:<room>:ins)  RPUSH, synced in order
    KEYS[2] the room's update hash          ({nsp}:rs:h:<room>:upd)  msgId -> entry, last write wins
    KEYS[3] the room's update order         ({nsp}:rs:h:<room>:updz) msgId scored by write time (ms, strictly increasing)
    KEYS[4] the room's ignore list          ({nsp}:rs:h:<room>:ign)  kept apart, never synced
    KEYS[5] this call's mark                ({nsp}:rs:mk:<token>)    unique to the call
    ARGV[1] storage: 0 insert, 1 update, 2 ignore
    ARGV[2] msgId (storage 1)
    ARGV[3] the entry, JSON that starts with {"ts":<unix s>,
    ARGV[4] now (ms)
    ARGV[5] history_max_messages: most entries kept per list (and msgIds in the update hash)
    ARGV[6] history_max_age_s: entries older than this are dropped; every key of the room expires
            this long after its last write
    ARGV[7] how long the mark is kept, ms

  Output:
    the length of the list or hash written; -1 when this call ran before (its mark exists): the
    connector's connection sends a command again after a reconnect when its reply was lost, and
    an RPUSH run twice would store the message twice

  Effects:
    RPUSH (0, 2) or HSET + ZADD (1); then drops, oldest first, what is over the count or older than
    the age (at most 1000 aged entries per call, the rest on the next write); PEXPIRE on the
    room's keys that exist; SET the mark first (NX, ARGV[7] ms). One hash tag.
]]
if not redis.call('SET', KEYS[5], '1', 'NX', 'PX', ARGV[7]) then
  return -1
end
local storage = ARGV[1]
local max = tonumber(ARGV[5])
local now = tonumber(ARGV[4])
local ageMs = tonumber(ARGV[6]) * 1000
local oldestTs = math.floor((now - ageMs) / 1000)

local function trimList(key)
  local len = redis.call('LLEN', key)
  if len > max then
    redis.call('LTRIM', key, len - max, -1)
    len = max
  end
  for _ = 1, 1000 do
    local head = redis.call('LINDEX', key, 0)
    if not head then break end
    local ts = tonumber(string.match(head, '^{"ts":(%d+)'))
    if ts == nil or ts >= oldestTs then break end
    redis.call('LPOP', key)
    len = len - 1
  end
  return len
end

local written
if storage == '1' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  -- Scored by write time, strictly after the newest (writes within one millisecond keep their order).
  local score = now
  local top = redis.call('ZREVRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if top[2] and tonumber(top[2]) >= score then score = tonumber(top[2]) + 0.001 end
  redis.call('ZADD', KEYS[3], string.format('%.3f', score), ARGV[2])
  local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. (now - ageMs), 'LIMIT', 0, 1000)
  local count = redis.call('ZCARD', KEYS[3])
  if count - #old > max then
    local extra = redis.call('ZRANGE', KEYS[3], #old, #old + (count - #old - max) - 1)
    for _, id in ipairs(extra) do old[#old + 1] = id end
  end
  for _, id in ipairs(old) do
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
  end
  written = redis.call('HLEN', KEYS[2])
elseif storage == '2' then
  redis.call('RPUSH', KEYS[4], ARGV[3])
  written = trimList(KEYS[4])
else
  redis.call('RPUSH', KEYS[1], ARGV[3])
  written = trimList(KEYS[1])
end

for i = 1, 4 do
  redis.call('PEXPIRE', KEYS[i], ageMs)
end
return written
