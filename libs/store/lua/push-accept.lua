--[[
  Accepts pushes of one namespace in one call: checks the caller's failed-authentication limit and
  its idempotency key, stores each push (message hash = delivery report, history entry, push
  counters), counts its audience (`expectAckCount`) and, on a single Redis, publishes it to the
  connectors. One round trip per push, or per batch; and no window where a push is stored but its
  publish was never attempted.

  Input (a variable number of keys; KEYS[1..2] fixed, the others named by index in ARGV, 0 = none):
    KEYS[1] message id counter of the namespace      ({nsp}:seq)
    KEYS[2] history list of the namespace            ({nsp}:hist)
    KEYS[i] failed authentications of the caller      (authfail:<address>, single Redis only)
    KEYS[i] idempotency record                        ({nsp}:idem:<key>)
    KEYS[i] online set of a push's room               ({nsp|room}:on, single Redis only)

    ARGV[1]  prefix of message hash keys, same tag    ({nsp}:m:)
    ARGV[2]  history length kept
    ARGV[3]  prefix of the push counters, same tag    ({nsp}:stat:)
    ARGV[4..6] current minute, hour and day (UTC): counters m:<minute> (TTL 1 h), h:<hour>
             (TTL 1 day), d:<day> (TTL 100 days)
    ARGV[7]  index in KEYS of the failed-authentication counter, 0 = not checked here
    ARGV[8]  failed authentications at which the caller is refused
    ARGV[9]  index in KEYS of the idempotency record, 0 = no idempotency key
    ARGV[10] digest of the request body (compared with the record's)
    ARGV[11] time to live of the idempotency record, seconds
    ARGV[12] number of pushes n, then n groups of:
               ttl      time to live of the message, seconds
               roomKey  index in KEYS of the room's online set, 0 = audience counted by the caller
               audience clientId not counted (`except`, '' = none) when roomKey > 0, else the count
               channel  PUBLISH channel, '' = not published here (the caller publishes, or no one)
               head     the packet up to the message id (the caller encodes it: this script knows
               tail     nothing of its shape) and the packet after the id
               nfields  number of field, value pairs that follow for the message hash
               fields   (the `id` field is added here)

  Output, a flat array whose first element says what happened:
    {'limited'}                       the caller is over its failed-authentication limit
    {'conflict'}                      the idempotency key was used with another body
    {'replay', record, done1, ...}    the key was used with this body: `record` as stored by the
                                      first call, `doneK` 1 when the K-th message's offline step
                                      already ran (its report has an `offline` field), else 0
    {'ok', id1, count1, pub1, ...}    accepted; `pubK` = subscribers reached, -1 when not published
                                      here, or the error text of a refused PUBLISH (the push stays
                                      accepted: the offline step re-delivers a lost live copy)

  Effects: nothing unless 'ok'. Then per push INCR the counter; HSET and EXPIRE the message hash
  (only the push's own fields: the report counters start absent, HINCRBY creates them);
  LPUSH the id on the history and LTRIM it; INCR the three counters; PUBLISH head..id..tail. With an
  idempotency key, SET the record `<digest> <id>:<count>,...` with its TTL, in the same call, so a
  retry after a crash of the caller finds it. The writes come after every check.
  On Redis Cluster the caller passes only {nsp} keys (no room sets, no failed-authentication
  counter, no channel), so every key of a call shares one slot.
]]
if ARGV[7] ~= '0' then
  local failures = tonumber(redis.call('GET', KEYS[tonumber(ARGV[7])]) or '0')
  if failures >= tonumber(ARGV[8]) then return {'limited'} end
end

local idem = tonumber(ARGV[9])
if idem > 0 then
  local record = redis.call('GET', KEYS[idem])
  if record then
    local space = string.find(record, ' ', 1, true)
    if string.sub(record, 1, space - 1) ~= ARGV[10] then return {'conflict'} end
    local out = {'replay', record}
    for id in string.gmatch(string.sub(record, space + 1), '(%d+):') do
      out[#out + 1] = redis.call('HEXISTS', ARGV[1] .. id, 'offline')
    end
    return out
  end
end

-- Numbers reach Redis as strings formatted once with %d: Lua turns a number into text with
-- %.14g, libc's float printing, at every concatenation and every redis.call argument (some 6 % of
-- Redis' time at S3's ceiling went to it).
local out = {'ok'}
local accepted = {}
local n = 0
local at = 13
for _ = 1, tonumber(ARGV[12]) do
  local ttl, roomKey, audience = ARGV[at], tonumber(ARGV[at + 1]), ARGV[at + 2]
  local channel, head, tail, nfields = ARGV[at + 3], ARGV[at + 4], ARGV[at + 5], tonumber(ARGV[at + 6])
  at = at + 7

  local id = redis.call('INCR', KEYS[1])
  local sid = string.format('%d', id)
  local key = ARGV[1] .. sid
  local fields = {'id', sid}
  for i = at, at + 2 * nfields - 1 do
    fields[#fields + 1] = ARGV[i]
  end
  at = at + 2 * nfields
  redis.call('HSET', key, unpack(fields))
  redis.call('EXPIRE', key, ttl)
  redis.call('LPUSH', KEYS[2], sid)

  local count
  if roomKey > 0 then
    count = redis.call('SCARD', KEYS[roomKey])
    if audience ~= '' then count = count - redis.call('SISMEMBER', KEYS[roomKey], audience) end
  else
    count = tonumber(audience)
  end

  local published = -1
  if channel ~= '' then
    -- pcall: a refused PUBLISH (ACL, ...) must not abort a script that already wrote.
    local reply = redis.pcall('PUBLISH', channel, head .. sid .. tail)
    if type(reply) == 'table' and reply.err then published = reply.err else published = reply end
  end
  out[#out + 1] = id
  out[#out + 1] = count
  out[#out + 1] = published
  n = n + 1
  if idem > 0 then accepted[n] = sid .. ':' .. string.format('%d', count) end
end

redis.call('LTRIM', KEYS[2], '0', string.format('%d', tonumber(ARGV[2]) - 1))
local sn = string.format('%d', n)
local periods = {{'m:' .. ARGV[4], '3600'}, {'h:' .. ARGV[5], '86400'}, {'d:' .. ARGV[6], '8640000'}}
for _, period in ipairs(periods) do
  local counter = ARGV[3] .. period[1]
  if redis.call('INCRBY', counter, sn) == n then
    redis.call('EXPIRE', counter, period[2])
  end
end
if idem > 0 then
  redis.call('SET', KEYS[idem], ARGV[10] .. ' ' .. table.concat(accepted, ','), 'EX', ARGV[11])
end
return out
